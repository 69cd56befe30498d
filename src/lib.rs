//! pixtape: pictures in, music recommendations out, in bulk.
//!
//! The pipeline's stages each live in one module, named after what flows
//! through it: `ingest` (which images), `decode` (pixels), `colour` (light and
//! colour measures), `model` (MobileNetV2), `analysis` (labels and mood of one
//! image), `mood` (the mood space), `catalog` (tracks), `similarity` (top-k),
//! `playlist`, `output` (Parquet tables) and `manifest`, joined by `pipeline`.
//! `recommend` is the one home of "analysis to playlist"; `backend` decides
//! where the model and the matcher run, and `gpu` is the device they share
//! when the WGSL kernels run.

pub mod after;
pub mod album;
pub mod analysis;
pub mod backend;
pub mod bench;
pub mod catalog;
pub mod colour;
pub mod coverage;
pub mod decode;
pub mod error;
pub mod export;
pub mod gpu;
pub mod ingest;
pub mod inspect;
pub mod isa;
pub mod learn;
pub mod manifest;
pub mod merge;
pub mod model;
pub mod mood;
pub mod output;
pub mod pipeline;
pub mod playlist;
pub mod recommend;
pub mod report;
mod rng;
pub mod run;
pub mod shard;
pub mod similarity;
pub mod synth;
pub mod verify;
pub mod versions;

pub use error::{Error, Failure, Result, Stage};
