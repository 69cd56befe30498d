//! Coverage and bias: what a run recommends against what the catalog holds.
//!
//! - the share of the catalog's tracks (and artists) ever recommended;
//! - the Gini coefficient of exposure (picks per track, per artist) over
//!   the whole catalog, unrecommended tracks included: 0 when every track
//!   is picked equally often, near 1 when a few take every pick;
//! - the hubs: the tracks picked for the most images;
//! - the style mix of the picks against the catalog's (a track's style is
//!   its strongest style dimension in the mood space: acoustic, ambient,
//!   classical, ... metal), and by the catalog's own genre labels where it
//!   has them (a `genre` column, or MTG-Jamendo's `genre---` tags), by era (decade of release from
//!   1950, two wide bins before) and by
//!   tempo band where the catalog has years and tempi.
//!
//! Written to `coverage.json` beside the run's tables.

use foldhash::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::after::finished::Pick;
use crate::atomic::write_atomic;
use crate::catalog::Catalog;
use crate::engine::mood::{DIM_NAMES, Group};
use crate::error::Result;

pub const COVERAGE_FILE: &str = "coverage.json";
/// Hubs listed.
const HUBS: usize = 20;
/// Tempo bands, in BPM: [lower, upper).
const TEMPO_BANDS: [(f32, f32, &str); 5] = [
    (0.0, 80.0, "< 80 BPM"),
    (80.0, 100.0, "80–99 BPM"),
    (100.0, 120.0, "100–119 BPM"),
    (120.0, 140.0, "120–139 BPM"),
    (140.0, f32::INFINITY, "≥ 140 BPM"),
];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hub {
    pub track_id: String,
    pub title: String,
    pub artist: String,
    /// Playlists it is in.
    pub picks: u64,
    /// Of all playlists.
    pub share_of_playlists: f64,
}

/// One category's share of the picks and of the catalog.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MixRow {
    pub name: String,
    pub recommended: f64,
    pub catalog: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Coverage {
    pub catalog_tracks: u64,
    pub catalog_artists: u64,
    pub playlists: u64,
    pub picks: u64,
    pub distinct_tracks: u64,
    /// Distinct tracks recommended / catalog tracks.
    pub track_coverage: f64,
    pub distinct_artists: u64,
    pub artist_coverage: f64,
    pub gini_tracks: f64,
    pub gini_artists: f64,
    /// Mean score of the picks.
    pub mean_score: f64,
    /// Picks of a track not in the catalog (another catalog's run).
    pub unknown_tracks: u64,
    pub hubs: Vec<Hub>,
    pub styles: Vec<MixRow>,
    /// By the catalog's own genre labels, when it has them.
    pub genres: Option<Vec<MixRow>>,
    /// By decade, when the catalog has years.
    pub eras: Option<Vec<MixRow>>,
    /// When the catalog has tempi.
    pub tempo_bands: Option<Vec<MixRow>>,
}

/// Gini coefficient of non-negative values (0 for none or all zero).
pub fn gini(values: &mut [u64]) -> f64 {
    let n = values.len();
    let total: u64 = values.iter().sum();
    if n == 0 || total == 0 {
        return 0.0;
    }
    values.sort_unstable();
    let weighted: f64 = values.iter().enumerate().map(|(i, &x)| (i as f64 + 1.0) * x as f64).sum();
    2.0 * weighted / (n as f64 * total as f64) - (n as f64 + 1.0) / n as f64
}

/// A track's style: its strongest style dimension, or "none".
pub fn style_of(catalog: &Catalog, i: usize) -> &'static str {
    let v = catalog.matrix().vector(i);
    Group::Styles.dims().filter(|&d| v[d] > 0.0).max_by(|&a, &b| v[a].total_cmp(&v[b])).map_or("none", |d| DIM_NAMES[d])
}

fn band(tempo: f32) -> &'static str {
    TEMPO_BANDS.iter().find(|(lo, hi, _)| tempo >= *lo && tempo < *hi).map_or("?", |b| b.2)
}

/// Shares of each category among the picks and the catalog; categories in
/// `order` first, then the rest by catalog share.
fn mix(picked: &HashMap<String, u64>, held: &HashMap<String, u64>, order: &[&str]) -> Vec<MixRow> {
    let (pt, ht) = (picked.values().sum::<u64>().max(1) as f64, held.values().sum::<u64>().max(1) as f64);
    let mut names: Vec<&String> = held.keys().chain(picked.keys()).collect();
    names.sort_by(|a, b| {
        let pos = |s: &str| order.iter().position(|o| *o == s).unwrap_or(usize::MAX);
        pos(a).cmp(&pos(b)).then(held.get(*b).unwrap_or(&0).cmp(held.get(*a).unwrap_or(&0))).then(a.cmp(b))
    });
    names.dedup();
    names
        .into_iter()
        .map(|n| MixRow {
            name: n.clone(),
            recommended: *picked.get(n).unwrap_or(&0) as f64 / pt,
            catalog: *held.get(n).unwrap_or(&0) as f64 / ht,
        })
        .collect()
}

/// A name compared and hashed without case, borrowed: artists and genres
/// of millions of tracks are grouped without a lower-cased copy of each.
#[derive(Clone, Copy)]
struct Folded<'a>(&'a str);

impl PartialEq for Folded<'_> {
    fn eq(&self, o: &Self) -> bool {
        if self.0.is_ascii() && o.0.is_ascii() {
            return self.0.eq_ignore_ascii_case(o.0);
        }
        self.0.chars().flat_map(char::to_lowercase).eq(o.0.chars().flat_map(char::to_lowercase))
    }
}
impl Eq for Folded<'_> {}
impl std::hash::Hash for Folded<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // Lower-cased UTF-8 in blocks: one hasher call per 64 bytes, not
        // one per character (ASCII lower-cases to itself in UTF-8).
        let mut block = [0u8; 64];
        if self.0.is_ascii() {
            for chunk in self.0.as_bytes().chunks(64) {
                let b = &mut block[..chunk.len()];
                b.copy_from_slice(chunk);
                b.make_ascii_lowercase();
                h.write(b);
            }
            h.write_u8(0xff);
            return;
        }
        let mut len = 0;
        for c in self.0.chars().flat_map(char::to_lowercase) {
            if len + 4 > block.len() {
                h.write(&block[..len]);
                len = 0;
            }
            len += c.encode_utf8(&mut block[len..]).len();
        }
        h.write(&block[..len]);
        h.write_u8(0xff);
    }
}

/// An era's bucket: 0 before 1900, 1 for 1900–1949, else the decade.
fn era_bucket(year: u16) -> u16 {
    match year {
        ..1900 => 0,
        1900..1950 => 1,
        y => y / 10 * 10,
    }
}

/// Counts by key, turned into the owned names `mix` takes.
fn named<K: std::hash::Hash + Eq>(m: HashMap<K, u64>, name: impl Fn(&K) -> String) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::default();
    for (k, v) in m {
        *out.entry(name(&k)).or_default() += v;
    }
    out
}

/// Coverage of `picks` (from any number of playlists, each image's picks
/// together) over `catalog`.
pub fn measure(picks: &[Pick], catalog: &Catalog) -> Coverage {
    let mut tally = Tally::default();
    for p in picks {
        tally.add(&p.image_id, &p.track_id, p.score);
    }
    tally.finish(catalog)
}

/// Coverage of a run's `recommendations.parquet`, read a batch at a time
/// and only its image, track and score columns: a run of a million images
/// has twenty million picks, which need not be in memory at once.
pub fn measure_file(path: &Path, catalog: &Catalog) -> Result<Coverage> {
    use arrow_array::cast::AsArray;
    let mut tally = Tally::default();
    crate::after::finished::for_each_batch(path, &["image_id", "track_id", "score"], |b| {
        let text = |i: usize| b.column(i).as_string_opt::<i32>();
        let (Some(images), Some(tracks)) = (text(0), text(1)) else {
            return Err(crate::Error::input(path, "image_id and track_id must be text"));
        };
        let scores = b
            .column(2)
            .as_primitive_opt::<arrow_array::types::Float32Type>()
            .ok_or_else(|| crate::Error::input(path, "score must be float32"))?;
        for r in 0..b.num_rows() {
            tally.add(images.value(r), tracks.value(r), scores.value(r));
        }
        Ok(())
    })?;
    Ok(tally.finish(catalog))
}

/// Picks counted as they come. A run's picks come image by image (its
/// tables are in input order), so playlists are counted where the image
/// changes, without a set of every image id.
#[derive(Default)]
pub struct Tally {
    /// Picks per track id: at most the catalog's size.
    picked: HashMap<String, u64>,
    playlists: u64,
    last_image: Option<String>,
    picks: u64,
    score_sum: f64,
}

impl Tally {
    pub fn add(&mut self, image_id: &str, track_id: &str, score: f32) {
        if self.last_image.as_deref() != Some(image_id) {
            self.playlists += 1;
            self.last_image = Some(image_id.to_string());
        }
        self.picks += 1;
        self.score_sum += score as f64;
        match self.picked.get_mut(track_id) {
            Some(c) => *c += 1,
            None => {
                self.picked.insert(track_id.to_string(), 1);
            }
        }
    }

    /// The coverage of what was added over `catalog`: one pass over the
    /// catalog, with no allocation per track.
    pub fn finish(self, catalog: &Catalog) -> Coverage {
        finish(self, catalog)
    }
}

fn finish(tally: Tally, catalog: &Catalog) -> Coverage {
    let n = catalog.len();
    let Tally { picked, playlists, picks: picks_n, score_sum, .. } = tally;
    let mut per_track = vec![0u64; n];
    let mut matched = 0u64;
    // Artists without case; a track without one is an artist of its own.
    let mut artist_of: HashMap<Folded, usize> = HashMap::default();
    let mut per_artist: Vec<u64> = Vec::new();
    let (mut styles_held, mut styles_picked) = (HashMap::default(), HashMap::default());
    let (mut eras_held, mut eras_picked) = (HashMap::default(), HashMap::default());
    let (mut bands_held, mut bands_picked) = (HashMap::default(), HashMap::default());
    let (mut genres_held, mut genres_picked) = (HashMap::default(), HashMap::default());
    for i in 0..n {
        let t = catalog.track(i);
        let count = picked.get(t.id).copied().unwrap_or(0);
        per_track[i] = count;
        matched += count;
        if t.artist.is_empty() {
            per_artist.push(count);
        } else {
            let a = *artist_of.entry(Folded(t.artist)).or_insert_with(|| {
                per_artist.push(0);
                per_artist.len() - 1
            });
            per_artist[a] += count;
        }
        let style = style_of(catalog, i);
        *styles_held.entry(style).or_insert(0u64) += 1;
        if count > 0 {
            *styles_picked.entry(style).or_insert(0u64) += count;
        }
        if !t.genre.is_empty() {
            *genres_held.entry(Folded(t.genre)).or_insert(0u64) += 1;
            if count > 0 {
                *genres_picked.entry(Folded(t.genre)).or_insert(0u64) += count;
            }
        }
        if let Some(y) = t.year {
            *eras_held.entry(era_bucket(y)).or_insert(0u64) += 1;
            if count > 0 {
                *eras_picked.entry(era_bucket(y)).or_insert(0u64) += count;
            }
        }
        if let Some(b) = t.tempo {
            *bands_held.entry(band(b)).or_insert(0u64) += 1;
            if count > 0 {
                *bands_picked.entry(band(b)).or_insert(0u64) += count;
            }
        }
    }
    let unknown = picks_n - matched;
    let era_name = |b: &u16| match *b {
        0 => "before 1900".to_string(),
        1 => "1900–1949".to_string(),
        y => format!("{y}s"),
    };
    let mut eras_order: Vec<u16> = eras_held.keys().copied().collect();
    eras_order.sort();
    let eras_order: Vec<String> = eras_order.iter().map(era_name).collect();
    let (eras_held, eras_picked) = (named(eras_held, era_name), named(eras_picked, era_name));
    let lower = |g: &Folded| g.0.to_lowercase();
    let (genres_held, genres_picked) = (named(genres_held, lower), named(genres_picked, lower));
    let static_name = |s: &&str| s.to_string();
    let (styles_held, styles_picked) = (named(styles_held, static_name), named(styles_picked, static_name));
    let (bands_held, bands_picked) = (named(bands_held, static_name), named(bands_picked, static_name));
    let playlists_n = playlists;
    let mut ranked: Vec<usize> = (0..n).filter(|&i| per_track[i] > 0).collect();
    ranked.sort_by(|&a, &b| per_track[b].cmp(&per_track[a]).then(a.cmp(&b)));
    let hubs = ranked
        .iter()
        .take(HUBS)
        .map(|&i| {
            let t = catalog.track(i);
            Hub {
                track_id: t.id.to_string(),
                title: t.title.to_string(),
                artist: t.artist.to_string(),
                picks: per_track[i],
                share_of_playlists: per_track[i] as f64 / playlists_n.max(1) as f64,
            }
        })
        .collect();
    let distinct_tracks = ranked.len() as u64;
    let distinct_artists = per_artist.iter().filter(|&&c| c > 0).count() as u64;
    let style_order: Vec<&str> = Group::Styles.dims().map(|d| DIM_NAMES[d]).collect();
    let eras_order: Vec<&str> = eras_order.iter().map(String::as_str).collect();
    let band_order: Vec<&str> = TEMPO_BANDS.iter().map(|b| b.2).collect();
    Coverage {
        catalog_tracks: n as u64,
        catalog_artists: per_artist.len() as u64,
        playlists: playlists_n,
        picks: picks_n,
        distinct_tracks,
        track_coverage: distinct_tracks as f64 / n.max(1) as f64,
        distinct_artists,
        artist_coverage: distinct_artists as f64 / per_artist.len().max(1) as f64,
        gini_tracks: gini(&mut per_track),
        gini_artists: gini(&mut per_artist),
        mean_score: if picks_n == 0 { 0.0 } else { score_sum / picks_n as f64 },
        unknown_tracks: unknown,
        hubs,
        styles: mix(&styles_picked, &styles_held, &style_order),
        genres: (!genres_held.is_empty()).then(|| mix(&genres_picked, &genres_held, &[])),
        eras: (!eras_held.is_empty()).then(|| mix(&eras_picked, &eras_held, &eras_order)),
        tempo_bands: (!bands_held.is_empty()).then(|| mix(&bands_picked, &bands_held, &band_order)),
    }
}

/// Writes `coverage.json` into `out`.
pub fn write(out: &Path, c: &Coverage) -> Result<()> {
    let path = out.join(COVERAGE_FILE);
    let json = serde_json::to_vec_pretty(c).map_err(|e| crate::Error::output(&path, e))?;
    write_atomic(&path, &json)
}

/// A few lines for a person.
pub fn summary_lines(c: &Coverage) -> Vec<String> {
    let mut lines = vec![
        format!(
            "coverage: {} of {} tracks ({:.2} %) and {} of {} artists ({:.1} %) recommended in {} playlists",
            c.distinct_tracks,
            c.catalog_tracks,
            100.0 * c.track_coverage,
            c.distinct_artists,
            c.catalog_artists,
            100.0 * c.artist_coverage,
            c.playlists
        ),
        format!(
            "exposure Gini: tracks {:.3}, artists {:.3}; mean score {:.3}",
            c.gini_tracks, c.gini_artists, c.mean_score
        ),
    ];
    if let Some(h) = c.hubs.first() {
        lines.push(format!(
            "top hub: {} — {} in {} playlists ({:.0} %)",
            if h.title.is_empty() { &h.track_id } else { &h.title },
            h.artist,
            h.picks,
            100.0 * h.share_of_playlists
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::gini;

    #[test]
    fn gini_of_known_distributions() {
        assert_eq!(gini(&mut [5, 5, 5, 5]), 0.0);
        assert_eq!(gini(&mut []), 0.0);
        assert_eq!(gini(&mut [0, 0]), 0.0);
        // One of n holds everything: (n - 1) / n.
        assert!((gini(&mut [0, 0, 0, 8]) - 0.75).abs() < 1e-12);
        // 1, 2, 3: G = 2·(1 + 4 + 9) / (3·6) − 4/3 = 2/9.
        assert!((gini(&mut [3, 1, 2]) - 2.0 / 9.0).abs() < 1e-12);
    }
}
