//! The catalog cache: a source catalog (CSV, TSV, Parquet, JSON) placed in
//! the mood space once is kept as a catalog index (`index`), so that the
//! next run on the same file reads the index (a tenth of a second for a
//! million tracks) instead of parsing the source again (seconds).
//!
//! An entry's name is a hash of what decides the placement: the source's
//! sha256 and size, how it is read (column overrides, valence/arousal
//! scale, delimiter), the pixtape version and the mood space. The content's
//! hash, not the file's modification time, decides a hit: a copy or a
//! `touch` of the same catalog hits, an edit that keeps the time misses.
//! The hash is checked again against the entry's own record of its source.
//!
//! Entries are written under a name of their own process and renamed into
//! place, so shards of one array that start together may each build the
//! index, but never read a half-written one, and the last rename wins with
//! the same bytes. A hit refreshes the entry's modification time; beyond
//! `KEEP` entries the least recently used are removed. The cache only ever
//! saves time: an entry that does not load is rebuilt, and a folder that
//! cannot be written leaves the run as it would be without a cache.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::{Catalog, CatalogOptions, index};
use crate::error::{Error, Result};

/// The variable that names the cache folder (before the XDG default).
pub const CACHE_ENV: &str = "PIXTAPE_CACHE_DIR";
/// Entries kept; a million-track entry is about 300 MB.
pub const KEEP: usize = 8;
/// Temporary files older than this are the residue of a killed writer.
const STALE: Duration = Duration::from_secs(3600);

/// The default folder: `$PIXTAPE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/pixtape/catalogs`, else `~/.cache/pixtape/catalogs`.
pub fn default_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = var(CACHE_ENV) {
        return Some(d);
    }
    let base = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))?;
    Some(base.join("pixtape").join("catalogs"))
}

/// How a source is placed: the options, and the source's sha256.
pub type Parse = fn(&CatalogOptions, Option<String>) -> Result<Catalog>;

/// Loads the source catalog `opts.path` through the cache in `dir`;
/// `parse` places the source on a miss (given the source's sha256, known
/// by then). The entry is then left to the caller to write
/// (`PendingEntry::write`, or `write_beside` the run; `catalog::load`
/// writes it at once), and the catalog keeps its mood vectors until then:
/// a first run need not wait for a few hundred megabytes to be written
/// before it starts on its images.
pub fn load_deferred(opts: &CatalogOptions, dir: &Path, parse: Parse) -> Result<(Catalog, Option<PendingEntry>)> {
    let started = Instant::now();
    let sha256 = sha256_file(&opts.path)?;
    let bytes = std::fs::metadata(&opts.path).map(|m| m.len()).unwrap_or(0);
    let entry = dir.join(format!("{}.pxi", key(opts, &sha256, bytes)));
    if let Ok(mut cat) = index::load(&entry, opts.weights, opts.keep_moods)
        && cat.report.sha256 == sha256
        && cat.report.bytes == bytes
    {
        touch(&entry);
        cat.report.path = opts.path.display().to_string();
        cat.report.index = None;
        cat.report.cache = Some(entry.display().to_string());
        cat.report.cached = true;
        cat.report.load_seconds = started.elapsed().as_secs_f64();
        return Ok((cat, None));
    }
    // A miss (or an entry that does not load): place the source, keeping
    // the mood vectors the index stores, for the entry to be written.
    let mut cat = parse(&CatalogOptions { keep_moods: true, ..opts.clone() }, Some(sha256))?;
    cat.report.cache = Some(entry.display().to_string());
    cat.report.load_seconds = started.elapsed().as_secs_f64();
    Ok((cat, Some(PendingEntry { dir: dir.to_path_buf(), entry })))
}

/// A cache entry still to be written, for the catalog placed on a miss.
#[derive(Debug)]
pub struct PendingEntry {
    dir: PathBuf,
    entry: PathBuf,
}

impl PendingEntry {
    /// Writes the entry for `cat`, the catalog it was made for (still with
    /// its mood vectors), and trims the folder to `KEEP` entries. A folder
    /// that cannot be written only means the next run parses again.
    pub fn write(self, cat: &Catalog) -> Result<()> {
        write(cat, &self.dir, &self.entry)?;
        evict(&self.dir);
        Ok(())
    }
}

/// Runs `f` while `pending` (if any) is written on a thread of its own,
/// and returns once both are done: the entry of a first run is written
/// while the run works on its images.
pub fn write_beside<R>(cat: &Catalog, pending: Option<PendingEntry>, f: impl FnOnce() -> R) -> R {
    std::thread::scope(|s| {
        let writer = pending.map(|p| s.spawn(move || p.write(cat)));
        let out = f();
        if let Some(w) = writer {
            // A failed write costs the next run a parse, nothing more.
            let _ = w.join();
        }
        out
    })
}

/// The entry's name: sha256 over everything that decides the placement.
fn key(opts: &CatalogOptions, sha256: &str, bytes: u64) -> String {
    let mut h = Sha256::new();
    for part in [
        sha256.to_string(),
        bytes.to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
        index::mood_space_version(),
        format!("{:?}", opts.overrides),
        format!("{:?}", opts.va_range),
        format!("{:?}", opts.delimiter),
    ] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the entry under this process's own name, then renames it in.
fn write(cat: &Catalog, dir: &Path, entry: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let own = dir.join(format!(".{name}.{}", std::process::id()));
    index::write_unsynced(cat, &own)?;
    std::fs::rename(&own, entry).map_err(|e| {
        let _ = std::fs::remove_file(&own);
        Error::io(entry, e)
    })
}

fn touch(entry: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(entry) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Keeps the `KEEP` most recently used entries, and removes temporary
/// files a killed writer left.
fn evict(dir: &Path) {
    let Ok(read) = std::fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    let mut entries: Vec<(SystemTime, PathBuf)> = Vec::new();
    for e in read.flatten() {
        let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
        let modified = e.metadata().and_then(|m| m.modified()).unwrap_or(now);
        if name.starts_with('.') {
            if now.duration_since(modified).is_ok_and(|age| age > STALE) {
                let _ = std::fs::remove_file(&path);
            }
        } else if name.ends_with(".pxi") {
            entries.push((modified, path));
        }
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (_, path) in entries.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(path);
    }
}

/// The sha256 of a file's bytes, as hex.
pub fn sha256_file(path: &Path) -> Result<String> {
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
