//! The engine: one picture in, what is in it and how it feels out.
//!
//! Bytes of an image go through `decode` (pixels, a model crop and
//! `colour`'s light and colour measures), `model` (MobileNetV2: class
//! probabilities and pooled features), `mood` (the mood space and the head
//! that reads it) and `analysis` (labels and mood of one image, together).
//! `similarity` ranks track vectors against a query. `backend` decides
//! whether the model and the matcher run on the CPU (`isa` picks its
//! kernels) or as WGSL kernels on the device `gpu` holds. Nothing here knows
//! about catalogs' files, runs or outputs.

pub mod analysis;
pub mod backend;
pub mod colour;
pub mod cues;
pub mod decode;
pub mod faces;
pub mod gpu;
pub mod isa;
pub mod model;
pub mod mood;
pub mod similarity;
