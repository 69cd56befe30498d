//! Catalog stage: a music catalog file to tracks placed in the mood space.
//!
//! Loading reads the file twice, streaming: the first pass learns the
//! columns and the range of the valence/arousal columns, the second turns
//! each row into a track. Memory is the tracks themselves (a similarity
//! vector and four short strings each, kept in flat arenas), never the file.
//! A bad row is reported with its line and skipped; a file that cannot be a
//! catalog at all (empty, no id column, nothing to say about mood, the wrong
//! delimiter) is an error naming the file, the line and the column.
//!
//! This file holds the catalog's types; `load` runs the two passes and
//! `evidence` reads one row.

pub mod cache;
pub mod columns;
mod evidence;
pub mod features;
pub mod index;
mod load;
mod place;
pub mod read;
pub mod synth;
mod tracks;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::mood::{self, Groups, MoodVector, SimVector, Weights};
use crate::engine::similarity::TrackMatrix;
use columns::Role;
use features::VaRange;
use tracks::TrackColumns;

pub use load::{load, load_deferring_cache};

/// Issues kept in memory for the errors table; later ones are only counted.
const MAX_ISSUES: usize = 10_000;

#[derive(Clone, Debug)]
pub struct CatalogOptions {
    pub path: PathBuf,
    /// Role -> column(s) that override detection by name.
    pub overrides: Vec<(Role, Vec<String>)>,
    /// Declared scale of valence/arousal; detected when `None`.
    pub va_range: Option<VaRange>,
    /// Field delimiter for CSV/TSV when not the extension's.
    pub delimiter: Option<u8>,
    pub weights: Weights,
    /// Keep each track's mood vector beside its similarity vector (what a
    /// catalog index stores); off for runs, which need only the latter.
    pub keep_moods: bool,
    /// The catalog cache's folder (`cache`): a source catalog placed once
    /// is read from there next time. `None` (the library's default) parses
    /// the source every time; the command line turns it on.
    pub cache: Option<PathBuf>,
}

impl CatalogOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CatalogOptions {
            path: path.into(),
            overrides: Vec::new(),
            va_range: None,
            delimiter: None,
            weights: Weights::default(),
            keep_moods: false,
            cache: None,
        }
    }
}

/// A bad or doubtful catalog row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogIssue {
    /// "file:line" or "file: row n".
    pub locator: String,
    /// Errors drop the row; warnings keep or skip it with a note.
    pub is_error: bool,
    pub reason: String,
}

/// What loading found, for the manifest and the log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogReport {
    pub path: String,
    pub format: String,
    pub sha256: String,
    pub bytes: u64,
    /// Data rows read (header excluded).
    pub rows: u64,
    pub tracks: u64,
    pub rejected_rows: u64,
    pub duplicate_ids: u64,
    /// Rows with no usable mood information (say, only unknown tags).
    pub rows_without_mood: u64,
    /// Role -> column(s).
    pub columns: Vec<(String, String)>,
    /// Columns no role claimed.
    pub ignored_columns: Vec<String>,
    /// Where the mood comes from ("valence/arousal", "audio features", ...).
    pub sources: Vec<String>,
    pub va_range: Option<String>,
    pub va_range_detected: bool,
    pub known_tag_uses: u64,
    pub unknown_tag_uses: u64,
    /// The most frequent unknown tags with their counts.
    pub unknown_tags: Vec<(String, u64)>,
    /// Tracks carrying each group (affect, moods, styles, themes).
    pub group_coverage: Vec<(String, u64)>,
    /// Wall time of reading the catalog (both passes and hashing); a run's
    /// own `wall_seconds` starts after it.
    pub load_seconds: f64,
    /// The catalog index it was read from (`pixtape catalog build`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// The catalog cache's entry it was read from, or written to for the
    /// next run (`cache`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// Whether it was read from that entry (not parsed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

/// Tracks in the mood space.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Every track's id, names, descriptor, location, genre, year, tempo.
    tracks: TrackColumns,
    /// The group weights every track vector was built with; queries take
    /// theirs from here, so the two sides cannot disagree.
    weights: Weights,
    /// One similarity vector per track (see `mood::sim_vector`), in panels.
    matrix: TrackMatrix,
    pub groups: Vec<Groups>,
    /// Each track's mood vector, kept only when asked (`keep_moods`).
    moods: Option<Vec<MoodVector>>,
    pub report: CatalogReport,
    pub issues: Vec<CatalogIssue>,
}

/// One track's identity, borrowed from the catalog.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub artist: &'a str,
    /// A few words about the track as the catalog describes it.
    pub descriptor: &'a str,
    /// A file path or URL of its audio, "" when the catalog has none.
    pub location: &'a str,
    /// Its genre as the catalog names it (the first value of a `genre`
    /// column, or the first `genre---` tag), "" when it names none.
    pub genre: &'a str,
    pub year: Option<u16>,
    /// Beats per minute.
    pub tempo: Option<f32>,
}

impl Catalog {
    /// An empty catalog whose track vectors are weighted by `weights`.
    pub fn new(weights: Weights) -> Self {
        Catalog { weights, ..Catalog::default() }
    }

    /// The similarity's group weights, for tracks and queries alike.
    pub fn weights(&self) -> Weights {
        self.weights
    }

    /// The tracks' similarity vectors, built with `weights()`.
    pub fn matrix(&self) -> &TrackMatrix {
        &self.matrix
    }

    pub fn len(&self) -> usize {
        self.matrix.len()
    }
    pub fn is_empty(&self) -> bool {
        self.matrix.is_empty()
    }
    pub fn track(&self, i: usize) -> TrackRef<'_> {
        self.tracks.get(i)
    }

    /// Each track's position by its id, for stages that meet tracks by id
    /// (a run's tables, feedback).
    pub fn positions(&self) -> std::collections::HashMap<&str, usize> {
        (0..self.len()).map(|i| (self.tracks.ids.get(i), i)).collect()
    }

    /// Adds a track of mood `mood`, carrying the mood groups `groups`.
    /// Its similarity vector is built here, with the catalog's weights.
    pub fn push(&mut self, track: TrackRef, mood: &MoodVector, groups: Groups) {
        self.push_placed(track, &mood::sim_vector(mood, groups, &self.weights, true), Some(mood), groups);
    }

    /// Adds a track whose similarity vector `sim` was built with the
    /// catalog's weights (by a worker, in `place`).
    fn push_placed(&mut self, track: TrackRef, sim: &SimVector, mood: Option<&MoodVector>, groups: Groups) {
        self.tracks.push(track);
        self.matrix.push(sim);
        self.groups.push(groups);
        if let Some(m) = &mut self.moods {
            m.push(*mood.expect("a catalog that keeps moods is given each track's"));
        }
    }

    /// Room for `tracks` more tracks. Growing by doubling instead copies
    /// every array about once more and touches twice the pages: for a 1M-row
    /// catalog a fifth of its placement went to growth and first-touch
    /// zeroing (perf).
    pub fn reserve(&mut self, tracks: usize) {
        self.tracks.reserve(tracks, [0; 6]);
        self.matrix.reserve(tracks);
        self.groups.reserve(tracks);
        if let Some(m) = &mut self.moods {
            m.reserve(tracks);
        }
    }

    /// Keeps the mood vectors of the tracks pushed from now on.
    pub fn keep_moods(&mut self) {
        self.moods.get_or_insert_with(Vec::new);
    }

    /// Stops keeping the mood vectors, and frees them.
    pub fn drop_moods(&mut self) {
        self.moods = None;
    }

    /// Each track's mood vector, when kept.
    pub fn moods(&self) -> Option<&[MoodVector]> {
        self.moods.as_deref()
    }

    fn issue(&mut self, locator: &str, is_error: bool, reason: String) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(CatalogIssue { locator: locator.to_string(), is_error, reason });
        }
    }
}
