//! Launcher of the mood head (`shaders/mood_head.wgsl`): each image's
//! logits through the softmax to the semantic part of its mood, as
//! `mood::semantic` computes it on the CPU.

use bytemuck::{Pod, Zeroable};

use crate::engine::gpu;
use crate::engine::model::NUM_CLASSES;
use crate::engine::mood::{self, NUM_DIMS};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    images: u32,
    classes: u32,
    dims: u32,
    min_prob: f32,
}

pub(super) fn params(images: usize) -> Vec<u8> {
    bytemuck::bytes_of(&Params {
        images: images as u32,
        classes: NUM_CLASSES as u32,
        dims: NUM_DIMS as u32,
        min_prob: mood::SEMANTIC_MIN_PROB,
    })
    .to_vec()
}

/// One workgroup per image: its reductions run in workgroup memory.
pub(super) fn workgroups(images: usize, limits: &wgpu::Limits) -> (u32, u32) {
    (gpu::grid(images as u64, 1, limits), 1)
}

/// The per-class mood vectors as the shader reads them, `[class][dim]`.
pub(super) fn class_table() -> Vec<f32> {
    mood::class_table().iter().flatten().copied().collect()
}
