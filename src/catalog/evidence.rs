//! Catalog stage, one row: a row's cells to the evidence about its mood
//! (`features::Evidence`), checked cell by cell so that a bad value names its
//! column, and the tag counts the report gives.

use foldhash::HashMap;

use super::columns::{Columns, Role};
use super::features::{self, AudioFeatures, Evidence, VaRange};
use super::read::Cell;
use crate::engine::mood;

/// How often the catalog's tags were known to the vocabulary, and which
/// unknown ones came up (the report lists the most frequent, so a user can
/// see what the vocabulary misses).
#[derive(Debug, Default)]
pub struct TagCounts {
    pub known_uses: u64,
    pub unknown_uses: u64,
    /// Lower-cased unknown tag -> uses.
    pub unknown: HashMap<String, u64>,
}

/// What one tags cell says, worked out once per distinct text: catalogs
/// repeat a few thousand tag lists over a million rows, and splitting and
/// normalising every tag of every row was a fifth of placing them.
#[derive(Debug)]
struct CellTags {
    /// Known tags in cell order, repeats kept (each use counts).
    known: Vec<u16>,
    /// Unknown tags, lower-cased, repeats kept.
    unknown: Vec<Box<str>>,
    /// The first tag, prefix dropped: the genre when the column is one.
    first: Option<Box<str>>,
    /// The first MTG-Jamendo `genre---x` tag's x.
    genre_tag: Option<Box<str>>,
}

impl CellTags {
    fn parse(text: &str) -> Self {
        let vocab = &*features::VOCABULARY;
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for t in features::split_tags(text) {
            let k = features::tag_key(t);
            if k.is_empty() {
                continue;
            }
            match vocab.find(&k) {
                Some(place) => known.push(place),
                None => unknown.push(t.to_lowercase().into()),
            }
        }
        CellTags {
            known,
            unknown,
            first: features::split_tags(text).next().map(Into::into),
            genre_tag: text
                .split([',', '|', ';'])
                .find_map(|tag| tag.trim().strip_prefix("genre---").map(|g| g.trim().into())),
        }
    }
}

/// A worker's memo of tags cells (`CellTags`), kept from chunk to chunk.
#[derive(Debug, Default)]
pub struct TagMemo {
    /// Cell text -> its place in `parsed`: a hit is one lookup.
    places: HashMap<Box<str>, u32>,
    parsed: Vec<CellTags>,
}

/// Distinct cells a memo keeps; past that it starts again, so a catalog
/// whose every tag list differs costs a bounded memory.
const MEMO_CELLS: usize = 1 << 16;

impl TagMemo {
    fn get(&mut self, text: &str) -> &CellTags {
        let place = match self.places.get(text) {
            Some(&p) => p,
            None => {
                if self.parsed.len() >= MEMO_CELLS {
                    self.places.clear();
                    self.parsed.clear();
                }
                self.parsed.push(CellTags::parse(text));
                let p = (self.parsed.len() - 1) as u32;
                self.places.insert(text.into(), p);
                p
            }
        };
        &self.parsed[place as usize]
    }
}

impl TagCounts {
    /// Counts the tags of one cell; known ones join `tags` (vocabulary
    /// places, each once, in file order).
    fn add(&mut self, cell: &CellTags, tags: &mut Vec<u16>) {
        self.known_uses += cell.known.len() as u64;
        for &k in &cell.known {
            if !tags.contains(&k) {
                tags.push(k);
            }
        }
        for u in &cell.unknown {
            self.unknown_uses += 1;
            match self.unknown.get_mut(&**u) {
                Some(n) => *n += 1,
                None => {
                    self.unknown.insert(u.to_string(), 1);
                }
            }
        }
    }

    /// Adds the counts of another part of the catalog.
    pub fn merge(&mut self, o: TagCounts) {
        self.known_uses += o.known_uses;
        self.unknown_uses += o.unknown_uses;
        for (k, n) in o.unknown {
            *self.unknown.entry(k).or_default() += n;
        }
    }

    /// The `n` most used unknown tags, most used first, then by name.
    pub fn top_unknown(self, n: usize) -> Vec<(String, u64)> {
        let mut unknown: Vec<(String, u64)> = self.unknown.into_iter().collect();
        unknown.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        unknown.truncate(n);
        unknown
    }
}

/// Reads rows into evidence: the catalog's column roles and the scale of its
/// valence/arousal, fixed for the whole pass, the tag counts it adds up and
/// its worker's memo of tags cells.
pub struct RowReader<'a> {
    pub cols: &'a Columns,
    pub va_range: Option<VaRange>,
    pub tags: TagCounts,
    pub memo: &'a mut TagMemo,
}

impl RowReader<'_> {
    /// One row's evidence; an `Err` names the column and the problem. `hdr`
    /// is the header the row was read with, `extra` the cells past it.
    pub fn evidence(
        &mut self,
        hdr: &[String],
        cells: &[Cell],
        extra: &[Cell],
    ) -> std::result::Result<Evidence, String> {
        let cols = self.cols;
        let mut e = Evidence::default();
        let num = |role: Role| -> std::result::Result<Option<f64>, String> {
            match cols.get(role) {
                None => Ok(None),
                Some(c) => number(&cells[c]).map_err(|m| format!("column {}: {m}", hdr[c])),
            }
        };
        for role in [Role::Valence, Role::Arousal] {
            if let Some(x) = num(role)? {
                let range = self.va_range.unwrap_or(VaRange::Unit);
                if !range.admits(x) {
                    let c = cols.get(role).unwrap_or(0);
                    return Err(format!(
                        "column {}: {x} is outside the {} range {}",
                        hdr[c],
                        role.name(),
                        range.name()
                    ));
                }
                let v = range.normalise(x);
                if role == Role::Valence { e.valence = Some(v) } else { e.arousal = Some(v) }
            }
        }
        let unit = |role: Role| -> std::result::Result<Option<f32>, String> {
            match num(role)? {
                Some(x) if !(0.0..=1.0).contains(&x) => {
                    Err(format!("column {}: {x} is outside 0..1", hdr[cols.get(role).unwrap_or(0)]))
                }
                other => Ok(other.map(|x| x as f32)),
            }
        };
        e.features = AudioFeatures {
            energy: unit(Role::Energy)?,
            danceability: unit(Role::Danceability)?,
            acousticness: unit(Role::Acousticness)?,
            instrumentalness: unit(Role::Instrumentalness)?,
            speechiness: unit(Role::Speechiness)?,
            mode: num(Role::Mode)?.map(|x| x as f32),
            loudness: num(Role::Loudness)?.map(|x| x as f32),
            tempo: match num(Role::Tempo)? {
                Some(t) if !(0.0..=400.0).contains(&t) => {
                    return Err(format!(
                        "column {}: tempo {t} is outside 0..400 BPM",
                        hdr[cols.get(Role::Tempo).unwrap_or(0)]
                    ));
                }
                t => t.map(|t| t as f32),
            },
        };
        let tag_cells = cols.all(Role::Tags).iter().map(|&c| &cells[c]).chain(if cols.trailing_tags {
            extra.iter()
        } else {
            [].iter()
        });
        // The genre: the first value of a genre column, else the first
        // `genre---` tag of any tags cell.
        let (mut first_genre, mut genre_tag) = (None, None);
        for (k, cell) in tag_cells.enumerate() {
            let Some(text) = cell.as_text() else { continue };
            let parsed = self.memo.get(&text);
            self.tags.add(parsed, &mut e.tags);
            if first_genre.is_none() && cols.all(Role::Tags).get(k).is_some_and(|&c| cols.is_genre(c)) {
                first_genre = parsed.first.clone();
            }
            genre_tag = genre_tag.or_else(|| parsed.genre_tag.clone());
        }
        e.genre = first_genre.or(genre_tag).map(String::from).unwrap_or_default();
        if let Some(c) = cols.get(Role::Embedding) {
            e.embedding = parse_embedding(&cells[c]).map_err(|m| format!("column {}: {m}", hdr[c]))?;
        }
        Ok(e)
    }
}

/// A numeric cell; text is parsed, and NaN or infinity is an error.
pub fn number(cell: &Cell) -> std::result::Result<Option<f64>, String> {
    match cell {
        Cell::Null => Ok(None),
        Cell::Num(x) if x.is_nan() => Err("is NaN".into()),
        Cell::Num(x) => Ok(Some(*x)),
        Cell::Text(s) => match s.trim().parse::<f64>() {
            Ok(x) if x.is_nan() => Err("is NaN".into()),
            Ok(x) if x.is_infinite() => Err(format!("`{s}` is infinite")),
            Ok(x) => Ok(Some(x)),
            Err(_) => Err(format!("`{s}` is not a number")),
        },
        Cell::List(_) => Err("is a list, expected a number".into()),
    }
}

/// A mood-space vector: a list cell, or text like "[0.1, -0.2, ...]".
fn parse_embedding(cell: &Cell) -> std::result::Result<Option<mood::MoodVector>, String> {
    let values: Vec<f64> = match cell {
        Cell::Null => return Ok(None),
        Cell::List(items) => {
            items.iter().map(|c| number(c).map(|x| x.unwrap_or(0.0))).collect::<std::result::Result<_, _>>()?
        }
        Cell::Text(s) => s
            .trim_matches(|c| c == '[' || c == ']' || c == ' ')
            .split([',', '|', ' ', ';'])
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<f64>().map_err(|_| format!("`{t}` is not a number")))
            .collect::<std::result::Result<_, _>>()?,
        Cell::Num(_) => return Err("is one number; an embedding is a list of 37".into()),
    };
    if values.len() != mood::NUM_DIMS {
        return Err(format!(
            "has {} numbers; a mood-space embedding has {} ({})",
            values.len(),
            mood::NUM_DIMS,
            mood::DIM_NAMES.join(", ")
        ));
    }
    if values.iter().any(|x| !x.is_finite()) {
        return Err("contains NaN or infinity".into());
    }
    let mut v = [0.0f32; mood::NUM_DIMS];
    for (i, (o, x)) in v.iter_mut().zip(&values).enumerate() {
        *o = if i < 2 { x.clamp(-1.0, 1.0) as f32 } else { x.clamp(0.0, 1.0) as f32 };
    }
    Ok(Some(v))
}

/// A short description of what the catalog says about a track, written to
/// `out` (a catalog's arena of descriptors) without a string of its own.
pub fn describe_into(e: &Evidence, out: &mut String) {
    use std::fmt::Write as _;
    let start = out.len();
    let sep = |out: &mut String| {
        if out.len() > start {
            out.push_str(", ");
        }
    };
    let vocab = &*features::VOCABULARY;
    for &k in e.tags.iter().take(4) {
        sep(out);
        out.push_str(&vocab.tags[k as usize].name);
    }
    let f = &e.features;
    if out.len() == start {
        for (name, x) in [
            ("energy", f.energy),
            ("danceability", f.danceability),
            ("acousticness", f.acousticness.filter(|x| *x >= 0.5)),
        ] {
            if let Some(x) = x {
                sep(out);
                let _ = write!(out, "{name} {x:.2}");
            }
        }
    }
    if out.len() == start
        && let (Some(v), Some(a)) = (e.valence, e.arousal)
    {
        let _ = write!(out, "valence {v:+.2}, arousal {a:+.2}");
    }
    if out.len() == start && e.embedding.is_some() {
        out.push_str("mood embedding");
    }
    if let Some(t) = f.tempo.filter(|t| *t > 0.0) {
        sep(out);
        // As `{t:.0}` writes it (ties to even), without float formatting.
        let _ = write!(out, "{} BPM", t.round_ties_even() as u32);
    }
}
