//! The video run's manifest: what it read, how it sampled, cut and matched,
//! what it wrote and how long it took, as `manifest.json`, with the run's
//! fingerprint. As for photo runs, it is removed when a run starts and
//! written last, so a folder holds a complete video run exactly when its
//! manifest exists; a shard that finds its own (`finished`) does nothing.

use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::engine::backend::{DeviceReport, Model};
use crate::engine::{model, mood};
use crate::error::{Error, Result};
use crate::recommend::{RecommendReport, Recommender};
use crate::run::manifest::{self as run_manifest, ModelInfo};
use crate::run::output::{ERRORS_FILE, MANIFEST_FILE, RECOMMENDATIONS_FILE, REPORT_FILE};
use crate::run::shard::{self, InputDigest, Shard};
use crate::video::output::{CUES_FILE, SCENES_FILE, SOUNDTRACK_FILE};
use crate::video::{VideoSettings, VideoSummary};

#[derive(Serialize)]
struct Manifest<'a> {
    pixtape_version: &'a str,
    command: &'a str,
    /// sha256 of everything that decides the outputs (see `fingerprint`).
    fingerprint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<&'a Shard>,
    started_at: String,
    finished_at: String,
    wall_seconds: f64,
    /// Seconds of video read per second of wall time.
    video_seconds_per_second: f64,
    /// Share of the wall time spent waiting for FFmpeg's frames.
    decode_share: f64,
    /// The videos, by id, in the order they were read.
    inputs: &'a [String],
    input: InputInfo,
    model: ModelInfo<'a>,
    device: &'a DeviceReport,
    sampling: SamplingInfo,
    counts: Counts,
    outputs: Outputs<'a>,
    recommend: RecommendReport<'a>,
}

#[derive(Serialize)]
struct InputInfo {
    /// Videos every shard listed.
    listed: u64,
    /// Videos this run (or shard) owns.
    owned: u64,
    /// Videos an earlier, interrupted attempt had committed.
    resumed: u64,
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
    face_gate: Option<f32>,
}

/// `inputs` and `errors` are the names every run's counts share, so that
/// `pixtape verify` and `merge` read photo and video runs alike.
#[derive(Serialize, Deserialize)]
struct Counts {
    inputs: u64,
    errors: u64,
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

/// The fingerprint of a video run: the version, the model, mood head (or
/// profile) and face networks, the listing's digest, every setting that
/// changes an output, the catalog and the recommender, and the shard
/// count. A shard's index is not in it: every shard of a run shares it.
pub fn fingerprint(settings: &VideoSettings, inputs: &InputDigest, recommender: &Recommender) -> String {
    let s = &settings.sampling;
    let head = settings.profile.as_ref().map_or_else(|| mood::head::sha256().to_string(), |p| format!("profile {p}"));
    let sampling = serde_json::json!([
        s.rate,
        s.short_side,
        s.keyframes,
        s.cuts.adaptive,
        s.cuts.min_content,
        s.cuts.window,
        s.cuts.fade_level,
        s.cuts.min_scene
    ]);
    let mut parts = vec![
        ("pixtape", env!("CARGO_PKG_VERSION").to_string()),
        ("command", "video".to_string()),
        ("model", model::weights_sha256().to_string()),
        ("mood_head", head),
        ("inputs", inputs.hex()),
        ("sampling", sampling.to_string()),
        ("max_pixels", settings.limits.max_pixels.to_string()),
        ("faces", run_manifest::faces_part(settings.faces, settings.face_gate)),
        ("report", settings.report.to_string()),
        ("shards", settings.shard.as_ref().map_or(1, |s| s.count).to_string()),
    ];
    parts.extend(run_manifest::recommend_parts(recommender));
    shard::fingerprint(&parts)
}

#[derive(Deserialize)]
struct Previous {
    fingerprint: String,
    counts: Counts,
}

/// The summary of a complete run with `fingerprint` in `out`, if there is
/// one; a complete run with another fingerprint is an error, never
/// overwritten.
pub fn finished(out: &Path, fingerprint: &str) -> Result<Option<VideoSummary>> {
    let path = out.join(MANIFEST_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let previous: Previous = serde_json::from_slice(&bytes)
        .map_err(|e| Error::input(&path, format!("not a pixtape video manifest: {e}")))?;
    if previous.fingerprint != fingerprint {
        return Err(shard::another_run(
            out,
            "a complete run with another fingerprint",
            &previous.fingerprint,
            fingerprint,
            "videos",
        ));
    }
    let c = previous.counts;
    Ok(Some(VideoSummary {
        videos: c.videos,
        failed: c.failed,
        scenes: c.scenes,
        recommendations: c.recommendations,
        cues: c.cues,
        seconds: c.video_seconds,
        fingerprint: previous.fingerprint,
        already_complete: true,
        ..VideoSummary::default()
    }))
}

/// Writes `out/manifest.json` atomically, last; `listed` is the number of
/// videos every shard listed.
pub fn write(
    settings: &VideoSettings,
    ids: &[String],
    listed: u64,
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
        fingerprint: &summary.fingerprint,
        shard: settings.shard.as_ref(),
        started_at: humantime::format_rfc3339_seconds(started).to_string(),
        finished_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        wall_seconds: summary.wall_seconds,
        video_seconds_per_second: summary.read_seconds / wall,
        decode_share: summary.decode_seconds / wall,
        inputs: ids,
        input: InputInfo { listed, owned: ids.len() as u64, resumed: summary.resumed },
        model: ModelInfo::new(settings.faces.is_some(), settings.profile.as_deref()),
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
            face_gate: settings.faces.map(|_| settings.face_gate),
        },
        counts: Counts {
            inputs: summary.videos,
            errors: summary.failed,
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
    let path = settings.out_dir().join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::output(&path, e))?;
    crate::atomic::write_atomic(&path, &json)
}
