//! A run: a folder or manifest of images in (and a catalog, when it
//! recommends), a run folder out: `images.parquet`, `errors.parquet`,
//! `recommendations.parquet`, optionally `features.parquet`, and
//! `manifest.json` written last.
//!
//! `ingest` lists the inputs, `pipeline` joins the stages by bounded
//! queues, `output` writes the tables in committed parts that a killed run
//! resumes from, `manifest` records the run, `shard` splits a run's inputs
//! across processes.

pub mod ingest;
pub mod manifest;
pub mod output;
pub mod pipeline;
pub mod shard;

pub use pipeline::{AnalyzeSettings, Counts, Progress, RunSummary, Silent, analyze, prepare_out_dir, run};
