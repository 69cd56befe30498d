//! GPU engine for MobileNetV2: every layer a WGSL compute kernel run through
//! wgpu (`shaders/stem.wgsl`, `pointwise.wgsl`, `depthwise.wgsl`,
//! `pool.wgsl`, `mood_head.wgsl`, `mood_correction.wgsl`), checked kernel
//! by kernel against the CPU reference in `tests/gpu_kernels.rs`.
//!
//! Weights are uploaded, and pipelines and bind groups built, once. A batch
//! then writes its crops as bytes (a quarter of what f32 would move), records
//! 56 dispatches in one pass and copies out features, logits, the semantic
//! mood and the learned mood head's feature term. Activations are NHWC, as on the CPU, and ping-pong between
//! four buffers sized for the largest batch the adapter's storage-binding
//! limit allows: block 1's expanded tensor is 4.8 MB an image, so 27 images
//! under lavapipe's 128 MiB, 256 on a large GPU. Two readback buffers
//! alternate, so batch i+1 is queued before batch i is read back
//! (`Engine::depth` is 2) and the GPU never waits for the host between
//! batches.
//!
//! This file owns the engine: its buffers, the recorded dispatches and the
//! batches in flight. `plan` lays the layers out; `kernels` holds the
//! compiled pipelines; each kernel's launcher (its uniform block, dispatch
//! geometry and one-off `run_*` for the tests) sits in a file named after
//! its shader: `stem`, `pointwise`, `depthwise`, `pool`, `mood_head`,
//! `mood_correction`.

mod depthwise;
mod kernels;
mod mood_correction;
mod mood_head;
mod one_off;
mod plan;
mod pointwise;
mod pool;
mod stem;

use std::collections::VecDeque;
use std::sync::Mutex;

pub use kernels::Kernels;
use kernels::{Work, bind};
use plan::{Act, plan};
pub use pointwise::Fused;
use pointwise::Pointwise;
use pool::Pool;

use super::projection::{FeatureProjection, PROJECTION_OUTPUTS as OUTPUTS};
use super::{CROP_BYTES, Engine, FEATURE_DIM, INPUT_SIZE, MobileNetV2, ModelOutput, NUM_CLASSES, matmul_weights};
use crate::engine::gpu::shaders::Storage;
use crate::engine::gpu::{self, Gpu};
use crate::engine::mood::NUM_DIMS;
use crate::error::{Error, Result};

/// Largest batch one submission takes; beyond it only memory grows (about
/// 10 MB of activations an image).
const MAX_BATCH: usize = 256;

/// One recorded dispatch of the engine.
struct Op {
    work: Work,
    bind_group: wgpu::BindGroup,
}

/// A batch queued on the GPU.
struct InFlight {
    n: usize,
    readback: usize,
    submission: wgpu::SubmissionIndex,
}

struct State {
    /// Batch size the uniform blocks currently describe.
    params_for: usize,
    in_flight: VecDeque<InFlight>,
    next_readback: usize,
}

/// MobileNetV2 on one device. Weights and activations need no fields of
/// their own: the bind groups that use them keep them alive.
pub struct GpuEngine<'g> {
    gpu: &'g Gpu,
    kernels: Kernels,
    ops: Vec<Op>,
    /// One uniform block per op, `param_stride` bytes apart.
    params: wgpu::Buffer,
    param_stride: u64,
    crops: wgpu::Buffer,
    features: wgpu::Buffer,
    logits: wgpu::Buffer,
    semantic: wgpu::Buffer,
    feature_term: wgpu::Buffer,
    /// Two host-visible buffers, alternating:
    /// `[features | logits | semantic | feature term]`.
    readback: [wgpu::Buffer; 2],
    max_batch: usize,
    state: Mutex<State>,
}

/// Bytes of the readback sections for `b` images.
fn sections(b: usize) -> [u64; 4] {
    [(b * FEATURE_DIM * 4) as u64, (b * NUM_CLASSES * 4) as u64, (b * NUM_DIMS * 4) as u64, (b * OUTPUTS * 4) as u64]
}

impl<'g> GpuEngine<'g> {
    /// Uploads `model` and `projection`, and sizes the buffers for batches of
    /// up to `batch` images, or fewer where the adapter's storage-binding
    /// limit says so (`max_batch` tells). f32 throughout.
    pub fn new(gpu: &'g Gpu, model: &MobileNetV2, projection: &FeatureProjection, batch: usize) -> Result<Self> {
        Self::with_storage(gpu, model, projection, batch, Storage::F32)
    }

    /// The same, with activations and the 1x1 convolutions' weights stored
    /// as `storage`. f16 halves the bytes every layer moves and doubles the
    /// batch a binding holds; the stem's and depthwise weights, the biases,
    /// the pooled features and everything after them stay f32.
    pub fn with_storage(
        gpu: &'g Gpu,
        model: &MobileNetV2,
        projection: &FeatureProjection,
        batch: usize,
        storage: Storage,
    ) -> Result<Self> {
        let kernels = Kernels::with_storage(gpu, storage)?;
        let elem = match storage {
            Storage::F32 => 4,
            Storage::F16 => 2,
        };
        let plan = plan(model);
        // Per-image floats of each activation buffer, over all layers.
        let mut per_image = [0usize; 4];
        for step in &plan {
            let slot = &mut per_image[step.dst as usize];
            *slot = (*slot).max(step.out_len);
        }
        let largest = (per_image.iter().max().copied().unwrap_or(1) * elem).max(CROP_BYTES) as u64;
        let max_batch = ((gpu.max_binding() / largest) as usize).min(MAX_BATCH).min(batch.max(1));
        if max_batch == 0 {
            return Err(Error::Gpu(format!(
                "{}: a storage binding of at most {} bytes cannot hold one image's activations ({largest} bytes)",
                gpu.describe(),
                gpu.max_binding()
            )));
        }
        use wgpu::BufferUsages as U;
        let acts: Vec<wgpu::Buffer> = ["x", "y", "expanded", "depthwise"]
            .iter()
            .zip(per_image)
            .map(|(name, len)| gpu.scratch(name, (len * max_batch * elem) as u64))
            .collect::<Result<_>>()?;
        let crops = gpu.buffer("crops", (max_batch * CROP_BYTES) as u64, U::STORAGE | U::COPY_DST)?;
        let [fb, lb, sb, tb] = sections(max_batch);
        let features = gpu.scratch("features", fb)?;
        let logits = gpu.scratch("logits", lb)?;
        let semantic = gpu.scratch("semantic", sb)?;
        let feature_term = gpu.scratch("feature term", tb)?;
        let total = fb + lb + sb + tb;
        let readback = [gpu.readback("readback 0", total)?, gpu.readback("readback 1", total)?];
        let unused = gpu.storage("no residual", &[0.0f32; 4])?;

        let param_stride = gpu::uniform_stride(&gpu.limits, 48);
        let ops_len = plan.len() + 5;
        let params = gpu.buffer("params", param_stride * ops_len as u64, U::UNIFORM | U::COPY_DST)?;
        let uniform = |i: usize| gpu::uniform_slot(&params, i, param_stride, param_stride);
        let mut ops = Vec::with_capacity(ops_len);
        for (i, step) in plan.iter().enumerate() {
            let dst = acts[step.dst as usize].as_entire_binding();
            // Only the 1x1 convolutions read their weights as `Act`.
            let weight = match step.work {
                Work::Pointwise(_) => upload(gpu, &step.label, &step.weight, storage)?,
                _ => gpu.storage(&step.label, &step.weight)?,
            };
            let weights = [weight, gpu.storage(&step.label, &step.bias)?];
            let mut res = vec![uniform(i)];
            res.push(match step.src {
                Some(a) => acts[a as usize].as_entire_binding(),
                None => crops.as_entire_binding(),
            });
            res.push(weights[0].as_entire_binding());
            res.push(weights[1].as_entire_binding());
            if let Work::Pointwise(_) = step.work {
                res.push(match step.residual {
                    Some(a) => acts[a as usize].as_entire_binding(),
                    None => unused.as_entire_binding(),
                });
            }
            res.push(dst);
            let bind_group = bind(gpu, kernels.pipeline(&step.work), &step.label, res)?;
            ops.push(Op { work: step.work, bind_group });
        }
        // Pool the head's output, classify, read the mood, correct it.
        let last = acts[plan.last().map_or(Act::X, |s| s.dst) as usize].as_entire_binding();
        let side = INPUT_SIZE / 32;
        let classifier_w = gpu.storage("classifier", &matmul_weights(&model.classifier_weight, NUM_CLASSES))?;
        let classifier_b = gpu.storage("classifier bias", &model.classifier_bias)?;
        let table = gpu.storage("class moods", &mood_head::class_table())?;
        let learned = gpu.storage("mood head", projection.table())?;
        let tail = [
            (Work::Pool(Pool { pixels: side * side, channels: FEATURE_DIM }), vec![last, features.as_entire_binding()]),
            (
                Work::Classifier(Pointwise { pixels: 1, k: FEATURE_DIM, n: NUM_CLASSES, fused: Fused::None }),
                vec![
                    features.as_entire_binding(),
                    classifier_w.as_entire_binding(),
                    classifier_b.as_entire_binding(),
                    unused.as_entire_binding(),
                    logits.as_entire_binding(),
                ],
            ),
            (Work::Mood, vec![logits.as_entire_binding(), table.as_entire_binding(), semantic.as_entire_binding()]),
            (
                Work::Correction,
                vec![features.as_entire_binding(), learned.as_entire_binding(), feature_term.as_entire_binding()],
            ),
        ];
        for (work, resources) in tail {
            let mut res = vec![uniform(ops.len())];
            res.extend(resources);
            let bind_group = bind(gpu, kernels.pipeline(&work), "tail", res)?;
            ops.push(Op { work, bind_group });
        }
        Ok(GpuEngine {
            gpu,
            kernels,
            ops,
            params,
            param_stride,
            crops,
            features,
            logits,
            semantic,
            feature_term,
            readback,
            max_batch,
            state: Mutex::new(State { params_for: 0, in_flight: VecDeque::new(), next_readback: 0 }),
        })
    }

    fn write_params(&self, n: usize) {
        let mut block = vec![0u8; self.param_stride as usize * self.ops.len()];
        for (i, op) in self.ops.iter().enumerate() {
            let p = op.work.params(n);
            let at = i * self.param_stride as usize;
            block[at..at + p.len()].copy_from_slice(&p);
        }
        self.gpu.queue.write_buffer(&self.params, 0, &block);
    }
}

/// A read-only buffer of `data` as `storage`: f16 rounds to nearest even.
fn upload(gpu: &Gpu, label: &str, data: &[f32], storage: Storage) -> Result<wgpu::Buffer> {
    match storage {
        Storage::F32 => gpu.storage(label, data),
        Storage::F16 => {
            let half: Vec<u16> = data.iter().map(|&v| half::f16::from_f32(v).to_bits()).collect();
            gpu.storage(label, &half)
        }
    }
}

impl Engine for GpuEngine<'_> {
    fn describe(&self) -> String {
        let storage = if self.kernels.storage() == Storage::F16 { ", f16 activations" } else { "" };
        format!("gpu ({}, WGSL kernels{storage})", self.gpu.describe())
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn depth(&self) -> usize {
        2
    }

    fn start(&self, crops: &[u8], n: usize) -> Result<()> {
        if n == 0 || n > self.max_batch {
            return Err(Error::Gpu(format!("batch of {n} images: the GPU engine takes 1 to {}", self.max_batch)));
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.in_flight.len() >= self.depth() {
            return Err(Error::Gpu("gpu engine: more batches started than finished".into()));
        }
        // Queue writes land before the next submission and after the ones
        // already queued, so a batch in flight keeps the values it was
        // recorded with.
        if state.params_for != n {
            self.write_params(n);
            state.params_for = n;
        }
        self.gpu.queue.write_buffer(&self.crops, 0, &crops[..n * CROP_BYTES]);
        let gpu = self.gpu;
        let mut encoder =
            gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("mobilenet_v2") });
        let timed = gpu.reserve_timestamps();
        {
            let timestamp_writes = timed.and_then(|pair| gpu.timestamp_writes(pair));
            let mut pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("mobilenet_v2"), timestamp_writes });
            for op in &self.ops {
                pass.set_pipeline(self.kernels.pipeline(&op.work));
                pass.set_bind_group(0, &op.bind_group, &[]);
                let (x, y) = op.work.workgroups(n, &gpu.limits);
                pass.dispatch_workgroups(x, y, 1);
            }
        }
        if let Some(pair) = timed {
            gpu.resolve_timestamps(&mut encoder, pair);
        }
        let slot = state.next_readback;
        state.next_readback = 1 - slot;
        let readback = &self.readback[slot];
        let [fb, lb, sb, _] = sections(self.max_batch);
        let [f, l, s, t] = sections(n);
        encoder.copy_buffer_to_buffer(&self.features, 0, readback, 0, f);
        encoder.copy_buffer_to_buffer(&self.logits, 0, readback, fb, l);
        encoder.copy_buffer_to_buffer(&self.semantic, 0, readback, fb + lb, s);
        encoder.copy_buffer_to_buffer(&self.feature_term, 0, readback, fb + lb + sb, t);
        let submission = gpu.queue.submit([encoder.finish()]);
        gpu.check()?;
        state.in_flight.push_back(InFlight { n, readback: slot, submission });
        Ok(())
    }

    fn finish(&self, out: &mut ModelOutput) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let InFlight { n, readback, submission } =
            state.in_flight.pop_front().ok_or_else(|| Error::Gpu("gpu engine: finish without start".into()))?;
        out.resize(n);
        let [fb, lb, sb, tb] = sections(self.max_batch);
        let [f, l, s, t] = sections(n);
        self.gpu.read_mapped(&self.readback[readback], fb + lb + sb + tb, submission, |bytes| {
            let floats: &[f32] = bytemuck::cast_slice(bytes);
            let at = |offset: u64, len: u64| &floats[(offset / 4) as usize..((offset + len) / 4) as usize];
            out.features.copy_from_slice(at(0, f));
            out.logits.copy_from_slice(at(fb, l));
            out.semantic.copy_from_slice(at(fb + lb, s));
            out.feature_term.copy_from_slice(at(fb + lb + sb, t));
        })
    }
}
