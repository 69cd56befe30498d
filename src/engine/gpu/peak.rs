//! Launcher of the peak kernels (`shaders/peak.wgsl`), which `pixtape
//! bench` uses to give the engine's GPU figures as a fraction of what the
//! adapter sustains: a chain-of-FMAs kernel for arithmetic and a streaming
//! sum for read bandwidth. The CPU references below compute what each
//! invocation writes, so the kernels are checked like every other.

use bytemuck::{Pod, Zeroable};

use super::{Gpu, shaders};
use crate::error::Result;

/// Invocations per workgroup, as in the shader.
const WG: u32 = 256;
/// FMA chains per invocation, each on a vec4.
pub const CHAINS: u64 = 8;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    iterations: u32,
    words: u32,
    threads: u32,
    _pad: u32,
}

/// FLOPs of `fma` for `threads` invocations of `iterations` rounds.
pub fn fma_flop(threads: u32, iterations: u32) -> f64 {
    threads as f64 * iterations as f64 * (CHAINS * 4 * 2) as f64
}

/// What invocation `i` of `fma_peak` writes.
pub fn fma_reference(i: u32, iterations: u32) -> f32 {
    let seed = (i % 1024) as f32 * 0.0001;
    let base = [seed, seed + 0.01, seed + 0.02, seed + 0.03];
    let mut a = [[0f32; 4]; 8];
    for (c, chain) in a.iter_mut().enumerate() {
        for (l, x) in chain.iter_mut().enumerate() {
            *x = if c == 0 { base[l] } else { base[l] + 0.1 * c as f32 };
        }
    }
    for _ in 0..iterations {
        for chain in &mut a {
            for x in chain.iter_mut() {
                *x = x.mul_add(0.999, 0.001);
            }
        }
    }
    let s: [f32; 4] = std::array::from_fn(|l| {
        ((a[0][l] + a[1][l]) + (a[2][l] + a[3][l])) + ((a[4][l] + a[5][l]) + (a[6][l] + a[7][l]))
    });
    (s[0] + s[1]) + (s[2] + s[3])
}

/// What invocation `i` of `stream_peak` writes for `data` (vec4 words).
pub fn stream_reference(data: &[[f32; 4]], threads: u32, i: u32) -> f32 {
    let mut s = [0f32; 4];
    let mut j = i as usize;
    while j < data.len() {
        for l in 0..4 {
            s[l] += data[j][l];
        }
        j += threads as usize;
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// Runs `fma_peak` for `threads` invocations of `iterations` rounds;
/// returns each invocation's output and the seconds from submission to
/// results on the host.
/// `passes` dispatches go in one submission, so that a fast device is timed
/// over more than a launch.
pub fn fma(gpu: &Gpu, threads: u32, iterations: u32, passes: u32) -> Result<(Vec<f32>, f64)> {
    run(gpu, "fma_peak", Params { iterations, words: 0, threads, _pad: 0 }, None, passes)
}

/// Runs `stream_peak` over `data` (`words` vec4s) with `threads`
/// invocations, `passes` times in one submission.
pub fn stream(gpu: &Gpu, data: &wgpu::Buffer, words: u32, threads: u32, passes: u32) -> Result<(Vec<f32>, f64)> {
    run(gpu, "stream_peak", Params { iterations: 0, words, threads, _pad: 0 }, Some(data), passes)
}

/// `data` is bound only for the entry that reads it: each entry point's
/// layout is derived from what it uses.
fn run(gpu: &Gpu, entry: &str, params: Params, data: Option<&wgpu::Buffer>, passes: u32) -> Result<(Vec<f32>, f64)> {
    let pipeline = gpu.pipeline(&shaders::PEAK, entry, &[])?;
    let uniform = gpu.scoped("peak params", || {
        wgpu::util::DeviceExt::create_buffer_init(
            &gpu.device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("peak params"),
                contents: bytemuck::bytes_of(&params),
                usage: wgpu::BufferUsages::UNIFORM,
            },
        )
    })?;
    let bytes = params.threads as u64 * 4;
    let out = gpu.scratch("peak out", bytes)?;
    let readback = gpu.readback("peak readback", bytes)?;
    let mut resources = vec![(0, uniform.as_entire_binding()), (2, out.as_entire_binding())];
    if let Some(d) = data {
        resources.push((1, d.as_entire_binding()));
    }
    let bind = gpu.bind_group(&pipeline, "peak", resources)?;
    // Workgroups in x up to the dispatch limit, the rest in y; the shader
    // folds (x, y) back into one index and skips the spare invocations.
    let groups = params.threads.div_ceil(WG).max(1);
    let max = gpu.limits.max_compute_workgroups_per_dimension;
    let (gx, gy) = if groups <= max { (groups, 1) } else { (max, groups.div_ceil(max)) };
    let started = std::time::Instant::now();
    let mut enc = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("peak") });
    let timed = gpu.reserve_timestamps();
    {
        let timestamp_writes = timed.and_then(|pair| gpu.timestamp_writes(pair));
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("peak"), timestamp_writes });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        for _ in 0..passes.max(1) {
            pass.dispatch_workgroups(gx, gy, 1);
        }
    }
    if let Some(pair) = timed {
        gpu.resolve_timestamps(&mut enc, pair);
    }
    enc.copy_buffer_to_buffer(&out, 0, &readback, 0, bytes);
    let submission = gpu.queue.submit([enc.finish()]);
    let values = gpu.read_mapped(&readback, bytes, submission, |b| bytemuck::cast_slice::<u8, f32>(b).to_vec())?;
    Ok((values, started.elapsed().as_secs_f64()))
}
