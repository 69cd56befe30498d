//! Launcher of the pointwise kernel (`shaders/pointwise.wgsl`): a 1x1
//! convolution (or the classifier) as one tiled matrix product, with what
//! follows it fused into the store.

use bytemuck::{Pod, Zeroable};

use crate::engine::gpu::shaders::{self, Storage};
use crate::engine::gpu::{self, Gpu};
use crate::error::Result;

/// Output tile side of the shader (`TILE_M`, `TILE_N`): one workgroup each.
const TILE: u64 = 64;

/// What the pointwise kernel fuses into its store after the bias: one
/// compiled pipeline each (the shader's `RELU6` and `RESIDUAL` overrides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fused {
    None,
    Relu6,
    /// Add the tensor bound as the residual (the block's input).
    Residual,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    m: u32,
    k: u32,
    n: u32,
    _pad: u32,
}

/// One product over `pixels` pixels an image (1 for the classifier):
/// `[pixels x k] x [k x n]` per image.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pointwise {
    pub pixels: usize,
    pub k: usize,
    pub n: usize,
    pub fused: Fused,
}

impl Pointwise {
    pub(super) fn params(&self, images: usize) -> Vec<u8> {
        let m = (images * self.pixels) as u32;
        bytemuck::bytes_of(&Params { m, k: self.k as u32, n: self.n as u32, _pad: 0 }).to_vec()
    }

    /// Column tiles in x, row tiles in y (the rows of every image together).
    pub(super) fn workgroups(&self, images: usize, limits: &wgpu::Limits) -> (u32, u32) {
        let rows = gpu::grid(images as u64 * self.pixels as u64, TILE as u32, limits);
        ((self.n as u64).div_ceil(TILE) as u32, rows)
    }
}

/// The three pipelines storing `storage`, in `Fused` order.
pub(super) fn pipelines(gpu: &Gpu, storage: Storage) -> Result<[wgpu::ComputePipeline; 3]> {
    let pipeline = |relu6: bool, residual: bool| {
        let flags = [("RELU6", f64::from(u8::from(relu6))), ("RESIDUAL", f64::from(u8::from(residual)))];
        gpu.pipeline_as(&shaders::POINTWISE, storage, "main", &flags)
    };
    Ok([pipeline(false, false)?, pipeline(true, false)?, pipeline(false, true)?])
}
