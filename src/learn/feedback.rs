//! Feedback tables, in CSV, TSV, Parquet or JSON (read like catalogs, so
//! every row has a locator such as `file.csv:12`), of one of two kinds told
//! apart by their columns:
//!
//! * **image ratings**: `image_id`, `valence` and `arousal` on the
//!   Self-Assessment Manikin's 1–9 scales (as in `models/ratings/`), and
//!   optionally `labels`: moods and themes of the mood space that the
//!   person sees, separated by `,`, `|` or `;`;
//! * **reactions** to a run's picks: `image_id`, `track_id` and either
//!   `liked` (true/false, yes/no, 1/0, like/dislike) or `rating` (1–5).
//!
//! Every problem is an error naming the row: unknown ids, values out of
//! range, missing cells. Learning from a file with bad rows would fit
//! something nobody asked for, so the file is rejected, not filtered.

use std::path::Path;

use crate::catalog::read::{Cell, for_each_row, format_of};
use crate::engine::mood::{self, head::output_dims};
use crate::error::{Error, Result};

/// One person's reading of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRating {
    pub image_id: String,
    /// 1–9.
    pub valence: f32,
    /// 1–9.
    pub arousal: f32,
    /// Mood and theme dimensions the person named; `None` when the table
    /// has no `labels` column (then labels are not learned).
    pub labels: Option<Vec<usize>>,
    pub locator: String,
}

/// One reaction to one pick.
#[derive(Clone, Debug, PartialEq)]
pub struct Reaction {
    pub image_id: String,
    pub track_id: String,
    pub response: Response,
    pub locator: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Response {
    Liked(bool),
    /// 1–5.
    Rating(f32),
}

/// A whole feedback file.
#[derive(Clone, Debug, PartialEq)]
pub enum Feedback {
    Ratings(Vec<ImageRating>),
    Reactions(Vec<Reaction>),
}

impl Feedback {
    pub fn len(&self) -> usize {
        match self {
            Feedback::Ratings(r) => r.len(),
            Feedback::Reactions(r) => r.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Feedback::Ratings(_) => "image ratings",
            Feedback::Reactions(_) => "reactions",
        }
    }
}

/// Reads and checks the feedback file at `path`.
pub fn read(path: &Path) -> Result<Feedback> {
    let format = format_of(path, None)?;
    let name = path.display().to_string();
    let mut ratings = Vec::new();
    let mut reactions = Vec::new();
    let mut failure: Option<Error> = None;
    let mut kind: Option<Kind> = None;
    for_each_row(path, format, &mut |header, row| {
        let k = match kind {
            Some(k) => k,
            None => match Kind::of(header) {
                Ok(k) => *kind.insert(k),
                Err(message) => {
                    failure = Some(Error::input(path, message));
                    return false;
                }
            },
        };
        let parsed = match k {
            Kind::Ratings { id, valence, arousal, labels } => {
                rating(&row.cells, id, valence, arousal, labels, &row.locator).map(|r| ratings.push(r))
            }
            Kind::Reactions { id, track, response } => {
                reaction(&row.cells, id, track, response, &row.locator).map(|r| reactions.push(r))
            }
        };
        match parsed {
            Ok(()) => true,
            Err(message) => {
                failure = Some(Error::input(path, format!("{}: {message}", place(&row.locator, &name))));
                false
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    match kind {
        Some(Kind::Ratings { .. }) => Ok(Feedback::Ratings(ratings)),
        Some(Kind::Reactions { .. }) => Ok(Feedback::Reactions(reactions)),
        None => Err(Error::input(path, "no rows")),
    }
}

/// Where in the file a row is, without the file's name: `line 12` for
/// text tables, `row 12` or `element 12` for the others.
fn place(locator: &str, name: &str) -> String {
    let at = locator.strip_prefix(name).unwrap_or(locator).trim_start_matches([':', ' ']);
    if at.chars().all(|c| c.is_ascii_digit()) { format!("line {at}") } else { at.to_string() }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Ratings { id: usize, valence: usize, arousal: usize, labels: Option<usize> },
    Reactions { id: usize, track: usize, response: ResponseColumn },
}

#[derive(Clone, Copy, Debug)]
enum ResponseColumn {
    Liked(usize),
    Rating(usize),
}

impl Kind {
    fn of(header: &[String]) -> std::result::Result<Kind, String> {
        let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        let id = col("image_id").ok_or("no `image_id` column")?;
        if let Some(track) = col("track_id") {
            let response = match (col("liked"), col("rating")) {
                (Some(l), None) => ResponseColumn::Liked(l),
                (None, Some(r)) => ResponseColumn::Rating(r),
                (Some(_), Some(_)) => return Err("reactions have `liked` or `rating`, not both".into()),
                (None, None) => return Err("reactions need a `liked` or a `rating` column".into()),
            };
            return Ok(Kind::Reactions { id, track, response });
        }
        match (col("valence"), col("arousal")) {
            (Some(valence), Some(arousal)) => Ok(Kind::Ratings { id, valence, arousal, labels: col("labels") }),
            _ => Err("not feedback: image ratings have `image_id`, `valence`, `arousal` (and optional `labels`); \
                      reactions have `image_id`, `track_id` and `liked` or `rating`"
                .into()),
        }
    }
}

fn text(cells: &[Cell], i: usize, name: &str) -> std::result::Result<String, String> {
    cells.get(i).and_then(Cell::text).ok_or_else(|| format!("`{name}` is empty"))
}

fn number(cells: &[Cell], i: usize, name: &str, lo: f32, hi: f32) -> std::result::Result<f32, String> {
    let t = text(cells, i, name)?;
    let x: f32 = t.trim().parse().map_err(|_| format!("`{name}` is {t:?}, not a number"))?;
    if !(lo..=hi).contains(&x) {
        return Err(format!("`{name}` is {x}, outside {lo}–{hi}"));
    }
    Ok(x)
}

fn rating(
    cells: &[Cell],
    id: usize,
    valence: usize,
    arousal: usize,
    labels: Option<usize>,
    locator: &str,
) -> std::result::Result<ImageRating, String> {
    let labels = match labels {
        None => None,
        Some(c) => {
            let known: Vec<usize> = output_dims().skip(2).collect();
            let mut dims = Vec::new();
            for name in cells.get(c).and_then(Cell::text).unwrap_or_default().split([',', '|', ';']) {
                let name = name.trim().to_lowercase();
                if name.is_empty() {
                    continue;
                }
                match mood::dim(&name).filter(|d| known.contains(d)) {
                    Some(d) => dims.push(d),
                    None => return Err(format!("`labels`: {name:?} is not a mood or theme of the mood space")),
                }
            }
            Some(dims)
        }
    };
    Ok(ImageRating {
        image_id: text(cells, id, "image_id")?,
        valence: number(cells, valence, "valence", 1.0, 9.0)?,
        arousal: number(cells, arousal, "arousal", 1.0, 9.0)?,
        labels,
        locator: locator.to_string(),
    })
}

fn reaction(
    cells: &[Cell],
    id: usize,
    track: usize,
    response: ResponseColumn,
    locator: &str,
) -> std::result::Result<Reaction, String> {
    let response = match response {
        ResponseColumn::Rating(c) => Response::Rating(number(cells, c, "rating", 1.0, 5.0)?),
        ResponseColumn::Liked(c) => {
            let t = text(cells, c, "liked")?;
            Response::Liked(match t.trim().to_lowercase().as_str() {
                "true" | "yes" | "1" | "like" | "liked" | "y" => true,
                "false" | "no" | "0" | "dislike" | "disliked" | "n" => false,
                _ => return Err(format!("`liked` is {t:?}: use true/false, yes/no, 1/0 or like/dislike")),
            })
        }
    };
    Ok(Reaction {
        image_id: text(cells, id, "image_id")?,
        track_id: text(cells, track, "track_id")?,
        response,
        locator: locator.to_string(),
    })
}
