//! GPU matcher: exact top-k with the fused similarity kernel
//! (`shaders/topk.wgsl`), checked against `top_k_reference` in
//! `tests/gpu_similarity.rs`.
//!
//! The track matrix is uploaded once, in its CPU panel layout, as tiles that
//! each fit one storage binding (128 MiB on lavapipe, about 880,000 tracks),
//! so a catalog of any size that fits the device's memory works. A call
//! scans every tile (`scan`: each workgroup keeps the best k of its slice of
//! tracks for a group of images in workgroup memory) and then reduces the
//! slices' lists (`merge`), all in one submission; only k hits per image
//! come back. How many images share a workgroup is sized from the adapter's
//! workgroup memory: each keeps a list of at least k + 256 entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytemuck::{Pod, Zeroable};

use super::{Hit, LANES, Matcher, PANEL, TrackMatrix};
use crate::engine::gpu::{self, Gpu, shaders};
use crate::engine::mood::{SIM_DIMS, SimVector};
use crate::error::{Error, Result};

/// Tracks a workgroup scores per pass (64 invocations x 4 tracks).
const PASS: usize = 256;
/// At most this many images share a workgroup (`MAX_QG` in the shader).
const MAX_QG: usize = 8;
/// Query vectors are padded to 40 values, ten vec4.
const QUERY_LEN: usize = 40;
/// Slices are at least this long: shorter ones only add merge work.
const MIN_SLICE: usize = 2048;
/// Slices over the whole catalog, enough workgroups to fill a large GPU.
const TARGET_SLICES: usize = 512;
const EMPTY_TRACK: u32 = u32::MAX;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    tracks: u32,
    queries: u32,
    k: u32,
    slice: u32,
    first_track: u32,
    first_slice: u32,
    lists: u32,
    _pad: u32,
}

/// A run of whole panels in one buffer.
struct Tile {
    buffer: wgpu::Buffer,
    first_track: usize,
    tracks: usize,
    first_slice: usize,
    slices: usize,
}

/// Pipelines for one list length.
struct Kernels {
    list: usize,
    /// Images per scan workgroup.
    group: usize,
    scan: wgpu::ComputePipeline,
    merge: wgpu::ComputePipeline,
}

/// Buffers and bind groups for one list length and up to `queries` images.
struct Bound {
    list: usize,
    k: usize,
    queries: usize,
    query_buf: wgpu::Buffer,
    params: wgpu::Buffer,
    best: wgpu::Buffer,
    readback: wgpu::Buffer,
    scan: Vec<wgpu::BindGroup>,
    merge: wgpu::BindGroup,
}

pub struct GpuMatcher<'g> {
    gpu: &'g Gpu,
    tracks: usize,
    tiles: Vec<Tile>,
    slice: usize,
    slices: usize,
    param_stride: u64,
    kernels: Mutex<HashMap<usize, Arc<Kernels>>>,
    bound: Mutex<Option<Bound>>,
}

/// Bytes of workgroup memory one image takes in `scan` with `list` slots:
/// the list, its count and threshold, its query vector.
fn group_bytes(list: usize) -> usize {
    list * 8 + 8 + QUERY_LEN * 4
}

impl<'g> GpuMatcher<'g> {
    /// Uploads `tracks` in tiles no larger than one storage binding.
    pub fn new(gpu: &'g Gpu, tracks: &TrackMatrix) -> Result<Self> {
        Self::with_tile_bytes(gpu, tracks, gpu.max_binding())
    }

    /// As `new`, with tiles of at most `tile_bytes` (tests use small tiles to
    /// exercise the tiling on small catalogs).
    pub fn with_tile_bytes(gpu: &'g Gpu, tracks: &TrackMatrix, tile_bytes: u64) -> Result<Self> {
        let panel_bytes = (PANEL * 4) as u64;
        let tile_panels = (tile_bytes.min(gpu.max_binding()) / panel_bytes) as usize;
        if tile_panels == 0 {
            return Err(Error::Gpu(format!("a storage binding of {tile_bytes} bytes cannot hold one track panel")));
        }
        let n = tracks.len();
        if u32::try_from(n).is_err() {
            return Err(Error::Gpu(format!("{n} tracks: the GPU matcher indexes tracks with 32 bits")));
        }
        let slice = n.div_ceil(TARGET_SLICES).max(MIN_SLICE).next_multiple_of(PASS);
        let panels = tracks.panels();
        let mut tiles = Vec::new();
        let mut first_slice = 0;
        for (i, chunk) in panels.chunks(tile_panels * PANEL).enumerate() {
            let first_track = i * tile_panels * LANES;
            let count = (n - first_track).min(tile_panels * LANES);
            let slices = count.div_ceil(slice);
            let buffer = gpu.storage(&format!("tracks {i}"), chunk)?;
            tiles.push(Tile { buffer, first_track, tracks: count, first_slice, slices });
            first_slice += slices;
        }
        Ok(GpuMatcher {
            gpu,
            tracks: n,
            tiles,
            slice,
            slices: first_slice,
            param_stride: gpu::uniform_stride(&gpu.limits, std::mem::size_of::<Params>()),
            kernels: Mutex::new(HashMap::new()),
            bound: Mutex::new(None),
        })
    }

    /// Images one scan workgroup can hold with `list` slots each, within
    /// the adapter's workgroup memory (0: not even one).
    fn group_size(&self, list: usize) -> usize {
        let limit = self.gpu.limits.max_compute_workgroup_storage_size as usize;
        // 4 bytes for the workgroup's merge flag.
        (limit.saturating_sub(4) / group_bytes(list)).min(MAX_QG)
    }

    /// Largest k the adapter's workgroup memory allows.
    pub fn max_k(&self) -> usize {
        let mut list = (PASS + 1).next_power_of_two();
        while self.group_size(list * 2) > 0 {
            list *= 2;
        }
        if self.group_size(list) > 0 { list - PASS } else { 0 }
    }

    /// Tiles the catalog is stored in.
    pub fn tiles(&self) -> usize {
        self.tiles.len()
    }

    fn kernels(&self, k: usize) -> Result<Arc<Kernels>> {
        let list = (k + PASS).next_power_of_two();
        let group = self.group_size(list);
        if group == 0 {
            return Err(Error::Gpu(format!(
                "top-{k}: the adapter's {} bytes of workgroup memory allow k up to {} on the GPU",
                self.gpu.limits.max_compute_workgroup_storage_size,
                self.max_k()
            )));
        }
        let mut cache = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cache.get(&list) {
            return Ok(k.clone());
        }
        let overrides = |g: usize| {
            [("QG", g as f64), ("LIST", list as f64), ("SLOTS", (g * list) as f64), ("QVECS", (g * 10) as f64)]
        };
        let kernels = Arc::new(Kernels {
            list,
            group,
            scan: self.gpu.pipeline(&shaders::TOPK, "scan", &overrides(group))?,
            merge: self.gpu.pipeline(&shaders::TOPK, "merge", &overrides(1))?,
        });
        cache.insert(list, kernels.clone());
        Ok(kernels)
    }

    /// Largest number of images one submission covers: the slices' lists
    /// (`slices x images x k` entries) must fit one binding.
    fn chunk(&self, k: usize) -> usize {
        let per_image = (self.slices * k * 8) as u64;
        ((self.gpu.max_binding() / per_image.max(1)) as usize).clamp(1, 1024)
    }

    fn bind(&self, kernels: &Kernels, k: usize, queries: usize) -> Result<Bound> {
        let gpu = self.gpu;
        use wgpu::BufferUsages as U;
        let query_buf = gpu.buffer("queries", (queries * QUERY_LEN * 4) as u64, U::STORAGE | U::COPY_DST)?;
        let lists = gpu.scratch("slice lists", (self.slices * queries * k * 8) as u64)?;
        let best = gpu.scratch("best", (queries * k * 8) as u64)?;
        let readback = gpu.readback("best readback", (queries * k * 8) as u64)?;
        let params =
            gpu.buffer("topk params", self.param_stride * (self.tiles.len() + 1) as u64, U::UNIFORM | U::COPY_DST)?;
        let uniform = |i: usize| gpu::uniform_slot(&params, i, self.param_stride, std::mem::size_of::<Params>() as u64);
        let scan = self
            .tiles
            .iter()
            .enumerate()
            .map(|(i, t)| {
                gpu.bind_group(
                    &kernels.scan,
                    "topk scan",
                    vec![
                        (0, uniform(i)),
                        (1, t.buffer.as_entire_binding()),
                        (2, query_buf.as_entire_binding()),
                        (3, lists.as_entire_binding()),
                    ],
                )
            })
            .collect::<Result<_>>()?;
        let merge = gpu.bind_group(
            &kernels.merge,
            "topk merge",
            vec![(0, uniform(self.tiles.len())), (3, lists.as_entire_binding()), (4, best.as_entire_binding())],
        )?;
        Ok(Bound { list: kernels.list, k, queries, query_buf, params, best, readback, scan, merge })
    }

    /// Exact top-`k` of up to `chunk(k)` queries in one submission.
    fn run(&self, queries: &[SimVector], k: usize, out: &mut Vec<Vec<Hit>>) -> Result<()> {
        let gpu = self.gpu;
        let kernels = self.kernels(k)?;
        let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        let fits = bound.as_ref().is_some_and(|b| b.list == kernels.list && b.k == k && b.queries >= queries.len());
        if !fits {
            *bound = Some(self.bind(&kernels, k, queries.len())?);
        }
        let Some(b) = bound.as_ref() else { unreachable!("bound above") };
        let q = queries.len();
        let mut padded = vec![0.0f32; q * QUERY_LEN];
        for (dst, src) in padded.chunks_exact_mut(QUERY_LEN).zip(queries) {
            dst[..SIM_DIMS].copy_from_slice(src);
        }
        gpu.queue.write_buffer(&b.query_buf, 0, bytemuck::cast_slice(&padded));
        let mut params = vec![0u8; self.param_stride as usize * (self.tiles.len() + 1)];
        let base = Params { queries: q as u32, k: k as u32, slice: self.slice as u32, ..Params::zeroed() };
        for (i, t) in self.tiles.iter().enumerate() {
            let p = Params {
                tracks: t.tracks as u32,
                first_track: t.first_track as u32,
                first_slice: t.first_slice as u32,
                ..base
            };
            let at = i * self.param_stride as usize;
            params[at..at + std::mem::size_of::<Params>()].copy_from_slice(bytemuck::bytes_of(&p));
        }
        let at = self.tiles.len() * self.param_stride as usize;
        let merge = Params { lists: self.slices as u32, ..base };
        params[at..at + std::mem::size_of::<Params>()].copy_from_slice(bytemuck::bytes_of(&merge));
        gpu.queue.write_buffer(&b.params, 0, &params);

        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("top-k") });
        let timed = gpu.reserve_timestamps();
        {
            let timestamp_writes = timed.and_then(|pair| gpu.timestamp_writes(pair));
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("top-k"), timestamp_writes });
            pass.set_pipeline(&kernels.scan);
            let groups = q.div_ceil(kernels.group) as u32;
            for (t, bind_group) in self.tiles.iter().zip(&b.scan) {
                pass.set_bind_group(0, bind_group, &[]);
                pass.dispatch_workgroups(groups, t.slices as u32, 1);
            }
            pass.set_pipeline(&kernels.merge);
            pass.set_bind_group(0, &b.merge, &[]);
            pass.dispatch_workgroups(q as u32, 1, 1);
        }
        if let Some(pair) = timed {
            gpu.resolve_timestamps(&mut encoder, pair);
        }
        let bytes = (q * k * 8) as u64;
        encoder.copy_buffer_to_buffer(&b.best, 0, &b.readback, 0, bytes);
        let submission = gpu.queue.submit([encoder.finish()]);
        gpu.check()?;
        gpu.read_mapped(&b.readback, bytes, submission, |raw| {
            let entries: &[[u32; 2]] = bytemuck::cast_slice(raw);
            for row in entries.chunks_exact(k) {
                out.push(
                    row.iter()
                        .filter(|e| e[1] != EMPTY_TRACK)
                        .map(|&[key, track]| Hit { track, score: score_of(key) })
                        .collect(),
                );
            }
        })
    }
}

/// Inverse of the shader's `key_of`: the score an order key stands for.
fn score_of(key: u32) -> f32 {
    f32::from_bits(if key & 0x8000_0000 != 0 { key ^ 0x8000_0000 } else { !key })
}

impl Matcher for GpuMatcher<'_> {
    fn describe(&self) -> String {
        format!(
            "gpu ({}, fused top-k, {} tracks in {} tile{})",
            self.gpu.describe(),
            self.tracks,
            self.tiles.len(),
            if self.tiles.len() == 1 { "" } else { "s" }
        )
    }

    fn top_k(&self, queries: &[SimVector], k: usize) -> Result<Vec<Vec<Hit>>> {
        let mut out = Vec::with_capacity(queries.len());
        let k = k.min(self.tracks);
        if k == 0 {
            out.resize(queries.len(), Vec::new());
            return Ok(out);
        }
        for chunk in queries.chunks(self.chunk(k)) {
            self.run(chunk, k, &mut out)?;
        }
        Ok(out)
    }
}
