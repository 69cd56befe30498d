//! What a run is given and what it gives back: its settings, the progress
//! callbacks, and the summary and counts of a finished run. Plain data, so
//! that the run's steps, its manifest and the CLI share them without
//! importing one another.

use std::path::PathBuf;

use serde::Serialize;

use crate::engine::decode::DecodeLimits;
use crate::recommend::profile::ProfileReport;
use crate::run::output::{DEFAULT_PART_INPUTS, PartCounts};
use crate::run::shard::Shard;

/// Everything `analyze` needs besides the model; the CLI builds it, the
/// library never sees clap.
#[derive(Clone, Debug)]
pub struct AnalyzeSettings {
    pub images: PathBuf,
    pub out: PathBuf,
    pub decode_threads: usize,
    pub limits: DecodeLimits,
    /// Also write the model's pooled features (`features.parquet`), which
    /// learning reads; off by default, as they are 5 KB an image.
    pub features: bool,
    /// Analyse only this shard's inputs, into its own folder under `out`.
    pub shard: Option<Shard>,
    /// Inputs per committed part: what a kill can lose (see
    /// `output::parts`). It does not change the tables a run writes.
    pub part_inputs: u64,
    /// The profile whose mood head the model reads with (`--profile`), as
    /// the manifest records it; it is part of the run's fingerprint.
    pub profile: Option<ProfileReport>,
    /// Find faces and read their expressions, keeping boxes whose detector
    /// score is above this threshold; `None` is `--faces off`.
    pub faces: Option<f32>,
    /// The scene model's people cue a picture needs for its faces to be
    /// searched (`faces::DEFAULT_GATE`); 0 searches every picture.
    pub face_gate: f32,
}

impl AnalyzeSettings {
    /// Defaults: one decode worker per core, default limits.
    pub fn new(images: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        AnalyzeSettings {
            images: images.into(),
            out: out.into(),
            decode_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: DecodeLimits::default(),
            features: false,
            shard: None,
            part_inputs: DEFAULT_PART_INPUTS,
            profile: None,
            faces: Some(crate::engine::faces::DEFAULT_THRESHOLD),
            face_gate: crate::engine::faces::DEFAULT_GATE,
        }
    }

    /// The folder this run writes: `out`, or its shard's folder under it.
    pub fn out_dir(&self) -> PathBuf {
        match &self.shard {
            Some(s) => s.dir(&self.out),
            None => self.out.clone(),
        }
    }
}

/// Progress reporting, implemented by the caller (the CLI draws a bar).
pub trait Progress: Sync {
    /// `total` inputs found so far; `complete` once ingest has finished.
    fn discovered(&self, _total: u64, _complete: bool) {}
    /// One input finished, analysed (`ok`) or failed.
    fn finished_one(&self, _ok: bool) {}
    /// `done` inputs were finished by an earlier attempt (committed parts).
    fn resumed(&self, _done: u64) {}
    /// Something the user should know about the run's output folder.
    fn note(&self, _line: &str) {}
}

/// Reports nothing.
pub struct Silent;
impl Progress for Silent {}

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Inputs the run attempted (images and rejected entries).
    pub inputs: u64,
    pub images: u64,
    /// Rows of recommendations.parquet.
    pub recommendations: u64,
    pub errors: u64,
    pub warnings: u64,
    /// Files in a folder that are not images (or hidden), passed over.
    pub skipped_files: u64,
    /// Symbolic links to a folder above them, passed over.
    pub symlink_loops: u64,
    /// Folders named like images ("best.jpg/"): not inputs themselves.
    pub folders_named_like_images: u64,
    /// Inputs of the listing that belong to other shards.
    pub other_shards: u64,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub counts: Counts,
    pub wall_seconds: f64,
    pub out: PathBuf,
    pub engine: String,
    /// The run's fingerprint (see `shard`).
    pub fingerprint: String,
    /// A shard found its own complete run with the same fingerprint and did
    /// nothing; `counts` are that run's.
    pub already_complete: bool,
    /// What an earlier, interrupted attempt had committed, not redone.
    pub resumed: PartCounts,
    /// Parts the run's tables were assembled from.
    pub parts: u32,
}
