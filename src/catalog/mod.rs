//! Catalog stage: a music catalog file to tracks placed in the mood space.
//!
//! Loading reads the file twice, streaming: the first pass learns the
//! columns and the range of the valence/arousal columns, the second turns
//! each row into a track. Memory is the tracks themselves (a similarity
//! vector and four short strings each, kept in flat arenas), never the file.
//! A bad row is reported with its line and skipped; a file that cannot be a
//! catalog at all (empty, no id column, nothing to say about mood, the wrong
//! delimiter) is an error naming the file, the line and the column.

pub mod columns;
pub mod features;
pub mod read;
pub mod synth;

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::mood::{self, Groups, MoodVector, Weights};
use crate::similarity::TrackMatrix;
use columns::{Columns, Role};
use features::{AudioFeatures, Evidence, VaRange};
use read::{Cell, Format, Row};

/// Issues kept in memory for the errors table; later ones are only counted.
const MAX_ISSUES: usize = 10_000;

#[derive(Clone, Debug)]
pub struct CatalogOptions {
    pub path: PathBuf,
    /// `--catalog-columns` overrides.
    pub overrides: Vec<(Role, Vec<String>)>,
    /// Declared scale of valence/arousal; detected when `None`.
    pub va_range: Option<VaRange>,
    /// Field delimiter for CSV/TSV when not the extension's.
    pub delimiter: Option<u8>,
    pub weights: Weights,
}

impl CatalogOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CatalogOptions {
            path: path.into(),
            overrides: Vec::new(),
            va_range: None,
            delimiter: None,
            weights: Weights::default(),
        }
    }
}

/// Strings of all tracks, one arena per field.
#[derive(Default, Debug)]
struct StringColumn {
    data: String,
    ends: Vec<usize>,
}

impl StringColumn {
    fn push(&mut self, s: &str) {
        self.data.push_str(s);
        self.ends.push(self.data.len());
    }
    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }
}

/// A bad or doubtful catalog row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogIssue {
    /// "file:line" or "file: row n".
    pub locator: String,
    /// Errors drop the row; warnings keep or skip it with a note.
    pub is_error: bool,
    pub reason: String,
}

/// What loading found, for the manifest and the log.
#[derive(Clone, Debug, Default, Serialize)]
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
}

/// Tracks in the mood space.
#[derive(Debug, Default)]
pub struct Catalog {
    ids: StringColumn,
    titles: StringColumn,
    artists: StringColumn,
    descriptors: StringColumn,
    /// The group weights every track vector was built with; queries take
    /// theirs from here, so the two sides cannot disagree.
    weights: Weights,
    /// One similarity vector per track (see `mood::sim_vector`), in panels.
    matrix: TrackMatrix,
    pub groups: Vec<Groups>,
    pub report: CatalogReport,
    pub issues: Vec<CatalogIssue>,
}

/// One track's identity, borrowed from the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub artist: &'a str,
    /// A few words about the track as the catalog describes it.
    pub descriptor: &'a str,
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
        TrackRef {
            id: self.ids.get(i),
            title: self.titles.get(i),
            artist: self.artists.get(i),
            descriptor: self.descriptors.get(i),
        }
    }

    /// Adds a track of mood `mood`, carrying the mood groups `groups`.
    /// Its similarity vector is built here, with the catalog's weights.
    pub fn push(&mut self, track: TrackRef, mood: &MoodVector, groups: Groups) {
        self.ids.push(track.id);
        self.titles.push(track.title);
        self.artists.push(track.artist);
        self.descriptors.push(track.descriptor);
        self.matrix.push(&mood::sim_vector(mood, groups, &self.weights, true));
        self.groups.push(groups);
    }

    fn issue(&mut self, locator: &str, is_error: bool, reason: String) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(CatalogIssue { locator: locator.to_string(), is_error, reason });
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
    fn sd(&self) -> f64 {
        if self.n > 1 { (self.m2 / (self.n - 1) as f64).sqrt() } else { 0.0 }
    }
}

fn number(cell: &Cell) -> std::result::Result<Option<f64>, String> {
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

/// Loads a catalog into the mood space.
pub fn load(opts: &CatalogOptions) -> Result<Catalog> {
    let started = std::time::Instant::now();
    opts.weights.check()?;
    let path = &opts.path;
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a directory; --catalog takes a catalog file"));
    }
    if meta.len() == 0 {
        return Err(Error::input(path, "catalog is empty (0 bytes)"));
    }
    let format = read::format_of(path, opts.delimiter)?;
    let header = read::header(path, format)?;
    check_delimiter(path, format, &header)?;
    let mut cols = columns::detect(&header, &opts.overrides, &file)?;
    let id_col = cols.get(Role::Id).ok_or_else(|| {
        Error::input(
            path,
            format!(
                "line 1: no track id column (looked for {}); the columns are: {}. Name one with --catalog-columns id=COLUMN",
                Role::Id.synonyms().join(", "),
                header.join(", ")
            ),
        )
    })?;
    let has_va = cols.has(Role::Valence) && cols.has(Role::Arousal);
    let has_features = cols.has(Role::Energy);
    let sources: Vec<String> = [
        (has_va, "valence/arousal"),
        (has_features, "audio features"),
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
                 (energy, ...), tags or an embedding column; the columns are: {}. Map one with --catalog-columns",
                header.join(", ")
            ),
        ));
    }

    // Pass 1: the valence/arousal scale.
    let va_roles = [Role::Valence, Role::Arousal];
    let mut stats = [Stats::default(); 2];
    if opts.va_range.is_none() && (has_va || has_features) && cols.has(Role::Valence) {
        read::for_each_row(path, format, &mut |_, row| {
            for (k, role) in va_roles.iter().enumerate() {
                if let Some(c) = cols.get(*role)
                    && let Ok(Some(x)) = number(&row.cells[c])
                {
                    stats[k].add(x);
                }
            }
            true
        })?;
    }
    let va_range = match opts.va_range {
        Some(r) => Some(r),
        None if cols.has(Role::Valence) => {
            let (lo, hi) = (stats[0].min.min(stats[1].min), stats[0].max.max(stats[1].max));
            let s = if stats[1].n > 0 { [stats[0], stats[1]] } else { [stats[0], stats[0]] };
            let detected = VaRange::detect(lo, hi, (s[0].mean + s[1].mean) / 2.0, (s[0].sd() + s[1].sd()) / 2.0);
            if detected.is_none() && stats[0].n > 0 {
                return Err(Error::input(
                    path,
                    format!(
                        "column {}: cannot tell the scale of valence/arousal (values from {lo} to {hi}); \
                         declare it with --va-range unit|signed|1-9|0-100|z",
                        header[cols.get(Role::Valence).unwrap_or(0)]
                    ),
                ));
            }
            detected
        }
        None => None,
    };

    // Pass 2: tracks.
    let mut cat = Catalog::new(opts.weights);
    let mut seen: HashSet<String> = HashSet::new();
    let mut unknown: HashMap<String, u64> = HashMap::new();
    let (mut rows, mut rejected, mut dupes, mut moodless, mut known_uses, mut unknown_uses) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut coverage = [0u64; 4];
    let mut rows_with_extra = 0u64;
    read::for_each_row(path, format, &mut |hdr, row| {
        rows += 1;
        let Row { locator, cells, extra } = row;
        rows_with_extra += !extra.is_empty() as u64;
        let id = match cells.get(id_col).and_then(Cell::text) {
            Some(id) => id,
            None => {
                rejected += 1;
                cat.issue(&locator, true, format!("column {}: no track id", hdr[id_col]));
                return true;
            }
        };
        let mut evidence = Evidence::default();
        if let Err(reason) = gather(
            &cols,
            hdr,
            &cells,
            &extra,
            va_range,
            &mut evidence,
            &mut unknown,
            &mut known_uses,
            &mut unknown_uses,
        ) {
            rejected += 1;
            cat.issue(&locator, true, reason);
            return true;
        }
        if seen.contains(&id) {
            dupes += 1;
            cat.issue(&locator, false, format!("duplicate track id `{id}`: the first row with it is kept"));
            return true;
        }
        let (vector, groups) = features::track_mood(&evidence);
        if groups.is_empty() {
            moodless += 1;
            cat.issue(&locator, false, format!("track `{id}` has no usable mood information; skipped"));
            return true;
        }
        for (k, g) in mood::GROUPS.iter().enumerate() {
            coverage[k] += groups.has(*g) as u64;
        }
        seen.insert(id.clone());
        let text = |role| cols.get(role).and_then(|c| cells[c].text()).unwrap_or_default();
        let descriptor = describe(&evidence);
        cat.push(
            TrackRef { id: &id, title: &text(Role::Title), artist: &text(Role::Artist), descriptor: &descriptor },
            &vector,
            groups,
        );
        true
    })?;
    if rows == 0 {
        return Err(Error::input(path, "catalog has a header but no rows"));
    }
    cols.trailing_tags &= rows_with_extra > 0;
    if cat.is_empty() {
        let first =
            cat.issues.first().map(|i| format!(" (first problem: {}: {})", i.locator, i.reason)).unwrap_or_default();
        return Err(Error::input(path, format!("none of the {rows} rows is a usable track{first}")));
    }
    let mut unknown: Vec<(String, u64)> = unknown.into_iter().collect();
    unknown.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    unknown.truncate(25);
    let claimed: HashSet<usize> = cols.by_role.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    cat.report = CatalogReport {
        path: file,
        format: format.name().to_string(),
        sha256: sha256_file(path)?,
        bytes: meta.len(),
        rows,
        tracks: cat.len() as u64,
        rejected_rows: rejected,
        duplicate_ids: dupes,
        rows_without_mood: moodless,
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
        known_tag_uses: known_uses,
        unknown_tag_uses: unknown_uses,
        unknown_tags: unknown,
        group_coverage: mood::GROUPS.iter().zip(coverage).map(|(g, n)| (g.name().to_string(), n)).collect(),
        load_seconds: 0.0,
    };
    cat.report.load_seconds = started.elapsed().as_secs_f64();
    Ok(cat)
}

/// Reads one row's evidence; an `Err` names the column and the problem.
#[allow(clippy::too_many_arguments)]
fn gather(
    cols: &Columns,
    hdr: &[String],
    cells: &[Cell],
    extra: &[Cell],
    va_range: Option<VaRange>,
    e: &mut Evidence,
    unknown: &mut HashMap<String, u64>,
    known_uses: &mut u64,
    unknown_uses: &mut u64,
) -> std::result::Result<(), String> {
    let num = |role: Role| -> std::result::Result<Option<f64>, String> {
        match cols.get(role) {
            None => Ok(None),
            Some(c) => number(&cells[c]).map_err(|m| format!("column {}: {m}", hdr[c])),
        }
    };
    for role in [Role::Valence, Role::Arousal] {
        if let Some(x) = num(role)? {
            let range = va_range.unwrap_or(VaRange::Unit);
            if !range.admits(x) {
                let c = cols.get(role).unwrap_or(0);
                return Err(format!("column {}: {x} is outside the {} range {}", hdr[c], role.name(), range.name()));
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
    for cell in tag_cells {
        let Some(text) = cell.text() else { continue };
        for t in features::split_tags(&text) {
            let k = features::tag_key(t);
            if k.is_empty() {
                continue;
            }
            if features::VOCABULARY.contains_key(&k) {
                *known_uses += 1;
                if !e.tags.contains(&k) {
                    e.tags.push(k);
                }
            } else {
                *unknown_uses += 1;
                *unknown.entry(t.to_lowercase()).or_default() += 1;
            }
        }
    }
    if let Some(c) = cols.get(Role::Embedding) {
        e.embedding = parse_embedding(&cells[c]).map_err(|m| format!("column {}: {m}", hdr[c]))?;
    }
    Ok(())
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

/// A short description of what the catalog says about a track.
fn describe(e: &Evidence) -> String {
    let vocab = &*features::VOCABULARY;
    let mut parts: Vec<String> = e.tags.iter().take(4).filter_map(|k| vocab.get(k).map(|t| t.name.clone())).collect();
    let f = &e.features;
    if parts.is_empty() {
        if let Some(x) = f.energy {
            parts.push(format!("energy {x:.2}"));
        }
        if let Some(x) = f.danceability {
            parts.push(format!("danceability {x:.2}"));
        }
        if let Some(x) = f.acousticness.filter(|x| *x >= 0.5) {
            parts.push(format!("acousticness {x:.2}"));
        }
    }
    if parts.is_empty()
        && let (Some(v), Some(a)) = (e.valence, e.arousal)
    {
        parts.push(format!("valence {v:+.2}, arousal {a:+.2}"));
    }
    if parts.is_empty() && e.embedding.is_some() {
        parts.push("mood embedding".into());
    }
    if let Some(t) = f.tempo.filter(|t| *t > 0.0) {
        parts.push(format!("{t:.0} BPM"));
    }
    parts.join(", ")
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
            let flag = if c == b'\t' { "'\\t'".to_string() } else { format!("'{}'", c as char) };
            return Err(Error::input(
                path,
                format!(
                    "line 1: the header is a single column `{}`: the file looks {name}-separated, not `{}`-separated; \
                     pass --catalog-delimiter {flag}",
                    header[0], used as char
                ),
            ));
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
