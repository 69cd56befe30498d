//! pixtape: pictures in, music recommendations out, in bulk.
//!
//! The folders are the layers, and each imports only from those above it in
//! this list:
//!
//! * `error`, `atomic`, `rng`: the errors every stage reports, files that
//!   appear whole or not at all, seeded randomness.
//! * `engine`: one picture in, its analysis out. Decoding, colour and light
//!   measures, the MobileNetV2 model, the mood space and its head, top-k
//!   similarity, and the backend that decides whether they run on the CPU or
//!   as WGSL kernels on a GPU.
//! * `catalog`: a music catalog in, track vectors in the mood space out.
//! * `recommend`: an analysis and a catalog in, a ranked, diverse, explained
//!   playlist out (with versions of a song collapsed and a profile applied).
//! * `run`: a folder or manifest of images in, a run folder of Parquet
//!   tables and a manifest out; ingest, the concurrent pipeline, committed
//!   parts and resume, shards.
//! * `after`: a finished run folder in, what is made from it: the album,
//!   playlist files, the coverage figures and the HTML report.
//! * `cluster`: many shard folders in, one checked, merged run out.
//! * `learn`: a finished run and people's feedback in, a profile out.
//! * `video`: videos in, scenes with their moods, a playlist per scene, a
//!   soundtrack and cue sheets out (FFmpeg decodes; the album's sequence
//!   rules choose the soundtrack).
//! * `tools`: the benchmark, synthetic catalogs and photos, `inspect`.
//!
//! The `pixtape` binary (`main.rs`, `cli/`) parses flags and calls these.

pub mod after;
pub mod atomic;
pub mod catalog;
pub mod cluster;
pub mod engine;
pub mod error;
pub mod learn;
pub mod recommend;
mod rng;
pub mod run;
pub mod tools;
pub mod video;

pub use error::{Error, Failure, Result, Stage};
