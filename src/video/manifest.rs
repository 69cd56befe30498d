//! The video run's manifest: what it read, how it sampled, cut and matched,
//! what it wrote and how long it took, as `manifest.json`. As for photo
//! runs, it is removed when a run starts and written last, so a folder
//! holds a complete video run exactly when its manifest exists.

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::engine::backend::{DeviceReport, Model};
use crate::engine::{faces, model, mood};
use crate::error::{Error, Result};
use crate::recommend::{RecommendReport, Recommender};
use crate::run::output::{ERRORS_FILE, MANIFEST_FILE, RECOMMENDATIONS_FILE, REPORT_FILE};
use crate::video::output::{CUES_FILE, SCENES_FILE, SOUNDTRACK_FILE};
use crate::video::{VideoSettings, VideoSummary};

#[derive(Serialize)]
struct Manifest<'a> {
    pixtape_version: &'a str,
    command: &'a str,
    started_at: String,
    finished_at: String,
    wall_seconds: f64,
    /// Seconds of video read per second of wall time.
    video_seconds_per_second: f64,
    /// Share of the wall time spent waiting for FFmpeg's frames.
    decode_share: f64,
    /// The videos, by id, in the order they were read.
    inputs: &'a [String],
    model: ModelInfo<'a>,
    device: &'a DeviceReport,
    sampling: SamplingInfo,
    counts: Counts,
    outputs: Outputs<'a>,
    recommend: RecommendReport<'a>,
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    name: &'a str,
    weights_sha256: &'a str,
    mood_head_sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    faces_sha256: Option<&'a str>,
}

#[derive(Serialize)]
struct SamplingInfo {
    frames_per_second: f64,
    short_side: u32,
    keyframes_per_scene: usize,
    cut_threshold: f32,
    min_content: f32,
    fade_level: f32,
    min_scene_seconds: f64,
    face_threshold: Option<f32>,
}

#[derive(Serialize)]
struct Counts {
    videos: u64,
    failed: u64,
    scenes: u64,
    recommendations: u64,
    cues: u64,
    video_seconds: f64,
}

#[derive(Serialize)]
struct Outputs<'a> {
    scenes: &'a str,
    recommendations: &'a str,
    soundtrack: &'a str,
    errors: &'a str,
    cue_sheet: &'a str,
    /// One EDL per video, relative to the output folder.
    edls: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a str>,
}

/// Removes a manifest an earlier run left, before anything else is written.
pub fn remove(out: &Path) -> Result<()> {
    let path = out.join(MANIFEST_FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
        _ => Ok(()),
    }
}

/// Writes `out/manifest.json` atomically, last.
pub fn write(
    settings: &VideoSettings,
    ids: &[String],
    summary: &VideoSummary,
    model: &Model,
    recommender: &Recommender,
    started: SystemTime,
) -> Result<()> {
    let s = &settings.sampling;
    let wall = summary.wall_seconds.max(1e-9);
    let manifest = Manifest {
        pixtape_version: env!("CARGO_PKG_VERSION"),
        command: "video",
        started_at: humantime::format_rfc3339_seconds(started).to_string(),
        finished_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        wall_seconds: summary.wall_seconds,
        video_seconds_per_second: summary.seconds / wall,
        decode_share: summary.decode_seconds / wall,
        inputs: ids,
        model: ModelInfo {
            name: model::MODEL_NAME,
            weights_sha256: model::weights_sha256(),
            mood_head_sha256: mood::head::sha256(),
            faces_sha256: settings.faces.map(|_| faces::nets::WEIGHTS_SHA256),
        },
        device: &model.device,
        sampling: SamplingInfo {
            frames_per_second: s.rate,
            short_side: s.short_side,
            keyframes_per_scene: s.keyframes,
            cut_threshold: s.cuts.adaptive,
            min_content: s.cuts.min_content,
            fade_level: s.cuts.fade_level,
            min_scene_seconds: s.cuts.min_scene,
            face_threshold: settings.faces,
        },
        counts: Counts {
            videos: summary.videos,
            failed: summary.failed,
            scenes: summary.scenes,
            recommendations: summary.recommendations,
            cues: summary.cues,
            video_seconds: summary.seconds,
        },
        outputs: Outputs {
            scenes: SCENES_FILE,
            recommendations: RECOMMENDATIONS_FILE,
            soundtrack: SOUNDTRACK_FILE,
            errors: ERRORS_FILE,
            cue_sheet: CUES_FILE,
            edls: &summary.edls,
            report: summary.report.as_ref().map(|_| REPORT_FILE),
        },
        recommend: recommender.report(),
    };
    let path = settings.out.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::output(&path, e))?;
    crate::atomic::write_atomic(&path, &json)
}
