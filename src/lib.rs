//! pixtape: pictures in, music recommendations out, in bulk.
//!
//! The pipeline's stages each live in one module, named after what flows
//! through it: `ingest` (which images), `decode` (pixels), `colour` (light and
//! colour measures), `model` (MobileNetV2), `mood` (the mood space),
//! `catalog` (tracks), `similarity` (top-k), `playlist`, `output` (Parquet and
//! the run manifest), joined by `pipeline`. `gpu` is the device they share
//! when the WGSL kernels run.

pub mod catalog;
pub mod colour;
pub mod decode;
pub mod error;
pub mod gpu;
pub mod ingest;
pub mod inspect;
pub mod model;
pub mod mood;
pub mod output;
pub mod pipeline;
pub mod playlist;
pub mod similarity;

pub use error::{Error, Result};
