//! GPU engine for MobileNetV2: every layer a WGSL compute kernel run through
//! wgpu (`shaders/stem.wgsl`, `pointwise.wgsl`, `depthwise.wgsl`,
//! `pool.wgsl`, `mood_head.wgsl`), checked kernel by kernel against the CPU
//! reference in `tests/gpu_kernels.rs`.
//!
//! Weights are uploaded, and pipelines and bind groups built, once. A batch
//! then writes its crops as bytes (a quarter of what f32 would move), records
//! 55 dispatches in one pass and copies out features, logits and the
//! semantic mood. Activations are NHWC, as on the CPU, and ping-pong between
//! four buffers sized for the largest batch the adapter's storage-binding
//! limit allows: block 1's expanded tensor is 4.8 MB an image, so 27 images
//! under lavapipe's 128 MiB, 256 on a large GPU. Two readback buffers
//! alternate, so batch i+1 is queued before batch i is read back
//! (`Engine::depth` is 2) and the GPU never waits for the host between
//! batches.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytemuck::{Pod, Zeroable};

use super::{
    CROP_BYTES, Engine, FEATURE_DIM, INPUT_SIZE, MEAN, MobileNetV2, ModelOutput, NUM_CLASSES, STD, STEM_OUT, STEM_SIDE,
    depthwise_weights, matmul_weights, stem_weights,
};
use crate::error::{Error, Result};
use crate::gpu::{self, Gpu, shaders};
use crate::mood::{self, NUM_DIMS};

/// Largest batch one submission takes; beyond it only memory grows (about
/// 10 MB of activations an image).
const MAX_BATCH: usize = 256;
/// Workgroup size of the element-wise kernels (stem, depthwise, pool).
const WG: u32 = 64;
/// Output tile side of the matrix kernel.
const TILE: u64 = 64;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct StemParams {
    images: u32,
    in_side: u32,
    out_side: u32,
    _pad: u32,
    mean: [f32; 4],
    deviation: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MatmulParams {
    m: u32,
    k: u32,
    n: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct DepthwiseParams {
    images: u32,
    in_side: u32,
    out_side: u32,
    channels4: u32,
    stride: u32,
    _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PoolParams {
    images: u32,
    pixels: u32,
    channels4: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MoodParams {
    images: u32,
    classes: u32,
    dims: u32,
    min_prob: f32,
}

/// What follows a matrix product in its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epilogue {
    None,
    Relu6,
    /// Add the tensor bound as the residual (the block's input).
    Residual,
}

/// One dispatch of one kernel, for `images` images.
#[derive(Clone, Copy, Debug)]
enum Work {
    Stem,
    /// A 1x1 convolution over `pixels` pixels an image (1 for the classifier).
    Matmul {
        pixels: usize,
        k: usize,
        n: usize,
        epilogue: Epilogue,
    },
    Depthwise {
        in_side: usize,
        channels: usize,
        stride: usize,
    },
    Pool {
        pixels: usize,
        channels: usize,
    },
    Mood,
}

impl Work {
    /// The uniform block of this dispatch.
    fn params(&self, images: usize) -> Vec<u8> {
        let n = images as u32;
        match *self {
            Work::Stem => bytemuck::bytes_of(&StemParams {
                images: n,
                in_side: INPUT_SIZE as u32,
                out_side: STEM_SIDE as u32,
                _pad: 0,
                mean: [MEAN[0], MEAN[1], MEAN[2], 0.0],
                deviation: [STD[0], STD[1], STD[2], 1.0],
            })
            .to_vec(),
            Work::Matmul { pixels, k, n: cols, .. } => {
                bytemuck::bytes_of(&MatmulParams { m: (images * pixels) as u32, k: k as u32, n: cols as u32, _pad: 0 })
                    .to_vec()
            }
            Work::Depthwise { in_side, channels, stride } => bytemuck::bytes_of(&DepthwiseParams {
                images: n,
                in_side: in_side as u32,
                out_side: in_side.div_ceil(stride) as u32,
                channels4: (channels / 4) as u32,
                stride: stride as u32,
                _pad: [0; 3],
            })
            .to_vec(),
            Work::Pool { pixels, channels } => bytemuck::bytes_of(&PoolParams {
                images: n,
                pixels: pixels as u32,
                channels4: (channels / 4) as u32,
                _pad: 0,
            })
            .to_vec(),
            Work::Mood => bytemuck::bytes_of(&MoodParams {
                images: n,
                classes: NUM_CLASSES as u32,
                dims: NUM_DIMS as u32,
                min_prob: mood::SEMANTIC_MIN_PROB,
            })
            .to_vec(),
        }
    }

    /// Workgroups to dispatch; every kernel loops with a grid stride, so
    /// clamping to the dispatch limit is always safe.
    fn workgroups(&self, images: usize, limits: &wgpu::Limits) -> (u32, u32) {
        let n = images as u64;
        match *self {
            Work::Stem => (gpu::grid(n * (STEM_SIDE * STEM_SIDE) as u64, WG, limits), 1),
            Work::Matmul { pixels, n: cols, .. } => {
                let rows = gpu::grid(n * pixels as u64, TILE as u32, limits);
                ((cols as u64).div_ceil(TILE) as u32, rows)
            }
            Work::Depthwise { in_side, channels, stride } => {
                let out = in_side.div_ceil(stride) as u64;
                (gpu::grid(n * out * out * (channels / 4) as u64, WG, limits), 1)
            }
            Work::Pool { channels, .. } => (gpu::grid(n * (channels / 4) as u64, WG, limits), 1),
            Work::Mood => (gpu::grid(n, 1, limits), 1),
        }
    }
}

/// The compiled kernels, built once per device.
pub struct Kernels {
    stem: wgpu::ComputePipeline,
    /// Indexed by `Epilogue`: none, ReLU6, residual.
    matmul: [wgpu::ComputePipeline; 3],
    depthwise: wgpu::ComputePipeline,
    pool: wgpu::ComputePipeline,
    mood: wgpu::ComputePipeline,
}

impl Kernels {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        let matmul = |relu6: bool, residual: bool| {
            let flags = [("RELU6", f64::from(u8::from(relu6))), ("RESIDUAL", f64::from(u8::from(residual)))];
            gpu.pipeline(&shaders::POINTWISE, "main", &flags)
        };
        Ok(Kernels {
            stem: gpu.pipeline(&shaders::STEM, "main", &[])?,
            matmul: [matmul(false, false)?, matmul(true, false)?, matmul(false, true)?],
            depthwise: gpu.pipeline(&shaders::DEPTHWISE, "main", &[])?,
            pool: gpu.pipeline(&shaders::POOL, "main", &[])?,
            mood: gpu.pipeline(&shaders::MOOD_HEAD, "main", &[])?,
        })
    }

    fn pipeline(&self, work: &Work) -> &wgpu::ComputePipeline {
        match work {
            Work::Stem => &self.stem,
            Work::Matmul { epilogue, .. } => &self.matmul[*epilogue as usize],
            Work::Depthwise { .. } => &self.depthwise,
            Work::Pool { .. } => &self.pool,
            Work::Mood => &self.mood,
        }
    }

    /// Stem on `images` crops (`images x 224 x 224 x 3` u8); weights as the
    /// GPU takes them (`stem_weights`). Returns NHWC `images x 112 x 112 x 32`.
    pub fn run_stem(&self, gpu: &Gpu, crops: &[u8], images: usize, weight: &[f32], bias: &[f32]) -> Result<Vec<f32>> {
        let inputs = [gpu.storage("crops", crops)?, gpu.storage("weight", weight)?, gpu.storage("bias", bias)?];
        self.run_once(gpu, Work::Stem, images, &inputs, images * STEM_SIDE * STEM_SIDE * STEM_OUT)
    }

    /// `x [m x k] * weight [k x n] + bias`, then the epilogue (`residual`
    /// is `[m x n]`, read only for `Epilogue::Residual`).
    #[allow(clippy::too_many_arguments)]
    pub fn run_matmul(
        &self,
        gpu: &Gpu,
        x: &[f32],
        m: usize,
        weight: &[f32],
        bias: &[f32],
        epilogue: Epilogue,
        residual: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        let n = bias.len();
        let k = weight.len() / n.max(1);
        let inputs = [
            gpu.storage("x", x)?,
            gpu.storage("weight", weight)?,
            gpu.storage("bias", bias)?,
            gpu.storage("residual", residual.unwrap_or(&[0.0; 4]))?,
        ];
        self.run_once(gpu, Work::Matmul { pixels: m, k, n, epilogue }, 1, &inputs, m * n)
    }

    /// Depthwise 3x3 over NHWC `images x side x side x channels`; weights
    /// `[tap][channel]`.
    #[allow(clippy::too_many_arguments)]
    pub fn run_depthwise(
        &self,
        gpu: &Gpu,
        x: &[f32],
        images: usize,
        side: usize,
        stride: usize,
        weight: &[f32],
        bias: &[f32],
    ) -> Result<Vec<f32>> {
        let channels = bias.len();
        let inputs = [gpu.storage("x", x)?, gpu.storage("weight", weight)?, gpu.storage("bias", bias)?];
        let out = side.div_ceil(stride);
        let work = Work::Depthwise { in_side: side, channels, stride };
        self.run_once(gpu, work, images, &inputs, images * out * out * channels)
    }

    /// Mean over the pixels of NHWC `images x pixels x channels`.
    pub fn run_pool(&self, gpu: &Gpu, x: &[f32], images: usize, channels: usize) -> Result<Vec<f32>> {
        let pixels = x.len() / (images * channels).max(1);
        let inputs = [gpu.storage("x", x)?];
        self.run_once(gpu, Work::Pool { pixels, channels }, images, &inputs, images * channels)
    }

    /// Semantic mood (`images x NUM_DIMS`) of `images x 1000` logits.
    pub fn run_mood(&self, gpu: &Gpu, logits: &[f32], images: usize) -> Result<Vec<f32>> {
        let inputs = [gpu.storage("logits", logits)?, gpu.storage("class moods", &class_table())?];
        self.run_once(gpu, Work::Mood, images, &inputs, images * NUM_DIMS)
    }

    /// Uploads, dispatches once, reads `out_len` floats back: for tests.
    fn run_once(
        &self,
        gpu: &Gpu,
        work: Work,
        images: usize,
        inputs: &[wgpu::Buffer],
        out_len: usize,
    ) -> Result<Vec<f32>> {
        let bytes = (out_len * 4) as u64;
        let params = work.params(images);
        let uniform =
            gpu.buffer("params", params.len() as u64, wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST)?;
        gpu.queue.write_buffer(&uniform, 0, &params);
        let out = gpu.scratch("out", bytes)?;
        let readback = gpu.readback("readback", bytes)?;
        let mut buffers: Vec<wgpu::BindingResource> = vec![uniform.as_entire_binding()];
        buffers.extend(inputs.iter().map(|b| b.as_entire_binding()));
        buffers.push(out.as_entire_binding());
        let bind_group = bind(gpu, self.pipeline(&work), "one-off", buffers)?;
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("one-off") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(self.pipeline(&work));
            pass.set_bind_group(0, &bind_group, &[]);
            let (x, y) = work.workgroups(images, &gpu.limits);
            pass.dispatch_workgroups(x, y, 1);
        }
        encoder.copy_buffer_to_buffer(&out, 0, &readback, 0, bytes);
        let submission = gpu.queue.submit([encoder.finish()]);
        gpu.read_mapped(&readback, bytes, submission, |b| bytemuck::cast_slice::<u8, f32>(b).to_vec())
    }
}

/// A bind group of `resources` at bindings 0, 1, 2, ..., the order every
/// model kernel declares them in.
fn bind(
    gpu: &Gpu,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    resources: Vec<wgpu::BindingResource>,
) -> Result<wgpu::BindGroup> {
    gpu.bind_group(pipeline, label, (0..).zip(resources).collect())
}

fn class_table() -> Vec<f32> {
    mood::class_table().iter().flatten().copied().collect()
}

/// One recorded dispatch of the engine.
struct Op {
    work: Work,
    bind_group: wgpu::BindGroup,
}

/// Which activation buffer.
#[derive(Clone, Copy)]
enum Act {
    X,
    Y,
    Expanded,
    Depthwise,
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
    /// Two host-visible buffers, alternating: `[features | logits | semantic]`.
    readback: [wgpu::Buffer; 2],
    max_batch: usize,
    state: Mutex<State>,
}

/// Bytes of the readback sections for `b` images.
fn sections(b: usize) -> [u64; 3] {
    [(b * FEATURE_DIM * 4) as u64, (b * NUM_CLASSES * 4) as u64, (b * NUM_DIMS * 4) as u64]
}

impl<'g> GpuEngine<'g> {
    /// Uploads `model` and sizes the buffers for batches of up to `batch`
    /// images, or fewer where the adapter's storage-binding limit says so
    /// (`max_batch` tells).
    pub fn new(gpu: &'g Gpu, model: &MobileNetV2, batch: usize) -> Result<Self> {
        let kernels = Kernels::new(gpu)?;
        let plan = plan(model);
        // Per-image floats of each activation buffer, over all layers.
        let mut per_image = [0usize; 4];
        for step in &plan {
            let slot = &mut per_image[step.dst as usize];
            *slot = (*slot).max(step.out_len);
        }
        let largest = per_image.iter().max().copied().unwrap_or(1).max(CROP_BYTES / 4) as u64 * 4;
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
            .map(|(name, len)| gpu.scratch(name, (len * max_batch * 4) as u64))
            .collect::<Result<_>>()?;
        let crops = gpu.buffer("crops", (max_batch * CROP_BYTES) as u64, U::STORAGE | U::COPY_DST)?;
        let [fb, lb, sb] = sections(max_batch);
        let features = gpu.scratch("features", fb)?;
        let logits = gpu.scratch("logits", lb)?;
        let semantic = gpu.scratch("semantic", sb)?;
        let readback = [gpu.readback("readback 0", fb + lb + sb)?, gpu.readback("readback 1", fb + lb + sb)?];
        let unused = gpu.storage("no residual", &[0.0f32; 4])?;

        let param_stride = gpu::uniform_stride(&gpu.limits, 48);
        let ops_len = plan.len() + 4;
        let params = gpu.buffer("params", param_stride * ops_len as u64, U::UNIFORM | U::COPY_DST)?;
        let uniform = |i: usize| gpu::uniform_slot(&params, i, param_stride, param_stride);
        let mut ops = Vec::with_capacity(ops_len);
        for (i, step) in plan.iter().enumerate() {
            let dst = acts[step.dst as usize].as_entire_binding();
            let weights: Vec<wgpu::Buffer> =
                [&step.weight, &step.bias].iter().map(|w| gpu.storage(&step.label, w)).collect::<Result<_>>()?;
            let mut res = vec![uniform(i)];
            res.push(match step.src {
                Some(a) => acts[a as usize].as_entire_binding(),
                None => crops.as_entire_binding(),
            });
            res.push(weights[0].as_entire_binding());
            res.push(weights[1].as_entire_binding());
            if let Work::Matmul { .. } = step.work {
                res.push(match step.residual {
                    Some(a) => acts[a as usize].as_entire_binding(),
                    None => unused.as_entire_binding(),
                });
            }
            res.push(dst);
            let bind_group = bind(gpu, kernels.pipeline(&step.work), &step.label, res)?;
            ops.push(Op { work: step.work, bind_group });
        }
        // Pool the head's output, classify, read the mood.
        let last = acts[plan.last().map_or(Act::X, |s| s.dst) as usize].as_entire_binding();
        let side = INPUT_SIZE / 32;
        let classifier_w = gpu.storage("classifier", &matmul_weights(&model.classifier_weight, NUM_CLASSES))?;
        let classifier_b = gpu.storage("classifier bias", &model.classifier_bias)?;
        let table = gpu.storage("class moods", &class_table())?;
        let tail = [
            (Work::Pool { pixels: side * side, channels: FEATURE_DIM }, vec![last, features.as_entire_binding()]),
            (
                Work::Matmul { pixels: 1, k: FEATURE_DIM, n: NUM_CLASSES, epilogue: Epilogue::None },
                vec![
                    features.as_entire_binding(),
                    classifier_w.as_entire_binding(),
                    classifier_b.as_entire_binding(),
                    unused.as_entire_binding(),
                    logits.as_entire_binding(),
                ],
            ),
            (Work::Mood, vec![logits.as_entire_binding(), table.as_entire_binding(), semantic.as_entire_binding()]),
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

/// One layer of the network as the engine runs it.
struct Step {
    label: String,
    work: Work,
    /// Input activation; `None` for the crops.
    src: Option<Act>,
    /// The block input a projection adds.
    residual: Option<Act>,
    dst: Act,
    /// Floats of the output per image.
    out_len: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// The layers from the stem to the head, with the buffers each reads and
/// writes: a block reads its input from X or Y and writes the other, so
/// consecutive blocks alternate.
fn plan(model: &MobileNetV2) -> Vec<Step> {
    let mut steps = vec![Step {
        label: "stem".into(),
        work: Work::Stem,
        src: None,
        residual: None,
        dst: Act::X,
        out_len: STEM_SIDE * STEM_SIDE * STEM_OUT,
        weight: stem_weights(&model.stem),
        bias: model.stem.bias.clone(),
    }];
    let (mut cur, mut other) = (Act::X, Act::Y);
    let mut side = STEM_SIDE;
    for (i, b) in model.blocks.iter().enumerate() {
        let pixels = side * side;
        let mut dw_src = cur;
        if let Some(e) = &b.expand {
            steps.push(Step {
                label: format!("blocks.{i}.expand"),
                work: Work::Matmul { pixels, k: e.in_ch, n: e.out_ch, epilogue: Epilogue::Relu6 },
                src: Some(cur),
                residual: None,
                dst: Act::Expanded,
                out_len: pixels * e.out_ch,
                weight: matmul_weights(&e.weight, e.out_ch),
                bias: e.bias.clone(),
            });
            dw_src = Act::Expanded;
        }
        let d = &b.depthwise;
        let out_side = side.div_ceil(d.stride);
        steps.push(Step {
            label: format!("blocks.{i}.depthwise"),
            work: Work::Depthwise { in_side: side, channels: d.out_ch, stride: d.stride },
            src: Some(dw_src),
            residual: None,
            dst: Act::Depthwise,
            out_len: out_side * out_side * d.out_ch,
            weight: depthwise_weights(d),
            bias: d.bias.clone(),
        });
        side = out_side;
        let p = &b.project;
        let epilogue = if b.residual { Epilogue::Residual } else { Epilogue::None };
        steps.push(Step {
            label: format!("blocks.{i}.project"),
            work: Work::Matmul { pixels: side * side, k: p.in_ch, n: p.out_ch, epilogue },
            src: Some(Act::Depthwise),
            residual: b.residual.then_some(cur),
            dst: other,
            out_len: side * side * p.out_ch,
            weight: matmul_weights(&p.weight, p.out_ch),
            bias: p.bias.clone(),
        });
        std::mem::swap(&mut cur, &mut other);
    }
    let h = &model.head;
    steps.push(Step {
        label: "head".into(),
        work: Work::Matmul { pixels: side * side, k: h.in_ch, n: h.out_ch, epilogue: Epilogue::Relu6 },
        src: Some(cur),
        residual: None,
        dst: Act::Expanded,
        out_len: side * side * h.out_ch,
        weight: matmul_weights(&h.weight, h.out_ch),
        bias: h.bias.clone(),
    });
    steps
}

impl Engine for GpuEngine<'_> {
    fn describe(&self) -> String {
        format!("gpu ({}, WGSL kernels)", self.gpu.describe())
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
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("mobilenet_v2"),
                timestamp_writes: None,
            });
            for op in &self.ops {
                pass.set_pipeline(self.kernels.pipeline(&op.work));
                pass.set_bind_group(0, &op.bind_group, &[]);
                let (x, y) = op.work.workgroups(n, &gpu.limits);
                pass.dispatch_workgroups(x, y, 1);
            }
        }
        let slot = state.next_readback;
        state.next_readback = 1 - slot;
        let readback = &self.readback[slot];
        let [fb, lb, _] = sections(self.max_batch);
        let [f, l, s] = sections(n);
        encoder.copy_buffer_to_buffer(&self.features, 0, readback, 0, f);
        encoder.copy_buffer_to_buffer(&self.logits, 0, readback, fb, l);
        encoder.copy_buffer_to_buffer(&self.semantic, 0, readback, fb + lb, s);
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
        let [fb, lb, sb] = sections(self.max_batch);
        let [f, l, s] = sections(n);
        self.gpu.read_mapped(&self.readback[readback], fb + lb + sb, submission, |bytes| {
            let floats: &[f32] = bytemuck::cast_slice(bytes);
            let at = |offset: u64, len: u64| &floats[(offset / 4) as usize..((offset + len) / 4) as usize];
            out.features.copy_from_slice(at(0, f));
            out.logits.copy_from_slice(at(fb, l));
            out.semantic.copy_from_slice(at(fb + lb, s));
        })
    }
}
