//! The run manifest: what a run read, how it was set up, what it wrote and
//! how long it took, as `manifest.json` beside the tables. The pipeline
//! fills in a `Run` and calls `write` last, so a folder holds a complete
//! run exactly when its manifest exists.

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::analysis::TOP_LABELS;
use crate::backend::{DeviceReport, Model};
use crate::decode::DecodeLimits;
use crate::error::{Error, Result};
use crate::ingest::InputKind;
use crate::learn::profile::ProfileReport;
use crate::model;
use crate::mood;
use crate::output::{ERRORS_FILE, FEATURES_FILE, IMAGES_FILE, MANIFEST_FILE, RECOMMENDATIONS_FILE};
use crate::pipeline::{AnalyzeSettings, RunSummary};
use crate::recommend::{RecommendReport, Recommender};

/// How the model sees a picture, as recorded for reproducibility.
const PREPROCESSING: &str =
    "EXIF orientation; resize short side to 256 (bilinear, antialiased); centre crop 224; ImageNet mean/std";

/// Everything a finished run's manifest is made of.
pub struct Run<'a> {
    pub settings: &'a AnalyzeSettings,
    pub input_kind: InputKind,
    pub summary: &'a RunSummary,
    pub model: &'a Model<'a>,
    pub recommender: Option<&'a Recommender<'a>>,
    pub started_at: SystemTime,
}

#[derive(Serialize)]
struct Manifest<'a> {
    pixtape_version: &'a str,
    command: &'a str,
    started_at: String,
    finished_at: String,
    wall_seconds: f64,
    images_per_second: f64,
    input: InputInfo<'a>,
    model: ModelInfo<'a>,
    engine: &'a str,
    device: &'a DeviceReport,
    parameters: Parameters,
    counts: &'a crate::pipeline::Counts,
    outputs: Outputs<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommend: Option<RecommendReport<'a>>,
    /// The profile the run used (`--profile`): its head replaces the
    /// bundled one, its weights and style preferences are in `recommend`.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a ProfileReport>,
    mood_space: MoodSpaceInfo,
}

#[derive(Serialize)]
struct InputInfo<'a> {
    path: String,
    kind: &'a str,
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    name: &'a str,
    weights_sha256: &'a str,
    /// The bundled learned mood head (`models/mood_head.safetensors`); a
    /// profile's head is recorded under `profile`.
    mood_head_sha256: &'a str,
    input_size: usize,
    preprocessing: &'a str,
}

#[derive(Serialize)]
struct Parameters {
    batch_size: usize,
    decode_threads: usize,
    max_megapixels: u64,
    max_file_megabytes: u64,
    top_labels: usize,
}

#[derive(Serialize)]
struct Outputs<'a> {
    images: &'a str,
    errors: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommendations: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<&'a str>,
}

#[derive(Serialize)]
struct MoodSpaceInfo {
    dimensions: Vec<&'static str>,
    groups: Vec<(&'static str, Vec<&'static str>)>,
}

/// Writes `out/manifest.json` atomically.
pub fn write(out: &Path, run: &Run) -> Result<()> {
    let s = run.settings;
    let limits: &DecodeLimits = &s.limits;
    let manifest = Manifest {
        pixtape_version: env!("CARGO_PKG_VERSION"),
        command: if run.recommender.is_some() { "recommend" } else { "analyze" },
        started_at: humantime::format_rfc3339_seconds(run.started_at).to_string(),
        finished_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        wall_seconds: run.summary.wall_seconds,
        images_per_second: run.summary.counts.images as f64 / run.summary.wall_seconds.max(1e-9),
        input: InputInfo { path: s.images.display().to_string(), kind: run.input_kind.as_str() },
        model: ModelInfo {
            name: model::MODEL_NAME,
            weights_sha256: model::weights_sha256(),
            mood_head_sha256: mood::head::sha256(),
            input_size: model::INPUT_SIZE,
            preprocessing: PREPROCESSING,
        },
        engine: &run.summary.engine,
        device: &run.model.device,
        parameters: Parameters {
            batch_size: run.model.batch,
            decode_threads: s.decode_threads,
            max_megapixels: limits.max_pixels / 1_000_000,
            max_file_megabytes: limits.max_file_bytes >> 20,
            top_labels: TOP_LABELS,
        },
        counts: &run.summary.counts,
        outputs: Outputs {
            images: IMAGES_FILE,
            errors: ERRORS_FILE,
            recommendations: run.recommender.map(|_| RECOMMENDATIONS_FILE),
            features: s.features.then_some(FEATURES_FILE),
        },
        recommend: run.recommender.map(Recommender::report),
        profile: run.model.profile.as_ref(),
        mood_space: MoodSpaceInfo {
            dimensions: mood::DIM_NAMES.to_vec(),
            groups: mood::GROUPS.iter().map(|g| (g.name(), mood::DIM_NAMES[g.dims()].to_vec())).collect(),
        },
    };
    let path = out.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::output(&path, e))?;
    crate::output::write_atomic(&path, &json)
}
