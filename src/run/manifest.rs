//! The run manifest: what a run read, how it was set up, what it wrote and
//! how long it took, as `manifest.json` beside the tables. The pipeline
//! fills in a `Run` and calls `write` last, so a folder holds a complete
//! run exactly when its manifest exists.

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::engine::analysis::TOP_LABELS;
use crate::engine::backend::{DeviceReport, Model};
use crate::engine::decode::DecodeLimits;
use crate::engine::faces;
use crate::engine::model;
use crate::engine::mood;
use crate::error::{Error, Result};
use crate::recommend::profile::ProfileReport;
use crate::recommend::{RecommendReport, Recommender};
use crate::run::ingest::InputKind;
use crate::run::output::{ERRORS_FILE, FACES_FILE, FEATURES_FILE, IMAGES_FILE, MANIFEST_FILE, RECOMMENDATIONS_FILE};
use crate::run::settings::{AnalyzeSettings, Counts, RunSummary};
use crate::run::shard::{self, InputDigest, Shard};

/// How the model sees a picture, as recorded for reproducibility.
const PREPROCESSING: &str = "JPEGs with a short side of 512 or more decoded at 1/2, 1/4 or 1/8 DCT scale unless \
     exact_decode; EXIF orientation; resize short side to 256 (bilinear, antialiased); centre crop 224; ImageNet mean/std";

/// Everything a finished run's manifest is made of.
pub struct Run<'a> {
    pub settings: &'a AnalyzeSettings,
    pub input_kind: InputKind,
    pub summary: &'a RunSummary,
    pub model: &'a Model<'a>,
    pub recommender: Option<&'a Recommender<'a>>,
    pub started_at: SystemTime,
    /// The whole input listing (every shard's), digested.
    pub inputs: InputDigest,
}

#[derive(Serialize)]
struct Manifest<'a> {
    pixtape_version: &'a str,
    command: &'a str,
    /// What decides this run's output (see `fingerprint`); every shard of a
    /// run has the same.
    fingerprint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<&'a Shard>,
    started_at: String,
    finished_at: String,
    wall_seconds: f64,
    /// Images this attempt analysed, per second of its wall time.
    images_per_second: f64,
    /// Parts the tables were assembled from, and what an earlier,
    /// interrupted attempt had committed of them.
    parts: u32,
    resumed: &'a crate::run::output::PartCounts,
    input: InputInfo<'a>,
    model: ModelInfo<'a>,
    engine: &'a str,
    device: &'a DeviceReport,
    parameters: Parameters,
    counts: &'a Counts,
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
    /// Inputs in the whole listing, every shard's.
    listed: u64,
    /// Order-free digest of their ids.
    digest: String,
}

/// The model block of a manifest, photo and video runs alike.
#[derive(Serialize)]
pub struct ModelInfo<'a> {
    name: &'a str,
    weights_sha256: &'a str,
    /// The bundled learned mood head (`models/mood_head.safetensors`); a
    /// profile's head is recorded under `profile_sha256`, or under the
    /// photo manifest's `profile`.
    mood_head_sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_sha256: Option<&'a str>,
    /// The face networks (`models/faces.safetensors`), when faces are read.
    #[serde(skip_serializing_if = "Option::is_none")]
    faces_sha256: Option<&'a str>,
    input_size: usize,
    preprocessing: &'a str,
}

impl<'a> ModelInfo<'a> {
    /// The model, with the face networks when `faces`.
    pub fn new(faces: bool, profile_sha256: Option<&'a str>) -> Self {
        ModelInfo {
            name: model::MODEL_NAME,
            weights_sha256: model::weights_sha256(),
            mood_head_sha256: mood::head::sha256(),
            profile_sha256,
            faces_sha256: faces.then_some(faces::nets::WEIGHTS_SHA256),
            input_size: model::INPUT_SIZE,
            preprocessing: PREPROCESSING,
        }
    }
}

#[derive(Serialize)]
struct Parameters {
    batch_size: usize,
    decode_threads: usize,
    max_megapixels: u64,
    max_file_megabytes: u64,
    /// JPEGs decoded at full size only (`--exact-decode`).
    exact_decode: bool,
    top_labels: usize,
    /// The detector score a face needs; null with `--faces off`.
    face_threshold: Option<f32>,
    /// The people cue a picture needs to have its faces searched; null
    /// with `--faces off`.
    face_gate: Option<f32>,
}

#[derive(Serialize)]
struct Outputs<'a> {
    images: &'a str,
    errors: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommendations: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    faces: Option<&'a str>,
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
        fingerprint: &run.summary.fingerprint,
        shard: s.shard.as_ref(),
        started_at: humantime::format_rfc3339_seconds(run.started_at).to_string(),
        finished_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        wall_seconds: run.summary.wall_seconds,
        images_per_second: (run.summary.counts.images - run.summary.resumed.images) as f64
            / run.summary.wall_seconds.max(1e-9),
        parts: run.summary.parts,
        resumed: &run.summary.resumed,
        input: InputInfo {
            path: s.images.display().to_string(),
            kind: run.input_kind.as_str(),
            listed: run.inputs.count,
            digest: run.inputs.hex(),
        },
        model: ModelInfo::new(s.faces.is_some(), None),
        engine: &run.summary.engine,
        device: &run.model.device,
        parameters: Parameters {
            batch_size: run.model.batch,
            decode_threads: s.decode_threads,
            max_megapixels: limits.max_pixels / 1_000_000,
            max_file_megabytes: limits.max_file_bytes >> 20,
            exact_decode: limits.exact,
            top_labels: TOP_LABELS,
            face_threshold: s.faces,
            face_gate: s.faces.map(|_| s.face_gate),
        },
        counts: &run.summary.counts,
        outputs: Outputs {
            images: IMAGES_FILE,
            errors: ERRORS_FILE,
            recommendations: run.recommender.map(|_| RECOMMENDATIONS_FILE),
            features: s.features.then_some(FEATURES_FILE),
            faces: s.faces.map(|_| FACES_FILE),
        },
        recommend: run.recommender.map(Recommender::report),
        profile: run.settings.profile.as_ref(),
        mood_space: MoodSpaceInfo {
            dimensions: mood::DIM_NAMES.to_vec(),
            groups: mood::GROUPS.iter().map(|g| (g.name(), mood::DIM_NAMES[g.dims()].to_vec())).collect(),
        },
    };
    let path = out.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::output(&path, e))?;
    crate::atomic::write_atomic(&path, &json)
}

/// The fingerprint of a run: the pixtape version, the model and mood head
/// (or profile), the input listing's digest, every setting that changes a
/// table, the catalog's sha256 and the recommender's settings, and the
/// shard count. A shard's index is not in it: every shard of a run shares it.
pub fn fingerprint(settings: &AnalyzeSettings, recommender: Option<&Recommender>, inputs: &InputDigest) -> String {
    let head = match &settings.profile {
        Some(p) => format!("profile {}", p.sha256),
        None => mood::head::sha256().to_string(),
    };
    let mut parts = vec![
        ("pixtape", env!("CARGO_PKG_VERSION").to_string()),
        ("model", model::weights_sha256().to_string()),
        ("mood_head", head),
        ("inputs", inputs.hex()),
        ("features", settings.features.to_string()),
        ("max_pixels", settings.limits.max_pixels.to_string()),
        ("max_file_bytes", settings.limits.max_file_bytes.to_string()),
        ("exact_decode", settings.limits.exact.to_string()),
        ("faces", faces_part(settings.faces, settings.face_gate)),
        ("shards", settings.shard.as_ref().map_or(1, |s| s.count).to_string()),
    ];
    if let Some(r) = recommender {
        parts.extend(recommend_parts(r));
    }
    shard::fingerprint(&parts)
}

/// The fingerprint's part for faces: off, or the threshold, the gate and
/// the networks.
pub fn faces_part(threshold: Option<f32>, gate: f32) -> String {
    threshold.map_or("off".into(), |t| format!("{t} gate {gate} {}", faces::nets::WEIGHTS_SHA256))
}

/// What a finished run's manifest says, as far as reruns need it.
#[derive(serde::Deserialize)]
pub struct Previous {
    pub fingerprint: String,
    pub counts: Counts,
    pub engine: String,
}

/// The manifest of a complete run in `out`, if there is one. A manifest
/// that cannot be read is an error: it is not this run's to overwrite.
pub fn read(out: &Path) -> Result<Option<Previous>> {
    let path = out.join(MANIFEST_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::input(&path, format!("not a pixtape manifest: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// The fingerprint's parts that a recommender decides. What decides the
/// picks: the catalog's content and how it was read, and the recommender's
/// settings; not where the catalog lies, how long it took to load or where
/// the matcher ran.
pub fn recommend_parts(r: &Recommender) -> [(&'static str, String); 2] {
    let rep = r.report();
    let c = rep.catalog;
    let catalog = serde_json::json!([c.sha256, c.columns, c.va_range, c.tracks]);
    let settings = serde_json::json!([
        rep.mood_mode,
        rep.weights,
        rep.playlist_length,
        rep.per_artist,
        rep.relevance_lambda,
        rep.candidates,
        rep.style_preferences,
        rep.hub_penalty,
        rep.max_exposure,
        crate::recommend::playlist::ALGORITHM
    ]);
    [("catalog", catalog.to_string()), ("recommend", settings.to_string())]
}
