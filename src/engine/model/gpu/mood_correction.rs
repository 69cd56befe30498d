//! Launcher of the mood correction (`shaders/mood_correction.wgsl`): the
//! learned mood head's term from each image's pooled features, as
//! `FeatureProjection::apply` computes it on the CPU.

use bytemuck::{Pod, Zeroable};

use crate::engine::gpu;
use crate::engine::model::FEATURE_DIM;
use crate::engine::model::projection::PROJECTION_OUTPUTS as OUTPUTS;

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
