//! The catalog index: a catalog placed in the mood space once
//! (`pixtape catalog build`), so that the many workers of a sharded run
//! load it in one read instead of each parsing the source.
//!
//! Layout, little-endian:
//!
//! ```text
//! "PXTIDX02"                       8 bytes, the magic
//! header length (u64), header      JSON: pixtape version, mood-space
//!                                  version, the source's report (with its
//!                                  sha256) and issues, the track count n
//! groups                           n bytes (`Groups::bits`)
//! padding to 4 bytes
//! moods                            n × 37 f32, the mood vectors
//! 6 × string column                (ids, titles, artists, descriptors,
//!                                  locations, genres): byte length (u64),
//!                                  UTF-8 bytes, n end offsets (u64)
//! years                            n × u16, 0 when unknown
//! tempos                           n × f32, NaN when unknown
//! ```
//!
//! Mood vectors, not similarity vectors, are stored, so one index serves
//! any group weights: loading builds the similarity vectors on all cores.
//! An index made for another mood space (other dimensions) is refused.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tracks::{StringColumn, TrackColumns};
use super::{Catalog, CatalogIssue, CatalogReport};
use crate::atomic::AtomicFile;
use crate::engine::mood::{self, Groups, MoodVector, NUM_DIMS, Weights};
use crate::engine::similarity::TrackMatrix;
use crate::error::{Error, Result};

pub const MAGIC: &[u8; 8] = b"PXTIDX02";
/// Indexes of an earlier layout: recognised, and refused with advice.
const OLD_MAGICS: [&[u8; 8]; 1] = [b"PXTIDX01"];

#[derive(Serialize, Deserialize)]
struct Header {
    pixtape_version: String,
    mood_space: String,
    tracks: u64,
    source: CatalogReport,
    issues: Vec<CatalogIssue>,
}

/// The mood space's version: a hash of its dimension names, in order.
pub fn mood_space_version() -> String {
    let h = Sha256::digest(mood::DIM_NAMES.join(",").as_bytes());
    h[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `path` is a catalog index (by its first bytes).
pub fn is_index(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic)).is_ok()
        && (&magic == MAGIC || OLD_MAGICS.contains(&&magic))
}

/// Writes `catalog` (loaded with `keep_moods`) as an index at `out`,
/// atomically and synced to disk.
pub fn write(catalog: &Catalog, out: &Path) -> Result<()> {
    let mut file = AtomicFile::create(out)?;
    write_into(catalog, file.file(), out)?;
    file.commit(None)
}

/// Writes the index into `file` (named `out` in errors), unsynced: for the
/// catalog cache, whose entries are renamed into place by their writer and
/// rebuilt when they do not load, an fsync of a few hundred megabytes would
/// cost the first run more than the entry saves.
pub fn write_unsynced(catalog: &Catalog, out: &Path) -> Result<()> {
    let mut file = std::fs::File::create(out).map_err(|e| Error::io(out, e))?;
    write_into(catalog, &mut file, out)
}

fn write_into(catalog: &Catalog, file: &mut std::fs::File, out: &Path) -> Result<()> {
    let moods = catalog
        .moods()
        .ok_or_else(|| Error::Config("a catalog index needs the catalog loaded with its mood vectors".into()))?;
    let n = catalog.len();
    let header = Header {
        pixtape_version: env!("CARGO_PKG_VERSION").into(),
        mood_space: mood_space_version(),
        tracks: n as u64,
        source: CatalogReport { index: None, cache: None, cached: false, ..catalog.report.clone() },
        issues: catalog.issues.clone(),
    };
    let json = serde_json::to_vec(&header).map_err(|e| Error::output(out, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e| Error::io(out, e);
    w.write_all(MAGIC).map_err(io)?;
    w.write_all(&(json.len() as u64).to_le_bytes()).map_err(io)?;
    w.write_all(&json).map_err(io)?;
    let groups: Vec<u8> = catalog.groups.iter().map(|g| g.bits()).collect();
    w.write_all(&groups).map_err(io)?;
    let offset = 8 + 8 + json.len() + n;
    w.write_all(&[0u8; 4][..(4 - offset % 4) % 4]).map_err(io)?;
    for m in moods {
        w.write_all(bytemuck::cast_slice(m)).map_err(io)?;
    }
    for col in catalog.tracks.texts() {
        w.write_all(&(col.data.len() as u64).to_le_bytes()).map_err(io)?;
        w.write_all(col.data.as_bytes()).map_err(io)?;
        if cfg!(target_endian = "little") && size_of::<usize>() == 8 {
            // The layout already: one write, not one per string.
            w.write_all(bytemuck::cast_slice(&col.ends)).map_err(io)?;
        } else {
            for e in &col.ends {
                w.write_all(&(*e as u64).to_le_bytes()).map_err(io)?;
            }
        }
    }
    w.write_all(bytemuck::cast_slice(&catalog.tracks.years)).map_err(io)?;
    w.write_all(bytemuck::cast_slice(&catalog.tracks.tempos)).map_err(io)?;
    w.flush().map_err(io)
}

/// Loads the index at `path`, with the similarity weighted by `weights`.
/// The report is the source catalog's (its path, format and sha256, so a
/// run on the index and one on the source have the same fingerprint), with
/// `index` naming the file read.
pub fn load(path: &Path, weights: Weights, keep_moods: bool) -> Result<Catalog> {
    let started = Instant::now();
    weights.check()?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // Mapped, not read: the mood vectors are used where they lie, and only
    // the names are copied. SAFETY: the map is read-only and dropped when
    // this function returns; indexes are written under a temporary name and
    // renamed into place, never changed in place.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    let bytes: &[u8] = &map;
    let bad = |m: &str| {
        Error::input(path, format!("not a usable catalog index: {m}; rebuild it with `pixtape catalog build`"))
    };
    let mut at = 0usize;
    let mut take = |len: usize| -> Result<&[u8]> {
        let s = bytes.get(at..at + len).ok_or_else(|| bad("it is truncated"))?;
        at += len;
        Ok(s)
    };
    let magic = take(8)?;
    if OLD_MAGICS.iter().any(|m| &m[..] == magic) {
        return Err(bad("it was built by an earlier pixtape, in an older layout"));
    }
    if magic != MAGIC {
        return Err(bad("no index header"));
    }
    let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    let hlen = u64_at(take(8)?) as usize;
    let header: Header = serde_json::from_slice(take(hlen)?).map_err(|_| bad("its header does not parse"))?;
    if header.mood_space != mood_space_version() {
        return Err(bad(&format!(
            "it was built by pixtape {} for another mood space ({}, this one is {})",
            header.pixtape_version,
            header.mood_space,
            mood_space_version()
        )));
    }
    let n = header.tracks as usize;
    let groups: Vec<Groups> = take(n)?.iter().map(|b| Groups::from_bits(*b)).collect();
    // The moods start on a 4-byte boundary (see `write`).
    take((4 - (16 + hlen + n) % 4) % 4)?;
    let flat = floats(take(n * NUM_DIMS * 4)?);
    // The six text columns: located one after the other, then copied
    // and checked in parallel.
    let mut spans = Vec::with_capacity(6);
    for _ in 0..6 {
        let len = u64_at(take(8)?) as usize;
        spans.push((take(len)?, take(n * 8)?));
    }
    let years: Vec<u16> = take(n * 2)?.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
    let tempos = floats(take(n * 4)?).into_owned();
    use rayon::prelude::*;
    let columns: Vec<StringColumn> = spans
        .into_par_iter()
        .map(|(data, ends)| {
            let data = std::str::from_utf8(data).map_err(|_| bad("a text column is not UTF-8"))?.to_string();
            let ends: Vec<usize> = ends.chunks_exact(8).map(|c| u64_at(c) as usize).collect();
            if ends.windows(2).any(|w| w[0] > w[1]) || ends.last().is_some_and(|e| *e != data.len()) {
                return Err(bad("a text column's offsets are out of order"));
            }
            if ends.iter().any(|e| !data.is_char_boundary(*e)) {
                return Err(bad("a text column's offsets split a character"));
            }
            Ok(StringColumn { data, ends })
        })
        .collect::<Result<_>>()?;
    let mood_of = |i: usize| -> MoodVector { std::array::from_fn(|d| flat[i * NUM_DIMS + d]) };
    let matrix = TrackMatrix::build(n, |i| mood::sim_vector(&mood_of(i), groups[i], &weights, true));
    let mut columns = columns.into_iter();
    let mut next = || columns.next().unwrap_or_default();
    let moods = keep_moods.then(|| (0..n).map(mood_of).collect());
    let mut report = header.source;
    report.index = Some(path.display().to_string());
    report.load_seconds = started.elapsed().as_secs_f64();
    let tracks = TrackColumns {
        ids: next(),
        titles: next(),
        artists: next(),
        descriptors: next(),
        locations: next(),
        genres: next(),
        years,
        tempos,
    };
    Ok(Catalog { tracks, weights, matrix, groups, moods, report, issues: header.issues })
}

/// Little-endian f32s in place where the platform and the alignment allow
/// (always, for a mapped index on x86-64 and ARM), else decoded.
fn floats(raw: &[u8]) -> std::borrow::Cow<'_, [f32]> {
    if cfg!(target_endian = "little")
        && let Ok(f) = bytemuck::try_cast_slice::<u8, f32>(raw)
    {
        return std::borrow::Cow::Borrowed(f);
    }
    std::borrow::Cow::Owned(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}
