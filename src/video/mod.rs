//! Videos in, soundtracks out: each video is cut into scenes, each scene's
//! keyframes are read as photos are, each scene gets a playlist, and the
//! film gets one soundtrack that follows its scenes, with cue sheets an
//! editor imports.
//!
//! `decode` runs FFmpeg and streams sampled frames, `scenes` finds the
//! cuts and fades, `keyframes` keeps a scene's frames and reads its mood,
//! `read` joins those three over one video, `soundtrack` picks a track per
//! scene, `output` and `report` render a film's rows, cue sheets and strip,
//! `parts` commits each video as it is read, and `assemble` writes a film's
//! part and joins the parts into the run's outputs. `run` below does them
//! in order for every video. A video that cannot be read becomes a row of
//! `errors.parquet` and the run goes on.

pub mod assemble;
pub mod decode;
pub mod keyframes;
pub mod manifest;
pub mod output;
pub mod parts;
pub mod read;
pub mod report;
pub mod scenes;
pub mod soundtrack;

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::engine::backend::Model;
use crate::engine::decode::DecodeLimits;
use crate::error::{Error, Result};
use crate::recommend::Recommender;
use crate::recommend::playlist::Exposure;
use crate::run::Progress;
use crate::run::output::{OutputLock, remove_parts};
use crate::run::shard::{InputDigest, Shard};
use keyframes::FrameAnalyser;
use parts::{DoneVideo, VideoParts};
use read::Sampling;

/// File extensions taken from a folder (any case); a file named on the
/// command line is tried whatever its name.
pub const VIDEO_EXTENSIONS: &[&str] =
    &["mp4", "m4v", "mov", "mkv", "webm", "avi", "ogv", "ogg", "mpg", "mpeg", "ts", "mts", "m2ts", "wmv", "flv", "3gp"];

/// Everything a video run needs besides the model and the recommender.
#[derive(Clone, Debug)]
pub struct VideoSettings {
    /// Video files, and folders walked for them.
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub sampling: Sampling,
    pub limits: DecodeLimits,
    /// The face detector's threshold; `None` skips faces.
    pub faces: Option<f32>,
    /// The people cue a keyframe needs to have its faces searched.
    pub face_gate: f32,
    /// Also write `report.html`: each film's scenes as a strip.
    pub report: bool,
    /// Read only this shard's videos, into `OUT/shard-IIIII-of-NNNNN/`.
    pub shard: Option<Shard>,
    /// The sha256 of the profile whose mood head the model reads with.
    pub profile: Option<String>,
}

impl VideoSettings {
    pub fn new(inputs: Vec<PathBuf>, out: impl Into<PathBuf>) -> Self {
        VideoSettings {
            inputs,
            out: out.into(),
            sampling: Sampling::default(),
            limits: DecodeLimits::default(),
            faces: None,
            face_gate: crate::engine::faces::DEFAULT_GATE,
            report: false,
            shard: None,
            profile: None,
        }
    }

    /// How faces are searched, when they are.
    pub fn face_search(&self) -> Option<crate::engine::faces::Search> {
        self.faces.map(|threshold| crate::engine::faces::Search { threshold, gate: self.face_gate })
    }

    /// Where this run (or shard) writes.
    pub fn out_dir(&self) -> PathBuf {
        self.shard.as_ref().map_or_else(|| self.out.clone(), |s| s.dir(&self.out))
    }
}

/// What a video run did.
#[derive(Clone, Debug, Default)]
pub struct VideoSummary {
    /// Videos this run (or shard) owns, and those that failed.
    pub videos: u64,
    pub failed: u64,
    /// Videos an earlier, interrupted attempt had committed.
    pub resumed: u64,
    pub scenes: u64,
    pub recommendations: u64,
    pub cues: u64,
    /// Seconds of video in the run's outputs.
    pub seconds: f64,
    /// Seconds of video read, and spent waiting for FFmpeg's frames, by
    /// this attempt (resumed videos were read by an earlier one).
    pub read_seconds: f64,
    pub decode_seconds: f64,
    pub wall_seconds: f64,
    /// The EDLs written, relative to the output folder.
    pub edls: Vec<String>,
    /// `report.html`, when asked for.
    pub report: Option<PathBuf>,
    pub fingerprint: String,
    /// A shard that found its own complete run did nothing.
    pub already_complete: bool,
}

/// Cuts, reads and scores every video, writing `scenes.parquet`,
/// `recommendations.parquet`, `soundtrack.parquet`, `errors.parquet`,
/// `cues.csv`, `cues/*.edl` (and `report.html` when asked) into
/// `settings.out_dir()`, and `manifest.json` last.
///
/// Each video is committed to the parts folder once read (`parts`), so a
/// killed run, started again with the same videos and settings, goes on
/// from the videos it finished. A shard (`settings.shard`) reads the videos
/// whose ids hash to it, and does nothing if its complete run is there.
pub fn run(
    settings: &VideoSettings,
    model: &Model,
    recommender: &Recommender,
    progress: &dyn Progress,
) -> Result<VideoSummary> {
    let (started, started_at) = (Instant::now(), SystemTime::now());
    decode::check_tools()?;
    let listed = list(&settings.inputs)?;
    let mut digest = InputDigest::default();
    listed.iter().for_each(|(_, id)| digest.add(id));
    let owned: Vec<(PathBuf, String)> =
        listed.into_iter().filter(|(_, id)| settings.shard.as_ref().is_none_or(|s| s.owns(id))).collect();
    let out = settings.out_dir();
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let _lock = OutputLock::acquire(&out)?;
    let fingerprint = manifest::fingerprint(settings, &digest, recommender);
    if settings.shard.is_some()
        && let Some(done) = manifest::finished(&out, &fingerprint)?
    {
        remove_parts(&out)?;
        return Ok(done);
    }
    progress.discovered(owned.len() as u64, true);
    // Until this run's is written last, the folder holds no complete run.
    manifest::remove(&out)?;
    let mut parts = VideoParts::open(&out, &fingerprint, settings.shard.is_some(), progress)?;
    let mut summary = VideoSummary { fingerprint, ..VideoSummary::default() };
    summary.resumed = owned.iter().filter(|(_, id)| parts.get(id).is_some()).count() as u64;
    if summary.resumed > 0 {
        progress.note(&format!("resuming: {} of {} videos are committed", summary.resumed, owned.len()));
    }
    progress.resumed(summary.resumed);
    let ids: Vec<String> = owned.iter().map(|(_, id)| id.clone()).collect();
    let mut exposure = Exposure::new(recommender.settings());
    if let Some(e) = exposure.as_mut() {
        assemble::record_committed(&parts, &ids, recommender.catalog(), e)?;
    }
    let mut analyser = FrameAnalyser::new(model, settings.limits, settings.face_search());
    for (path, id) in &owned {
        if parts.get(id).is_some() {
            continue;
        }
        let done = match read::read(path, id, &settings.sampling, &mut analyser) {
            Ok(film) => {
                summary.read_seconds += film.duration;
                summary.decode_seconds += film.decode_seconds;
                assemble::write_part(&film, &parts, recommender, exposure.as_mut(), settings.report)?
            }
            Err(f) => DoneVideo {
                id: id.clone(),
                path: path.to_string_lossy().into_owned(),
                failure: Some((f.stage.as_str().to_string(), f.reason)),
                ..DoneVideo::default()
            },
        };
        let ok = done.failure.is_none();
        parts.commit(done)?;
        progress.finished_one(ok);
    }
    assemble::assemble(&out, &ids, &parts, settings.report, &mut summary)?;
    summary.wall_seconds = started.elapsed().as_secs_f64();
    manifest::write(settings, &ids, digest.count, &summary, model, recommender, started_at)?;
    remove_parts(&out)?;
    Ok(summary)
}

/// The videos to read, each with its id: a file given by name is its file
/// name; a file found in a folder is its path relative to that folder.
/// Folders are walked in name order, so ids and outputs are reproducible.
pub fn list(inputs: &[PathBuf]) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if !meta.is_dir() {
            let id = input.file_name().map_or_else(|| input.to_string_lossy(), |n| n.to_string_lossy());
            out.push((input.clone(), id.into_owned()));
            continue;
        }
        let walk = walkdir::WalkDir::new(input).follow_links(true).sort_by_file_name();
        for entry in walk.into_iter().filter_map(|e| e.ok()) {
            let p = entry.path();
            if entry.file_type().is_dir() || !is_video(p) || is_hidden(p.strip_prefix(input).unwrap_or(p)) {
                continue;
            }
            let rel = p.strip_prefix(input).unwrap_or(p);
            out.push((p.to_path_buf(), rel.to_string_lossy().replace('\\', "/")));
        }
    }
    let mut seen = std::collections::HashMap::new();
    for (path, id) in &out {
        if let Some(first) = seen.insert(id.as_str(), path) {
            return Err(Error::Config(format!(
                "two videos have the id {id:?} ({} and {}): an id names a video's scenes, parts and shard, so \
                 give the folder that holds them instead, or rename one",
                first.display(),
                path.display()
            )));
        }
    }
    if out.is_empty() {
        return Err(Error::Config(format!(
            "no videos among the inputs (a folder's videos end in {})",
            VIDEO_EXTENSIONS.join(", ")
        )));
    }
    Ok(out)
}

fn is_video(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_lowercase().as_str()))
}

fn is_hidden(rel: &Path) -> bool {
    rel.iter().any(|c| c.to_string_lossy().starts_with('.'))
}
