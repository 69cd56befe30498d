//! Videos in, soundtracks out: each video is cut into scenes, each scene's
//! keyframes are read as photos are, each scene gets a playlist, and the
//! film gets one soundtrack that follows its scenes, with cue sheets an
//! editor imports.
//!
//! `decode` runs FFmpeg and streams sampled frames, `scenes` finds the
//! cuts and fades, `keyframes` keeps a scene's frames and reads its mood,
//! `read` joins those three over one video, `soundtrack` picks a track per
//! scene, and `output` writes the tables and cue sheets. `run` below does
//! them in order for every video. A video that cannot be read becomes a
//! row of `errors.parquet` and the run goes on.

pub mod decode;
pub mod keyframes;
pub mod manifest;
pub mod output;
pub mod read;
pub mod report;
pub mod scenes;
pub mod soundtrack;

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::engine::backend::Model;
use crate::engine::decode::DecodeLimits;
use crate::error::{Error, Result, Stage};
use crate::recommend::Recommender;
use crate::run::Progress;
use crate::run::output::Severity;
use crate::run::output::{ERRORS_FILE, ErrorsWriter, RECOMMENDATIONS_FILE, RecommendationsWriter};
use keyframes::FrameAnalyser;
use read::{Film, Sampling};

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
    /// Also write `report.html`: each film's scenes as a strip.
    pub report: bool,
}

/// What a video run did.
#[derive(Clone, Debug, Default)]
pub struct VideoSummary {
    pub videos: u64,
    pub failed: u64,
    pub scenes: u64,
    pub recommendations: u64,
    pub cues: u64,
    /// Seconds of video read.
    pub seconds: f64,
    /// Seconds spent waiting for FFmpeg's frames.
    pub decode_seconds: f64,
    pub wall_seconds: f64,
    /// The EDLs written, relative to the output folder.
    pub edls: Vec<String>,
    /// `report.html`, when asked for.
    pub report: Option<PathBuf>,
}

/// Cuts, reads and scores every video, writing `scenes.parquet`,
/// `recommendations.parquet`, `soundtrack.parquet`, `errors.parquet`,
/// `cues.csv`, `cues/*.edl` (and `report.html` when asked) into
/// `settings.out`, and `manifest.json` last.
pub fn run(
    settings: &VideoSettings,
    model: &Model,
    recommender: &Recommender,
    progress: &dyn Progress,
) -> Result<VideoSummary> {
    let (started, started_at) = (Instant::now(), SystemTime::now());
    decode::check_tools()?;
    let videos = list(&settings.inputs)?;
    progress.discovered(videos.len() as u64, true);
    let out = &settings.out;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    // Until this run's is written last, the folder holds no complete run.
    manifest::remove(out)?;
    let mut errors = ErrorsWriter::create(&out.join(ERRORS_FILE))?;
    let mut analyser = FrameAnalyser::new(model, settings.limits, settings.faces);
    let mut films: Vec<Film> = Vec::new();
    let mut summary = VideoSummary { videos: videos.len() as u64, ..VideoSummary::default() };
    let mut failed: Vec<(String, String)> = Vec::new();
    for (path, id) in &videos {
        let shown = path.to_string_lossy();
        match read::read(path, id, &settings.sampling, &mut analyser) {
            Ok(film) => {
                if let Some(w) = &film.warning {
                    errors.push(Some(id), &shown, Stage::Decode.as_str(), Severity::Warning, w)?;
                }
                summary.seconds += film.duration;
                summary.decode_seconds += film.decode_seconds;
                summary.scenes += film.scenes.len() as u64;
                films.push(film);
                progress.finished_one(true);
            }
            Err(f) => {
                errors.push(Some(id), &shown, f.stage.as_str(), Severity::Error, &f.reason)?;
                failed.push((id.clone(), f.reason));
                summary.failed += 1;
                progress.finished_one(false);
            }
        }
    }
    let catalog = recommender.catalog();
    let mut recs = RecommendationsWriter::create(&out.join(RECOMMENDATIONS_FILE))?;
    let mut soundtracks = Vec::with_capacity(films.len());
    for film in &films {
        let analyses: Vec<_> = film.scenes.iter().map(|(_, m)| &m.analysis).collect();
        for (i, playlist) in recommender.playlists(&analyses)?.into_iter().enumerate() {
            recs.push_playlist(&film.image_id(i), &playlist, catalog)?;
        }
        let cues = soundtrack::soundtrack(film, recommender)?;
        summary.cues += cues.len() as u64;
        soundtracks.push((film, cues));
    }
    summary.recommendations = recs.finish()?;
    output::write_scenes(out, &films)?;
    output::write_soundtrack(out, &soundtracks, catalog)?;
    summary.edls = output::write_cue_sheets(out, &soundtracks, catalog)?;
    if settings.report {
        summary.report = Some(report::write_report(out, &soundtracks, catalog, &failed)?);
    }
    errors.finish()?;
    summary.wall_seconds = started.elapsed().as_secs_f64();
    let ids: Vec<String> = videos.into_iter().map(|(_, id)| id).collect();
    manifest::write(settings, &ids, &summary, model, recommender, started_at)?;
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
