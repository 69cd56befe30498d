//! Video parts: a video run commits each video as soon as it is read, so a
//! killed run resumes from the videos it finished instead of decoding them
//! again. One video is one input, as one photo is in a photo run.
//!
//! While a run is under way, each read video's rows go to `OUT/_parts/` as
//! files of its own part number (`scenes-00003.parquet`,
//! `recommendations-00003.parquet`, `soundtrack-00003.parquet`,
//! `cues-00003.csv`, `edl-00003.edl`, and `strip-00003.html` when the run
//! writes a report), each written atomically. Once they are in place, one
//! line is appended to `videos.jsonl` (and synced) naming the video and its
//! counts; a video that failed is only that line. The journal's first line
//! holds the run's fingerprint. A video is committed exactly when its line
//! is whole: a line cut short by a kill, and files of parts no line names,
//! are removed on resume.
//!
//! At the end the run joins the parts in listing order into its tables
//! (`video::assemble`), so a resumed run writes what an uninterrupted one
//! does. The journal is append-only rather than rewritten, so a folder of
//! thousands of short clips costs a line per clip, not a file each time.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::run::Progress;
use crate::run::output::{PARTS_DIR, VIDEO_JOURNAL_FILE};
use crate::run::shard;

#[derive(Serialize, Deserialize)]
struct Header {
    pixtape_version: String,
    /// The run's fingerprint; parts of another run are never resumed.
    fingerprint: String,
}

/// One committed video: read (its part's files hold its rows) or failed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DoneVideo {
    pub id: String,
    pub path: String,
    /// Its files' number in the parts folder (none for a failed video).
    pub part: u32,
    /// Why it could not be read: the stage and the reason.
    pub failure: Option<(String, String)>,
    /// Something odd but harmless FFmpeg said while decoding.
    pub warning: Option<String>,
    pub scenes: u64,
    pub recommendations: u64,
    pub cues: u64,
    /// Seconds the video runs.
    pub seconds: f64,
    /// Seconds spent waiting for FFmpeg's frames.
    pub decode_seconds: f64,
}

/// The parts folder of a video run being written.
pub struct VideoParts {
    dir: PathBuf,
    journal: File,
    done: Vec<DoneVideo>,
    by_id: HashMap<String, usize>,
}

impl VideoParts {
    /// Opens `out`'s parts folder for the run with `fingerprint`, going on
    /// from what an earlier attempt of the same run committed. Parts of a
    /// run with another fingerprint are discarded, with a note; a shard
    /// (`strict`) refuses them instead, as a photo run's shard does.
    pub fn open(out: &Path, fingerprint: &str, strict: bool, progress: &dyn Progress) -> Result<VideoParts> {
        let dir = out.join(PARTS_DIR);
        let path = dir.join(VIDEO_JOURNAL_FILE);
        let mut done = Vec::new();
        match read_journal(&path)? {
            Some((header, videos)) if header.fingerprint == fingerprint => done = videos,
            Some((header, _)) if strict => {
                return Err(shard::another_run(
                    &dir,
                    "committed videos of another run",
                    &header.fingerprint,
                    fingerprint,
                    "videos",
                ));
            }
            Some((_, videos)) => {
                progress.note(&format!(
                    "{}: discarding {} committed videos of an earlier run with other videos, catalog or settings",
                    out.display(),
                    videos.len()
                ));
            }
            None => {}
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        remove_uncommitted(&dir, &done)?;
        // Rewritten whole once per start: drops a line a kill cut short, so
        // the appends that follow begin on a fresh line.
        let header = Header { pixtape_version: env!("CARGO_PKG_VERSION").into(), fingerprint: fingerprint.into() };
        let mut text = json_line(&path, &header)?;
        for v in &done {
            text.push_str(&json_line(&path, v)?);
        }
        write_atomic(&path, text.as_bytes())?;
        let journal = OpenOptions::new().append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        let by_id = done.iter().enumerate().map(|(i, v)| (v.id.clone(), i)).collect();
        Ok(VideoParts { dir, journal, done, by_id })
    }

    /// The committed video of id `id`, if any.
    pub fn get(&self, id: &str) -> Option<&DoneVideo> {
        self.by_id.get(id).map(|&i| &self.done[i])
    }

    /// Videos committed so far, this attempt's and earlier ones'.
    pub fn committed(&self) -> usize {
        self.done.len()
    }

    /// The part number the next read video's files take.
    pub fn next_part(&self) -> u32 {
        self.done.len() as u32
    }

    /// Where table or file `name` (`scenes.parquet`, `cues.csv`, …) of part
    /// `part` goes: `scenes-00003.parquet`.
    pub fn file(&self, name: &str, part: u32) -> PathBuf {
        part_file(&self.dir, name, part)
    }

    /// Commits `video`, whose part's files are already in place.
    pub fn commit(&mut self, video: DoneVideo) -> Result<()> {
        let path = self.dir.join(VIDEO_JOURNAL_FILE);
        let line = json_line(&path, &video)?;
        self.journal.write_all(line.as_bytes()).map_err(|e| Error::io(&path, e))?;
        self.journal.sync_data().map_err(|e| Error::io(&path, e))?;
        self.by_id.insert(video.id.clone(), self.done.len());
        self.done.push(video);
        Ok(())
    }
}

/// `scenes.parquet` of part 3 in `dir`: `dir/scenes-00003.parquet`.
pub fn part_file(dir: &Path, name: &str, part: u32) -> PathBuf {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    dir.join(format!("{stem}-{part:05}.{ext}"))
}

/// The journal's header and committed videos; `None` when there is none.
/// A last line without its newline is a write a kill cut short: not
/// committed. Any other line that does not parse is an error.
fn read_journal(path: &Path) -> Result<Option<(Header, Vec<DoneVideo>)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let bad = |n: usize, e: serde_json::Error| {
        Error::input(path, format!("line {n} does not parse ({e}); remove {PARTS_DIR}/ to start over"))
    };
    let whole = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => return Ok(None),
    };
    let mut lines = whole.lines();
    let Some(first) = lines.next() else { return Ok(None) };
    let header: Header = serde_json::from_str(first).map_err(|e| bad(1, e))?;
    let videos = lines.enumerate().map(|(i, l)| serde_json::from_str(l).map_err(|e| bad(i + 2, e)));
    Ok(Some((header, videos.collect::<Result<_>>()?)))
}

fn json_line(path: &Path, value: &impl Serialize) -> Result<String> {
    let mut line = serde_json::to_string(value).map_err(|e| Error::output(path, e))?;
    line.push('\n');
    Ok(line)
}

/// Removes what a kill left: temporary files, and files of parts that no
/// committed line names.
fn remove_uncommitted(dir: &Path, done: &[DoneVideo]) -> Result<()> {
    let committed: std::collections::HashSet<u32> =
        done.iter().filter(|v| v.failure.is_none()).map(|v| v.part).collect();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == VIDEO_JOURNAL_FILE {
            continue;
        }
        let part = name.rsplit_once('.').and_then(|(s, _)| s.rsplit_once('-')).and_then(|(_, p)| p.parse().ok());
        if name.ends_with(".partial") || part.is_none_or(|p| !committed.contains(&p)) {
            std::fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))?;
        }
    }
    Ok(())
}
