//! Which catalog column plays which role. Detection goes by the column's
//! name (case, spaces and punctuation ignored) against the synonyms below,
//! first synonym first; the `columns` setting (`role=name,...`) overrides
//! it. The result is always reported, never silently guessed.

use std::fmt;

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Id,
    Title,
    Artist,
    Valence,
    Arousal,
    Energy,
    Danceability,
    Tempo,
    Acousticness,
    Instrumentalness,
    Loudness,
    Mode,
    Speechiness,
    Tags,
    Embedding,
    /// Where the audio is: a file path or a URL (playlist files use it).
    Location,
    /// Year of release (or a date that starts with one): eras in coverage.
    Year,
}

impl Role {
    pub const ALL: [Role; 17] = [
        Role::Id,
        Role::Title,
        Role::Artist,
        Role::Valence,
        Role::Arousal,
        Role::Energy,
        Role::Danceability,
        Role::Tempo,
        Role::Acousticness,
        Role::Instrumentalness,
        Role::Loudness,
        Role::Mode,
        Role::Speechiness,
        Role::Tags,
        Role::Embedding,
        Role::Location,
        Role::Year,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Id => "id",
            Role::Title => "title",
            Role::Artist => "artist",
            Role::Valence => "valence",
            Role::Arousal => "arousal",
            Role::Energy => "energy",
            Role::Danceability => "danceability",
            Role::Tempo => "tempo",
            Role::Acousticness => "acousticness",
            Role::Instrumentalness => "instrumentalness",
            Role::Loudness => "loudness",
            Role::Mode => "mode",
            Role::Speechiness => "speechiness",
            Role::Tags => "tags",
            Role::Embedding => "embedding",
            Role::Location => "location",
            Role::Year => "year",
        }
    }

    /// Column names that mean this role, most specific first.
    pub fn synonyms(self) -> &'static [&'static str] {
        match self {
            Role::Id => &[
                "track_id",
                "trackid",
                "id",
                "song_id",
                "songid",
                "dzr_sng_id",
                "sng_id",
                "track_uri",
                "uri",
                "spotify_id",
                "isrc",
                "msd_track_id",
                "recording_id",
            ],
            Role::Title => &["title", "track_name", "trackname", "track_title", "song_name", "song", "name", "track"],
            Role::Artist => &[
                "artist",
                "artist_name",
                "artists",
                "artistname",
                "artist_id",
                "performer",
                "band",
                "composer",
                "creator",
            ],
            Role::Valence => &["valence", "v", "valence_mean", "mean_valence", "pleasure"],
            Role::Arousal => &["arousal", "a", "arousal_mean", "mean_arousal", "activation"],
            Role::Energy => &["energy"],
            Role::Danceability => &["danceability"],
            Role::Tempo => &["tempo", "bpm"],
            Role::Acousticness => &["acousticness"],
            Role::Instrumentalness => &["instrumentalness"],
            Role::Loudness => &["loudness"],
            Role::Mode => &["mode"],
            Role::Speechiness => &["speechiness"],
            Role::Tags => &[
                "tags",
                "tag",
                "tag_list",
                "genre",
                "genres",
                "mood",
                "moods",
                "mood_tags",
                "style",
                "styles",
                "theme",
                "themes",
                "keywords",
                "labels",
                "top_tags",
            ],
            Role::Embedding => &["embedding", "mood_vector", "mood_embedding", "pixtape_mood"],
            Role::Location => &[
                "location",
                "file_path",
                "filepath",
                "path",
                "file",
                "audio_path",
                "audio_file",
                "audio_url",
                "url",
                "stream_url",
                "preview_url",
                "mp3",
            ],
            Role::Year => &[
                "year",
                "release_year",
                "releaseyear",
                "year_released",
                "release_date",
                "releasedate",
                "released",
                "date",
            ],
        }
    }

    /// Roles that may take several columns (all are used).
    fn multi(self) -> bool {
        self == Role::Tags
    }

    pub fn parse(s: &str) -> Option<Role> {
        let k = key(s);
        Role::ALL.into_iter().find(|r| key(r.name()) == k || (k == "trackid" && *r == Role::Id))
    }
}

fn key(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Role -> column indices into the header.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    by_role: Vec<(Role, Vec<usize>)>,
    /// Each role's place in `by_role` (by `Role as usize`), found once:
    /// every row asks for a dozen roles.
    slots: [Option<u8>; Role::ALL.len()],
    pub names: Vec<String>,
    /// Rows carry cells past the header that are tags (MTG-Jamendo style).
    pub trailing_tags: bool,
    /// The columns named `genre` or `genres` (see `is_genre`), found once:
    /// every row asks.
    genre: Vec<usize>,
}

impl Columns {
    /// Each role with its columns, in role order.
    pub fn roles(&self) -> &[(Role, Vec<usize>)] {
        &self.by_role
    }

    pub fn get(&self, role: Role) -> Option<usize> {
        self.all(role).first().copied()
    }

    pub fn all(&self, role: Role) -> &[usize] {
        self.slots[role as usize].map_or(&[], |k| self.by_role[k as usize].1.as_slice())
    }

    pub fn has(&self, role: Role) -> bool {
        !self.all(role).is_empty() || (role == Role::Tags && self.trailing_tags)
    }

    /// Whether column `c` holds genres (a tags column named `genre` or
    /// `genres`): its first tag is the track's genre label.
    pub fn is_genre(&self, c: usize) -> bool {
        self.genre.contains(&c)
    }

    /// (role, column names) for the manifest and the log.
    pub fn report(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .by_role
            .iter()
            .map(|(r, cols)| {
                (r.name().to_string(), cols.iter().map(|&c| self.names[c].clone()).collect::<Vec<_>>().join("+"))
            })
            .collect();
        if self.trailing_tags {
            out.push(("tags".into(), "trailing columns".into()));
        }
        out
    }
}

impl fmt::Display for Columns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.report().into_iter().map(|(r, c)| format!("{r}={c}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// Assigns roles to the header's columns.
pub fn detect(header: &[String], overrides: &[(Role, Vec<String>)], file: &str) -> Result<Columns> {
    let keys: Vec<String> = header.iter().map(|h| key(h)).collect();
    let mut taken = vec![false; header.len()];
    let mut by_role: Vec<(Role, Vec<usize>)> = Vec::new();
    for (role, names) in overrides {
        let mut cols = Vec::new();
        for n in names {
            let i = header.iter().position(|h| h == n).or_else(|| keys.iter().position(|k| *k == key(n))).ok_or_else(
                || {
                    Error::Config(format!(
                        "{file}: the `columns` setting names column `{n}` for {}, but the columns are: {}",
                        role.name(),
                        header.join(", ")
                    ))
                },
            )?;
            taken[i] = true;
            cols.push(i);
        }
        by_role.push((*role, cols));
    }
    for role in Role::ALL {
        if by_role.iter().any(|(r, _)| *r == role) {
            continue;
        }
        let mut cols = Vec::new();
        for syn in role.synonyms() {
            let k = key(syn);
            for (i, ck) in keys.iter().enumerate() {
                if !taken[i] && *ck == k {
                    taken[i] = true;
                    cols.push(i);
                }
            }
            if !cols.is_empty() && !role.multi() {
                break;
            }
        }
        if !cols.is_empty() {
            by_role.push((role, cols));
        }
    }
    by_role.sort_by_key(|(r, _)| *r);
    // MTG-Jamendo ends its header with one `TAGS` column and spreads the
    // tags over however many trailing fields each row needs.
    let trailing_tags = header.last().is_some_and(|h| key(h) == "tags");
    let genre = (0..header.len()).filter(|&c| matches!(key(&header[c]).as_str(), "genre" | "genres")).collect();
    let mut slots = [None; Role::ALL.len()];
    for (k, (role, _)) in by_role.iter().enumerate().rev() {
        slots[*role as usize] = Some(k as u8);
    }
    Ok(Columns { by_role, slots, names: header.to_vec(), trailing_tags, genre })
}
