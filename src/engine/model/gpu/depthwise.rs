//! Launcher of the depthwise kernel (`shaders/depthwise.wgsl`): 3x3,
//! stride 1 or 2, plus bias and ReLU6, NHWC.

use bytemuck::{Pod, Zeroable};

use crate::engine::gpu;

/// `@workgroup_size` of the shader: one invocation per output pixel and
/// group of four channels.
const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    images: u32,
    in_side: u32,
    out_side: u32,
    channels4: u32,
    stride: u32,
    _pad: [u32; 3],
}

/// One depthwise layer on square `in_side x in_side` planes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Depthwise {
    pub in_side: usize,
    pub channels: usize,
    pub stride: usize,
}

impl Depthwise {
    pub(super) fn out_side(&self) -> usize {
        self.in_side.div_ceil(self.stride)
    }

    pub(super) fn params(&self, images: usize) -> Vec<u8> {
        bytemuck::bytes_of(&Params {
            images: images as u32,
            in_side: self.in_side as u32,
            out_side: self.out_side() as u32,
            channels4: (self.channels / 4) as u32,
            stride: self.stride as u32,
            _pad: [0; 3],
        })
        .to_vec()
    }

    pub(super) fn workgroups(&self, images: usize, limits: &wgpu::Limits) -> (u32, u32) {
        let out = self.out_side() as u64;
        (gpu::grid(images as u64 * out * out * (self.channels / 4) as u64, WG, limits), 1)
    }
}
