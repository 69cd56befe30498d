//! Launcher of the stem kernel (`shaders/stem.wgsl`): the u8 crops,
//! normalised on the fly, through the 3x3 stride-2 convolution and ReLU6.

use bytemuck::{Pod, Zeroable};

use crate::engine::gpu;
use crate::engine::model::{INPUT_SIZE, MEAN, STD, STEM_SIDE};

/// `@workgroup_size` of the shader: one invocation per output pixel.
const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    images: u32,
    in_side: u32,
    out_side: u32,
    _pad: u32,
    mean: [f32; 4],
    deviation: [f32; 4],
}

pub(super) fn params(images: usize) -> Vec<u8> {
    bytemuck::bytes_of(&Params {
        images: images as u32,
        in_side: INPUT_SIZE as u32,
        out_side: STEM_SIDE as u32,
        _pad: 0,
        mean: [MEAN[0], MEAN[1], MEAN[2], 0.0],
        deviation: [STD[0], STD[1], STD[2], 1.0],
    })
    .to_vec()
}

pub(super) fn workgroups(images: usize, limits: &wgpu::Limits) -> (u32, u32) {
    (gpu::grid(images as u64 * (STEM_SIDE * STEM_SIDE) as u64, WG, limits), 1)
}
