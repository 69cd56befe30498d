//! Launcher of `shaders/cues.wgsl`: the block tables of a batch of frames
//! on the GPU, equal to `blocks::block_table` within `TOLERANCE`.

use bytemuck::{Pod, Zeroable};

use super::blocks::{BLOCK, BLOCK_VALUES, BlockSums};
use crate::engine::gpu::{Gpu, shaders, uniform_slot, uniform_stride};
use crate::error::Result;

/// How far a GPU block sum may be from the CPU reference's, relative to
/// the sum's size (at least 1): the sums run in the same order, so they
/// differ only where the GPU fuses a multiply and an add, and a pixel
/// that sits exactly on a threshold (an edge, a light) can then flip.
pub const TOLERANCE: f32 = 2e-3;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    width: u32,
    height: u32,
    blocks_x: u32,
    first_block: u32,
    first_pixel: u32,
    _pad: [u32; 3],
}

/// The block tables of RGB8 `frames` (`(pixels, width, height)`), in one
/// submission: a dispatch per frame, a workgroup per block.
pub fn block_tables(gpu: &Gpu, frames: &[(&[u8], usize, usize)]) -> Result<Vec<BlockSums>> {
    if frames.is_empty() {
        return Ok(Vec::new());
    }
    let mut packed: Vec<u32> = Vec::new();
    let mut params = Vec::with_capacity(frames.len());
    let mut blocks = 0usize;
    for &(rgb, w, h) in frames {
        assert!(w > 0 && h > 0 && rgb.len() >= w * h * 3, "cues need a non-empty RGB8 frame");
        let (bx, by) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
        params.push(Params {
            width: w as u32,
            height: h as u32,
            blocks_x: bx as u32,
            first_block: blocks as u32,
            first_pixel: packed.len() as u32,
            _pad: [0; 3],
        });
        packed.extend(rgb[..w * h * 3].chunks_exact(3).map(|p| p[0] as u32 | (p[1] as u32) << 8 | (p[2] as u32) << 16));
        blocks += bx * by;
    }
    let pipeline = gpu.pipeline(&shaders::CUES, "main", &[])?;
    let size = std::mem::size_of::<Params>();
    let stride = uniform_stride(&gpu.limits, size);
    let mut uniform_bytes = vec![0u8; stride as usize * params.len()];
    for (k, p) in params.iter().enumerate() {
        uniform_bytes[k * stride as usize..][..size].copy_from_slice(bytemuck::bytes_of(p));
    }
    let uniforms = gpu.scoped("cues params", || {
        wgpu::util::DeviceExt::create_buffer_init(
            &gpu.device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("cues params"),
                contents: &uniform_bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            },
        )
    })?;
    let pixels = gpu.storage("cues frames", &packed)?;
    let bytes = (blocks * BLOCK_VALUES * 4) as u64;
    let out = gpu.scratch("cues blocks", bytes)?;
    let readback = gpu.readback("cues readback", bytes)?;
    let binds = (0..params.len())
        .map(|k| {
            gpu.bind_group(
                &pipeline,
                "cues",
                vec![
                    (0, uniform_slot(&uniforms, k, stride, size as u64)),
                    (1, pixels.as_entire_binding()),
                    (2, out.as_entire_binding()),
                ],
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut enc = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("cues") });
    {
        let mut pass =
            enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("cues"), timestamp_writes: None });
        pass.set_pipeline(&pipeline);
        for (p, bind) in params.iter().zip(&binds) {
            let groups = p.blocks_x * (p.height as usize).div_ceil(BLOCK) as u32;
            // A frame has at most a few thousand blocks: far under the
            // dispatch limit of 65,535 workgroups in x.
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(groups, 1, 1);
        }
    }
    enc.copy_buffer_to_buffer(&out, 0, &readback, 0, bytes);
    let submission = gpu.queue.submit([enc.finish()]);
    let values: Vec<f32> = gpu.read_mapped(&readback, bytes, submission, |b| bytemuck::cast_slice(b).to_vec())?;
    Ok(params
        .iter()
        .zip(frames)
        .map(|(p, &(_, w, h))| {
            let n = p.blocks_x as usize * h.div_ceil(BLOCK);
            let first = p.first_block as usize * BLOCK_VALUES;
            BlockSums {
                width: w,
                height: h,
                blocks_x: p.blocks_x as usize,
                blocks_y: h.div_ceil(BLOCK),
                values: values[first..first + n * BLOCK_VALUES].to_vec(),
            }
        })
        .collect())
}
