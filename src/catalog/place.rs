//! Catalog stage, placing: a chunk of rows to tracks in the mood space, on
//! a worker. Everything a row decides alone is done here, on every core:
//! its evidence, mood vector and similarity vector, its texts written
//! straight into the chunk's arenas. What depends on the rows before it
//! (duplicate ids, the order of tracks and issues) is left to the merge in
//! `load`, which only copies.

use std::hash::BuildHasher;

use super::Catalog;
use super::columns::{Columns, Role};
use super::evidence::{self, RowReader, TagCounts, TagMemo};
use super::features::{self, VaRange};
use super::read::{Cell, Chunk, Locators};
use super::tracks::TrackColumns;
use crate::engine::mood::{self, Groups, MoodVector, SimVector, Weights};

/// What every chunk of one pass is read with.
pub(super) struct Context<'a> {
    pub cols: &'a Columns,
    pub va_range: Option<VaRange>,
    pub id_col: usize,
    pub weights: Weights,
    pub keep_moods: bool,
}

/// A worker's own state, kept from chunk to chunk.
#[derive(Default)]
pub(super) struct Worker {
    /// The row being read (Parquet), its strings reused.
    buf: Vec<Cell>,
    memo: TagMemo,
}

/// One chunk, placed.
pub(super) struct Placed {
    /// Each row, in file order.
    pub rows: Vec<RowOut>,
    pub tracks: Tracks,
    pub tags: TagCounts,
    pub locators: Locators,
    /// Rows with cells past the header (trailing tags).
    pub with_extra: u64,
}

pub(super) enum RowOut {
    /// A track (the n-th of `tracks`), unless the merge finds its id
    /// taken; with no mood groups it is moodless.
    Track(u32),
    Rejected(String),
}

/// The chunk's tracks, column by column, as the catalog keeps them.
#[derive(Default)]
pub(super) struct Tracks {
    pub cols: TrackColumns,
    pub sims: Vec<SimVector>,
    pub groups: Vec<Groups>,
    /// Filled only when the catalog keeps its mood vectors.
    pub moods: Vec<MoodVector>,
    /// `id_hash` of each id, for the merge's duplicate check.
    pub hashes: Vec<u64>,
}

impl Tracks {
    /// Copies tracks `kept` (places in this chunk, in order) to the end of
    /// `cat`: the whole chunk at once when every track stays, as nearly
    /// all do.
    pub fn append_to(&self, cat: &mut Catalog, kept: &[u32]) {
        if kept.len() < self.cols.len() {
            for &i in kept {
                let i = i as usize;
                cat.push_placed(self.cols.get(i), &self.sims[i], self.moods.get(i), self.groups[i]);
            }
            return;
        }
        cat.tracks.extend(&self.cols);
        self.sims.iter().for_each(|v| cat.matrix.push(v));
        cat.groups.extend_from_slice(&self.groups);
        if let Some(m) = &mut cat.moods {
            m.extend_from_slice(&self.moods);
        }
    }
}

/// The hash the duplicate check keys ids by: fixed, so that a worker and
/// the merge agree.
pub(super) fn id_hash(id: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x7069_7874_6170_6521).hash_one(id)
}

/// Places one chunk.
pub(super) fn place(w: &mut Worker, ctx: &Context, hdr: &[String], chunk: Chunk) -> Placed {
    let Worker { buf, memo } = w;
    let mut reader = RowReader { cols: ctx.cols, va_range: ctx.va_range, tags: TagCounts::default(), memo };
    let mut rows = Vec::new();
    let mut t = Tracks::default();
    let mut with_extra = 0;
    chunk.for_each_row(buf, &mut |_, cells, extra| {
        with_extra += !extra.is_empty() as u64;
        let id = match cells.get(ctx.id_col).and_then(Cell::as_text) {
            None => {
                rows.push(RowOut::Rejected(format!("column {}: no track id", hdr[ctx.id_col])));
                return;
            }
            Some(id) => id,
        };
        let e = match reader.evidence(hdr, cells, extra) {
            Err(reason) => {
                rows.push(RowOut::Rejected(reason));
                return;
            }
            Ok(e) => e,
        };
        let (vector, groups) = features::track_mood(&e);
        let cols = ctx.cols;
        let text = |role| cols.get(role).and_then(|c| cells[c].as_text());
        rows.push(RowOut::Track(t.cols.len() as u32));
        t.hashes.push(id_hash(&id));
        let c = &mut t.cols;
        c.ids.push(&id);
        c.titles.push(text(Role::Title).as_deref().unwrap_or_default());
        c.artists.push(text(Role::Artist).as_deref().unwrap_or_default());
        evidence::describe_into(&e, &mut c.descriptors.data);
        c.descriptors.close();
        c.locations.push(text(Role::Location).as_deref().unwrap_or_default());
        c.genres.push(&e.genre);
        c.years.push(cols.get(Role::Year).and_then(|c| year_of(&cells[c])).unwrap_or(0));
        c.tempos.push(e.features.tempo.filter(|t| *t > 0.0).unwrap_or(f32::NAN));
        // A moodless row becomes no track; its vector is never used.
        t.sims.push(if groups.is_empty() {
            [0.0; mood::SIM_DIMS]
        } else {
            mood::sim_vector(&vector, groups, &ctx.weights, true)
        });
        t.groups.push(groups);
        if ctx.keep_moods {
            t.moods.push(vector);
        }
    });
    Placed { rows, tracks: t, tags: reader.tags, locators: chunk.into_locators(), with_extra }
}

/// A release year from a number (2011, 2011.0) or a date's text
/// ("2011-05-03", "2011"); anything else, or a year outside 1000..=2100,
/// is unknown: the year only sorts tracks into eras, so a bad one costs
/// the row nothing.
fn year_of(cell: &Cell) -> Option<u16> {
    let y = match cell {
        Cell::Num(x) if x.is_finite() && x.fract() == 0.0 => *x as i64,
        Cell::Text(s) => {
            let s = s.trim();
            if s.bytes().take_while(u8::is_ascii_digit).count() != 4 {
                return None;
            }
            s[..4].parse().ok()?
        }
        _ => return None,
    };
    (1000..=2100).contains(&y).then_some(y as u16)
}
