//! Catalog stage, loading: a catalog file to a `Catalog` in two streaming
//! passes. The first learns the scale of the valence/arousal columns, which
//! must be known before any value is normalised; the second turns each row
//! into a track or an issue. Neither pass holds the file.

use foldhash::HashSet;
use std::path::Path;
use std::time::Instant;

use super::columns::{self, Columns, Role};
use super::evidence::{self, RowReader, TagCounts};
use super::features::{self, VaRange};
use super::read::{self, Cell, Format, Row};
use super::{Catalog, CatalogOptions, CatalogReport, TrackRef};
use crate::engine::mood;
use crate::error::{Error, Result};

/// Unknown tags named in the report.
const REPORTED_UNKNOWN_TAGS: usize = 25;

/// Loads a catalog into the mood space: an index as it is, a source
/// through the cache when `opts.cache` names one.
pub fn load(opts: &CatalogOptions) -> Result<Catalog> {
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
        return super::index::load(path, opts.weights, opts.keep_moods);
    }
    match &opts.cache {
        Some(dir) => super::cache::load(opts, dir, parse),
        None => parse(opts),
    }
}

/// Places a source catalog (not an index), reading it whole.
pub(super) fn parse(opts: &CatalogOptions) -> Result<Catalog> {
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
    let claimed: HashSet<usize> = cols.by_role.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    cat.report = CatalogReport {
        path: file,
        format: format.name().to_string(),
        sha256: super::cache::sha256_file(path)?,
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
        let work = |_: &[String], rows: Vec<Row>| {
            let mut stats = [Stats::default(); 2];
            for row in rows {
                for (k, role) in va_roles.iter().enumerate() {
                    if let Some(c) = cols.get(*role)
                        && let Ok(Some(x)) = evidence::number(&row.cells[c])
                    {
                        stats[k].add(x);
                    }
                }
            }
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
/// duplicate or moodless.
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
    let mut seen: HashSet<String> = HashSet::default();
    if let Some(rows) = read::row_count(&opts.path, format) {
        cat.reserve(rows);
        seen.reserve(rows);
    }
    // Each chunk of rows becomes evidence and mood vectors on every core;
    // what depends on the rows before it (duplicates, the order of tracks
    // and issues) is decided here, in file order.
    let work = |hdr: &[String], rows: Vec<Row>| {
        let mut reader = RowReader { cols, va_range, tags: TagCounts::default() };
        let items: Vec<Item> = rows.into_iter().map(|row| read_row(&mut reader, hdr, id_col, row)).collect();
        (items, reader.tags)
    };
    read::par_chunks(&opts.path, format, None, &work, &mut |(items, chunk_tags)| {
        tags.merge(chunk_tags);
        for item in items {
            tally.rows += 1;
            tally.with_extra += item.with_extra as u64;
            match item.kind {
                ItemKind::Rejected(reason) => {
                    tally.rejected += 1;
                    cat.issue(&item.locator, true, reason);
                }
                ItemKind::Track { id, .. } if seen.contains(&id) => {
                    tally.duplicates += 1;
                    cat.issue(
                        &item.locator,
                        false,
                        format!("duplicate track id `{id}`: the first row with it is kept"),
                    );
                }
                ItemKind::Track { id, groups, .. } if groups.is_empty() => {
                    tally.moodless += 1;
                    cat.issue(&item.locator, false, format!("track `{id}` has no usable mood information; skipped"));
                }
                ItemKind::Track { id, vector, groups, title, artist, descriptor, location, genre, year, tempo } => {
                    for (k, g) in mood::GROUPS.iter().enumerate() {
                        tally.coverage[k] += groups.has(*g) as u64;
                    }
                    let track = TrackRef {
                        id: &id,
                        title: &title,
                        artist: &artist,
                        descriptor: &descriptor,
                        location: &location,
                        genre: &genre,
                        year,
                        tempo,
                    };
                    cat.push(track, &vector, groups);
                    seen.insert(id);
                }
            }
        }
        true
    })?;
    Ok((cat, tally, tags))
}

/// One row, read on a worker: a track (perhaps a duplicate or moodless,
/// which only the merge can tell) or the reason it is rejected.
struct Item {
    locator: String,
    with_extra: bool,
    kind: ItemKind,
}

enum ItemKind {
    Rejected(String),
    Track {
        id: String,
        vector: mood::MoodVector,
        groups: mood::Groups,
        title: String,
        artist: String,
        descriptor: String,
        location: String,
        genre: String,
        year: Option<u16>,
        tempo: Option<f32>,
    },
}

fn read_row(reader: &mut RowReader, hdr: &[String], id_col: usize, row: Row) -> Item {
    let Row { locator, cells, extra } = row;
    let with_extra = !extra.is_empty();
    let kind = match cells.get(id_col).and_then(Cell::text) {
        None => ItemKind::Rejected(format!("column {}: no track id", hdr[id_col])),
        Some(id) => match reader.evidence(hdr, &cells, &extra) {
            Err(reason) => ItemKind::Rejected(reason),
            Ok(evidence) => {
                let (vector, groups) = features::track_mood(&evidence);
                let cols = reader.cols;
                let text = |role| cols.get(role).and_then(|c| cells[c].text()).unwrap_or_default();
                ItemKind::Track {
                    id,
                    vector,
                    groups,
                    title: text(Role::Title),
                    artist: text(Role::Artist),
                    descriptor: evidence::describe(&evidence),
                    location: text(Role::Location),
                    genre: genre_of(cols, &cells, &extra),
                    year: cols.get(Role::Year).and_then(|c| year_of(&cells[c])),
                    tempo: evidence.features.tempo.filter(|t| *t > 0.0),
                }
            }
        },
    };
    Item { locator, with_extra, kind }
}

/// A row's genre: the first value of a `genre` column, else the first
/// MTG-Jamendo style `genre---x` tag of any tags cell; "" when neither.
fn genre_of(cols: &Columns, cells: &[Cell], extra: &[Cell]) -> String {
    let tags = cols.all(Role::Tags);
    if let Some(g) = tags
        .iter()
        .filter(|&&c| cols.is_genre(c))
        .filter_map(|&c| cells[c].text())
        .find_map(|t| features::split_tags(&t).next().map(str::to_string))
    {
        return g;
    }
    let trailing = if cols.trailing_tags { extra } else { &[] };
    tags.iter()
        .map(|&c| &cells[c])
        .chain(trailing)
        .filter_map(Cell::text)
        .find_map(|t| {
            t.split([',', '|', ';']).find_map(|tag| tag.trim().strip_prefix("genre---").map(|g| g.trim().to_string()))
        })
        .unwrap_or_default()
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
            let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.len() != 4 {
                return None;
            }
            digits.parse().ok()?
        }
        _ => return None,
    };
    (1000..=2100).contains(&y).then_some(y as u16)
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
