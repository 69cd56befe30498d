//! Catalog stage, loading: a catalog file to a `Catalog` in two streaming
//! passes. The first learns the scale of the valence/arousal columns, which
//! must be known before any value is normalised; the second turns each row
//! into a track or an issue. Neither pass holds the file.

use foldhash::HashSet;
use std::path::Path;
use std::time::Instant;

use super::columns::{self, Columns, Role};
use super::evidence::{self, TagCounts};
use super::features::VaRange;
use super::place::{self, RowOut};
use super::read::{self, Cell, Chunk, Format};
use super::tracks::StringColumn;
use super::{Catalog, CatalogOptions, CatalogReport};
use crate::engine::mood;
use crate::error::{Error, Result};

/// Unknown tags named in the report.
const REPORTED_UNKNOWN_TAGS: usize = 25;

/// Loads a catalog into the mood space: an index as it is, a source
/// through the cache when `opts.cache` names one (a first run writes the
/// entry before this returns).
pub fn load(opts: &CatalogOptions) -> Result<Catalog> {
    let (mut cat, pending) = load_deferring_cache(opts)?;
    if let Some(p) = pending {
        // A cache that cannot be written only means the next run parses.
        if p.write(&cat).is_err() {
            cat.report.cache = None;
        }
        if !opts.keep_moods {
            cat.drop_moods();
        }
    }
    Ok(cat)
}

/// As `load`, but the cache entry a source's first run makes is left to
/// the caller to write (see `cache::load_deferred`), and the catalog keeps
/// its mood vectors for it.
pub fn load_deferring_cache(opts: &CatalogOptions) -> Result<(Catalog, Option<super::cache::PendingEntry>)> {
    opts.weights.check()?;
    let path = &opts.path;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a directory, not a catalog file"));
    }
    if meta.len() == 0 {
        return Err(Error::input(path, "catalog is empty (0 bytes)"));
    }
    if super::index::is_index(path) {
        return Ok((super::index::load(path, opts.weights, opts.keep_moods)?, None));
    }
    match &opts.cache {
        Some(dir) => super::cache::load_deferred(opts, dir, parse),
        None => Ok((parse(opts, None)?, None)),
    }
}

/// Places a source catalog (not an index), reading it whole; `sha256` is
/// the file's, when the caller has it already.
pub(super) fn parse(opts: &CatalogOptions, sha256: Option<String>) -> Result<Catalog> {
    let started = Instant::now();
    let path = &opts.path;
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let format = read::format_of(path, opts.delimiter)?;
    let header = read::header(path, format)?;
    check_delimiter(path, format, &header)?;
    let mut cols = columns::detect(&header, &opts.overrides, &file)?;
    let id_col = cols.get(Role::Id).ok_or_else(|| {
        Error::input(
            path,
            format!(
                "line 1: no track id column (looked for {}); the columns are: {}. Map one with the `columns` setting \
                 (id=COLUMN)",
                Role::Id.synonyms().join(", "),
                header.join(", ")
            ),
        )
    })?;
    let sources = mood_sources(path, &header, &cols)?;
    let va_range = learn_va_range(opts, format, &header, &cols)?;
    let (mut cat, tally, tags) = build_tracks(opts, format, &cols, id_col, va_range)?;
    if tally.rows == 0 {
        return Err(Error::input(path, "catalog has a header but no rows"));
    }
    cols.trailing_tags &= tally.with_extra > 0;
    if cat.is_empty() {
        let first =
            cat.issues.first().map(|i| format!(" (first problem: {}: {})", i.locator, i.reason)).unwrap_or_default();
        return Err(Error::input(path, format!("none of the {} rows is a usable track{first}", tally.rows)));
    }
    let claimed: HashSet<usize> = cols.roles().iter().flat_map(|(_, c)| c.iter().copied()).collect();
    cat.report = CatalogReport {
        path: file,
        format: format.name().to_string(),
        sha256: match sha256 {
            Some(h) => h,
            None => super::cache::sha256_file(path)?,
        },
        bytes: meta.len(),
        rows: tally.rows,
        tracks: cat.len() as u64,
        rejected_rows: tally.rejected,
        duplicate_ids: tally.duplicates,
        rows_without_mood: tally.moodless,
        columns: cols.report(),
        ignored_columns: header
            .iter()
            .enumerate()
            .filter(|(i, _)| !claimed.contains(i))
            .map(|(_, h)| h.clone())
            .collect(),
        sources,
        va_range: va_range.map(|r| r.name().to_string()),
        va_range_detected: opts.va_range.is_none() && va_range.is_some(),
        known_tag_uses: tags.known_uses,
        unknown_tag_uses: tags.unknown_uses,
        unknown_tags: tags.top_unknown(REPORTED_UNKNOWN_TAGS),
        group_coverage: mood::GROUPS.iter().zip(tally.coverage).map(|(g, n)| (g.name().to_string(), n)).collect(),
        load_seconds: 0.0,
        index: None,
        cache: None,
        cached: false,
    };
    cat.report.load_seconds = started.elapsed().as_secs_f64();
    Ok(cat)
}

/// Where the catalog's mood can come from; a catalog with none is an error.
fn mood_sources(path: &Path, header: &[String], cols: &Columns) -> Result<Vec<String>> {
    let sources: Vec<String> = [
        (cols.has(Role::Valence) && cols.has(Role::Arousal), "valence/arousal"),
        (cols.has(Role::Energy), "audio features"),
        (cols.has(Role::Tags), "tags"),
        (cols.has(Role::Embedding), "embedding"),
    ]
    .iter()
    .filter(|(ok, _)| *ok)
    .map(|(_, s)| s.to_string())
    .collect();
    if sources.is_empty() {
        return Err(Error::input(
            path,
            format!(
                "line 1: no usable mood source: the catalog needs valence and arousal columns, audio features \
                 (energy, ...), tags or an embedding column; the columns are: {}. Map one with the `columns` setting \
                 (role=COLUMN)",
                header.join(", ")
            ),
        ));
    }
    Ok(sources)
}

/// Pass 1: the scale of valence/arousal, as declared, or else detected from
/// the values; `None` when the catalog has no valence column.
fn learn_va_range(opts: &CatalogOptions, format: Format, header: &[String], cols: &Columns) -> Result<Option<VaRange>> {
    if opts.va_range.is_some() {
        return Ok(opts.va_range);
    }
    let Some(valence_col) = cols.get(Role::Valence) else { return Ok(None) };
    let va_roles = [Role::Valence, Role::Arousal];
    let mut stats = [Stats::default(); 2];
    // Valence is only a mood source beside arousal or audio features; alone
    // it is not scanned, and detection sees no values.
    if cols.has(Role::Arousal) || cols.has(Role::Energy) {
        let only: Vec<usize> = va_roles.iter().filter_map(|r| cols.get(*r)).collect();
        let work = |buf: &mut Vec<Cell>, _: &[String], chunk: Chunk| {
            let mut stats = [Stats::default(); 2];
            chunk.for_each_row(buf, &mut |_, cells, _| {
                for (k, role) in va_roles.iter().enumerate() {
                    if let Some(c) = cols.get(*role)
                        && let Ok(Some(x)) = evidence::number(&cells[c])
                    {
                        stats[k].add(x);
                    }
                }
            });
            stats
        };
        read::par_chunks(&opts.path, format, Some(&only), &work, &mut |chunk| {
            for (s, c) in stats.iter_mut().zip(chunk) {
                s.merge(&c);
            }
            true
        })?;
    }
    let (lo, hi) = (stats[0].min.min(stats[1].min), stats[0].max.max(stats[1].max));
    // Without an arousal column, valence alone stands for both.
    let s = if stats[1].n > 0 { [stats[0], stats[1]] } else { [stats[0], stats[0]] };
    let detected = VaRange::detect(lo, hi, (s[0].mean + s[1].mean) / 2.0, (s[0].sd() + s[1].sd()) / 2.0);
    if detected.is_none() && stats[0].n > 0 {
        return Err(Error::input(
            &opts.path,
            format!(
                "column {}: cannot tell the scale of valence/arousal (values from {lo} to {hi}); \
                 declare it with the `va_range` setting (unit|signed|1-9|0-100|z)",
                header[valence_col]
            ),
        ));
    }
    Ok(detected)
}

/// What pass 2 counted, for the report.
#[derive(Debug, Default)]
struct RowTally {
    /// Data rows read (header excluded).
    rows: u64,
    rejected: u64,
    duplicates: u64,
    /// Rows with no usable mood information.
    moodless: u64,
    /// Rows with cells past the header (trailing tags).
    with_extra: u64,
    /// Tracks carrying each group, in `mood::GROUPS` order.
    coverage: [u64; 4],
}

/// Pass 2: each row to a track, or to an issue when it is rejected, a
/// duplicate or moodless. Workers place each chunk (`place`); here, in file
/// order, the duplicates are found and the tracks copied into the catalog.
fn build_tracks(
    opts: &CatalogOptions,
    format: Format,
    cols: &Columns,
    id_col: usize,
    va_range: Option<VaRange>,
) -> Result<(Catalog, RowTally, TagCounts)> {
    // The track vectors are built with the catalog's weights (see `Catalog::push`).
    let mut cat = Catalog::new(opts.weights);
    if opts.keep_moods {
        cat.keep_moods();
    }
    let mut tally = RowTally::default();
    let mut tags = TagCounts::default();
    let mut seen = Seen::default();
    let expected = read::row_count(&opts.path, format);
    if let Some(rows) = expected {
        cat.reserve(rows);
        seen.first.reserve(rows);
    }
    let ctx = place::Context { cols, va_range, id_col, weights: opts.weights, keep_moods: opts.keep_moods };
    let work = |w: &mut place::Worker, hdr: &[String], chunk: Chunk| place::place(w, &ctx, hdr, chunk);
    let mut sized = false;
    read::par_chunks(&opts.path, format, None, &work, &mut |placed: place::Placed| {
        // The texts' arenas are sized from the first chunk's, as the
        // arrays were from the row count: growing them by doubling copied
        // and zeroed a few hundred megabytes more for a million tracks.
        if let Some(rows) = expected.filter(|_| !sized && placed.tracks.cols.len() > 0) {
            let per_track = |c: &StringColumn| c.data.len() / c.len() + 1;
            cat.tracks.reserve(0, placed.tracks.cols.texts().map(|c| rows * per_track(c) * 9 / 8));
            sized = true;
        }
        merge(&mut cat, &mut tally, &mut seen, &placed);
        tags.merge(placed.tags);
        true
    })?;
    Ok((cat, tally, tags))
}

/// Adds one placed chunk to the catalog, in file order.
fn merge(cat: &mut Catalog, tally: &mut RowTally, seen: &mut Seen, p: &place::Placed) {
    let t = &p.tracks;
    tally.with_extra += p.with_extra;
    // Messages past the kept ones are only counted: not worth a locator.
    let issue = |cat: &mut Catalog, r: usize, is_error: bool, reason: &dyn Fn() -> String| {
        if cat.issues.len() < super::MAX_ISSUES {
            cat.issue(&p.locators.get(r), is_error, reason());
        }
    };
    // The chunk's tracks that stay, copied in at the end; until then a
    // track of this chunk that `seen` points to is found here.
    let base = cat.len();
    let mut kept: Vec<u32> = Vec::with_capacity(t.cols.len());
    for (r, row) in p.rows.iter().enumerate() {
        tally.rows += 1;
        let i = match row {
            RowOut::Rejected(reason) => {
                tally.rejected += 1;
                issue(cat, r, true, &|| reason.clone());
                continue;
            }
            RowOut::Track(i) => *i,
        };
        let (id, hash, groups) = (t.cols.ids.get(i as usize), t.hashes[i as usize], t.groups[i as usize]);
        let id_of = |k: usize| if k < base { cat.tracks.ids.get(k) } else { t.cols.ids.get(kept[k - base] as usize) };
        if seen.contains(id, hash, id_of) {
            tally.duplicates += 1;
            issue(cat, r, false, &|| format!("duplicate track id `{id}`: the first row with it is kept"));
        } else if groups.is_empty() {
            tally.moodless += 1;
            issue(cat, r, false, &|| format!("track `{id}` has no usable mood information; skipped"));
        } else {
            for (k, g) in mood::GROUPS.iter().enumerate() {
                tally.coverage[k] += groups.has(*g) as u64;
            }
            seen.insert(id, hash, base + kept.len());
            kept.push(i);
        }
    }
    t.append_to(cat, &kept);
}

/// The ids taken so far, by `place::id_hash`, pointing at the first track
/// with that hash; ids whose hash an earlier, different id took are kept
/// whole in `collided` (for 64-bit hashes, in practice never).
#[derive(Default)]
struct Seen {
    first: foldhash::HashMap<u64, usize>,
    collided: HashSet<String>,
}

impl Seen {
    /// Whether `id` is taken; `id_of` gives the id of a track by its place.
    fn contains<'a>(&self, id: &str, hash: u64, id_of: impl Fn(usize) -> &'a str) -> bool {
        self.first.get(&hash).is_some_and(|&i| id_of(i) == id || self.collided.contains(id))
    }

    /// Takes `id` (not yet taken) for track `track`.
    fn insert(&mut self, id: &str, hash: u64, track: usize) {
        if let std::collections::hash_map::Entry::Vacant(v) = self.first.entry(hash) {
            v.insert(track);
        } else {
            self.collided.insert(id.to_string());
        }
    }
}

/// Running statistics of a numeric column (Welford).
#[derive(Default, Clone, Copy)]
struct Stats {
    n: u64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
}

impl Stats {
    fn add(&mut self, x: f64) {
        if self.n == 0 {
            (self.min, self.max) = (x, x);
        }
        self.n += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
    /// Adds another run of values (Chan et al.'s pairwise update).
    fn merge(&mut self, o: &Stats) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = (self.n + o.n) as f64;
        let d = o.mean - self.mean;
        self.m2 += o.m2 + d * d * self.n as f64 * o.n as f64 / n;
        self.mean += d * o.n as f64 / n;
        self.n += o.n;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    fn sd(&self) -> f64 {
        if self.n > 1 { (self.m2 / (self.n - 1) as f64).sqrt() } else { 0.0 }
    }
}

/// A CSV whose header came out as one column holding another delimiter was
/// read with the wrong one.
fn check_delimiter(path: &Path, format: Format, header: &[String]) -> Result<()> {
    let Format::Csv(used) = format else { return Ok(()) };
    if header.len() != 1 {
        return Ok(());
    }
    for (c, name) in [(b';', "semicolon"), (b'\t', "tab"), (b'|', "pipe"), (b',', "comma")] {
        if c != used && header[0].contains(c as char) {
            let shown = if c == b'\t' { "'\\t'".to_string() } else { format!("'{}'", c as char) };
            return Err(Error::input(
                path,
                format!(
                    "line 1: the header is a single column `{}`: the file looks {name}-separated, not `{}`-separated; \
                     set the `delimiter` to {shown}",
                    header[0], used as char
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two different ids with one hash (forced here; with 64-bit hashes it
    /// does not happen by chance) are both kept, and each is found again.
    #[test]
    fn ids_that_share_a_hash_stay_apart() {
        let mut ids = StringColumn::default();
        let mut seen = Seen::default();
        for (k, id) in ["a", "b", "c"].into_iter().enumerate() {
            let hash = if id == "c" { 2 } else { 1 };
            assert!(!seen.contains(id, hash, |i| ids.get(i)), "{id} is new");
            seen.insert(id, hash, k);
            ids.push(id);
        }
        for (id, hash) in [("a", 1), ("b", 1), ("c", 2)] {
            assert!(seen.contains(id, hash, |i| ids.get(i)), "{id} is taken");
        }
        assert!(!seen.contains("d", 1, |i| ids.get(i)));
        assert!(!seen.contains("a", 3, |i| ids.get(i)));
    }
}
