//! Launcher of the mood correction (`shaders/mood_correction.wgsl`): the
//! learned mood head's term from each image's pooled features, as
//! `MoodHead::feature_term` computes it on the CPU.

use bytemuck::{Pod, Zeroable};

use super::kernels::{Kernels, Work};
use crate::engine::gpu::{self, Gpu};
use crate::engine::model::FEATURE_DIM;
use crate::engine::mood::head::{MoodHead, OUTPUTS};
use crate::error::Result;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    images: u32,
    inputs: u32,
    outputs: u32,
    _pad: u32,
}

pub(super) fn params(images: usize) -> Vec<u8> {
    bytemuck::bytes_of(&Params { images: images as u32, inputs: FEATURE_DIM as u32, outputs: OUTPUTS as u32, _pad: 0 })
        .to_vec()
}

/// One workgroup per image: its features are staged in workgroup memory.
pub(super) fn workgroups(images: usize, limits: &wgpu::Limits) -> (u32, u32) {
    (gpu::grid(images as u64, 1, limits), 1)
}

impl Kernels {
    /// The feature term (`images x OUTPUTS`) of `head` for `images x 1280`
    /// pooled features.
    pub fn run_mood_correction(&self, gpu: &Gpu, head: &MoodHead, features: &[f32], images: usize) -> Result<Vec<f32>> {
        let inputs = [gpu.storage("features", features)?, gpu.storage("mood head", &head.feature_table())?];
        self.run_once(gpu, Work::Correction, images, &inputs, images * OUTPUTS)
    }
}
