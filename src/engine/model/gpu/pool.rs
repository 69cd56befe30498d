//! Launcher of the pooling kernel (`shaders/pool.wgsl`): the mean of every
//! channel over all pixels of each image, the head's features.

use bytemuck::{Pod, Zeroable};

use crate::engine::gpu;

/// `@workgroup_size` of the shader: one invocation per image and group of
/// four channels.
const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    images: u32,
    pixels: u32,
    channels4: u32,
    _pad: u32,
}

/// Global average pooling of NHWC `pixels x channels` per image.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pool {
    pub pixels: usize,
    pub channels: usize,
}

impl Pool {
    pub(super) fn params(&self, images: usize) -> Vec<u8> {
        bytemuck::bytes_of(&Params {
            images: images as u32,
            pixels: self.pixels as u32,
            channels4: (self.channels / 4) as u32,
            _pad: 0,
        })
        .to_vec()
    }

    pub(super) fn workgroups(&self, images: usize, limits: &wgpu::Limits) -> (u32, u32) {
        (gpu::grid(images as u64 * (self.channels / 4) as u64, WG, limits), 1)
    }
}
