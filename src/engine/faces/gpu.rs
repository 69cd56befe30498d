//! The GPU face engine: the networks of `reference` as WGSL kernels
//! (`shaders/faces.wgsl`), NHWC, every image of a call in one submission.
//!
//! Weights are uploaded and pipelines built once. A call's activations live
//! in a `Workspace` (buffers, uniform blocks and bind groups for one net at
//! one input side and up to `capacity` images), taken from a pool and given
//! back afterwards: the decode workers call side by side, each with a
//! workspace of its own, and a steady run reuses them instead of allocating
//! per call. Calls larger than a storage binding allows are split.

use std::sync::Mutex;

use bytemuck::{Pod, Zeroable};

use super::nets::{Dense3, DenseBlock, FaceNets, First, Separable};
use super::reference::Pad;
use super::{DETECTOR_MEAN, DETECTOR_OUT, EXPRESSION_MEAN, FACE_BYTES, FACE_SIDE, FaceEngine, expression_probs};
use crate::engine::gpu::{self, Gpu, shaders};
use crate::error::{Error, Result};

/// Workgroup size of the one-invocation-per-output kernels.
const WG: u32 = 64;
/// Output tile side of the pointwise kernel (`TILE_M`, `TILE_N`).
const TILE: u64 = 64;
/// The detector head's 25 outputs and the 7 logits, padded to whole vec4s.
const HEAD_OUT: usize = 28;
const LOGITS_OUT: usize = 8;
/// Images one submission takes at most; past this only memory grows.
const MAX_IMAGES: usize = 64;
/// Idle workspaces kept for later calls; more are dropped when given back.
const KEEP_IDLE: usize = 8;

const ACT_NONE: u32 = 0;
const ACT_RELU: u32 = 1;
const ACT_LEAKY: u32 = 2;
const FLAG_RESIDUAL: u32 = 1;
const FLAG_RELU_IN: u32 = 2;

/// The shader's uniform block, shared by every entry point.
#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
struct Params {
    images: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    cin4: u32,
    cout4: u32,
    act: u32,
    flags: u32,
    mean: [f32; 4],
}

/// Which pipeline a layer runs; `Rgb16`/`Rgb32` are `conv_rgb` compiled
/// for 16 and 32 output channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    Rgb16,
    Rgb32,
    Depthwise,
    Pointwise,
    Pool,
    MeanFc,
}

/// A workspace's buffers: the u8 input, three activation planes (the
/// expression net's dense blocks need the block's first output and two
/// running sums), the depthwise output and the net's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Input,
    A,
    B,
    C,
    Mid,
    Out,
}
const SLOTS: usize = 6;
/// Where a layer writes, and the residual it adds.
type Route = (Slot, Option<Slot>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Net {
    Detector,
    Expression,
}

/// Weights bound at 2 and their bias at 3, making `cout` channels.
struct Weights {
    weight: wgpu::Buffer,
    bias: wgpu::Buffer,
    cout: usize,
}

impl Weights {
    fn new(gpu: &Gpu, label: &str, weight: &[f32], bias: &[f32]) -> Result<Weights> {
        Ok(Weights { weight: gpu.storage(label, weight)?, bias: gpu.storage(label, bias)?, cout: bias.len() })
    }
}

/// A separable convolution: depthwise taps, then the pointwise product.
struct SepW {
    depthwise: wgpu::Buffer,
    pointwise: Weights,
}

/// A dense block's first convolution: dense in the first block.
enum FirstW {
    Dense(Weights),
    Sep(SepW),
}

struct BlockW {
    first: FirstW,
    rest: [SepW; 3],
}

/// The face networks on one device. The kernels rely on the shapes `nets`
/// reads: dense convolutions of RGB to 16 or 32 channels, every other width
/// a multiple of four, at most 512 channels pooled.
pub struct GpuFaces<'g> {
    gpu: &'g Gpu,
    /// In `Kernel` order.
    pipelines: [wgpu::ComputePipeline; 6],
    conv0: Weights,
    separable: Vec<SepW>,
    head: Weights,
    blocks: Vec<BlockW>,
    fc: Weights,
    /// Bound as the residual of layers without one (never read).
    unused: wgpu::Buffer,
    idle: Mutex<Vec<Workspace>>,
}

/// One layer of a plan: its kernel, shapes (`images` set per call), the
/// slots it reads and writes, its weights (bindings 2 and 3).
struct Layer<'w> {
    kernel: Kernel,
    params: Params,
    src: Slot,
    dst: Slot,
    residual: Option<Slot>,
    weights: Vec<&'w wgpu::Buffer>,
}

/// A net laid out for one input side: the layers and the floats (bytes for
/// the input) each slot holds per image.
struct Plan<'w> {
    layers: Vec<Layer<'w>>,
    per_image: [usize; SLOTS],
    side: usize,
    channels: usize,
    at: Slot,
}

impl<'w> Plan<'w> {
    fn new(side: usize) -> Plan<'w> {
        let mut per_image = [0; SLOTS];
        per_image[Slot::Input as usize] = side * side * 3;
        Plan { layers: Vec::new(), per_image, side, channels: 3, at: Slot::Input }
    }

    /// Appends a layer reading the current plane, writing `out_side^2 x
    /// cout` to `dst`, which becomes the current plane.
    fn push(&mut self, kernel: Kernel, (dst, residual): Route, weights: Vec<&'w wgpu::Buffer>, p: Params) {
        let out = p.out_h as usize;
        let cout = 4 * p.cout4 as usize;
        let len = &mut self.per_image[dst as usize];
        *len = (*len).max(out * out * cout);
        let params = Params { in_h: self.side as u32, in_w: self.side as u32, cin4: (self.channels / 4) as u32, ..p };
        self.layers.push(Layer { kernel, params, src: self.at, dst, residual, weights });
        (self.side, self.channels, self.at) = (out, cout, dst);
    }

    /// Shapes of a 3x3 layer of `stride` and padding `pad` on the plane.
    fn conv(&self, stride: usize, pad: Pad, cout: usize, act: u32, flags: u32) -> Params {
        let (out, before) = pad.plan(self.side, stride);
        Params { pad_top: before as u32, pad_left: before as u32, act, flags, ..shape(out, stride, cout) }
    }

    fn rgb(&mut self, d: &'w Weights, stride: usize, pad: Pad, act: u32, mean: [f32; 3], dst: Slot) {
        let kernel = if d.cout == 16 { Kernel::Rgb16 } else { Kernel::Rgb32 };
        let p = Params { mean: [mean[0], mean[1], mean[2], 0.0], ..self.conv(stride, pad, d.cout, act, 0) };
        self.push(kernel, (dst, None), vec![&d.weight, &d.bias], p);
    }

    /// Depthwise into `Mid`, then the pointwise product with its bias into
    /// `dst`, plus `residual`, then `act`. `relu_in`: the current plane is
    /// a running sum whose ReLU is the real input.
    fn separable(&mut self, s: &'w SepW, stride: usize, pad: Pad, relu_in: bool, out: Route, act: u32) {
        let flags = if relu_in { FLAG_RELU_IN } else { 0 };
        let p = self.conv(stride, pad, self.channels, ACT_NONE, flags);
        self.push(Kernel::Depthwise, (Slot::Mid, None), vec![&s.depthwise], p);
        self.pointwise(&s.pointwise, out, act);
    }

    fn pointwise(&mut self, w: &'w Weights, out: Route, act: u32) {
        let flags = if out.1.is_some() { FLAG_RESIDUAL } else { 0 };
        let p = Params { act, flags, ..shape(self.side, 1, w.cout) };
        self.push(Kernel::Pointwise, out, vec![&w.weight, &w.bias], p);
    }

    fn pool(&mut self, stride: usize, dst: Slot) {
        self.push(Kernel::Pool, (dst, None), Vec::new(), shape(self.side.div_ceil(stride), stride, self.channels));
    }
}

/// A layer writing an `out x out x cout` plane.
fn shape(out: usize, stride: usize, cout: usize) -> Params {
    let (out, stride, cout4) = (out as u32, stride as u32, (cout / 4) as u32);
    Params { out_h: out, out_w: out, stride, cout4, ..Params::default() }
}

/// What one call runs on: buffers for `capacity` images of one net at one
/// side, and a bind group and uniform block per layer.
struct Workspace {
    key: (Net, usize),
    capacity: usize,
    /// The most images a storage binding allows at this side.
    limit: usize,
    ops: Vec<(Kernel, Params, wgpu::BindGroup)>,
    uniforms: wgpu::Buffer,
    stride: u64,
    input: wgpu::Buffer,
    output: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// Output floats per image.
    out_len: usize,
}

/// A `[rows][cols]` matrix with zero columns appended up to `to`.
fn pad_columns(w: &[f32], cols: usize, to: usize) -> Vec<f32> {
    w.chunks_exact(cols).flat_map(|row| row.iter().copied().chain(std::iter::repeat_n(0.0, to - cols))).collect()
}

impl<'g> GpuFaces<'g> {
    pub fn new(gpu: &'g Gpu, nets: &FaceNets) -> Result<GpuFaces<'g>> {
        let pipeline = |entry: &str, constants: &[(&str, f64)]| gpu.pipeline(&shaders::FACES, entry, constants);
        let pipelines = [
            pipeline("conv_rgb", &[("RGB_OUT4", 4.0)])?,
            pipeline("conv_rgb", &[("RGB_OUT4", 8.0)])?,
            pipeline("depthwise", &[])?,
            pipeline("pointwise", &[])?,
            pipeline("max_pool", &[])?,
            pipeline("mean_fc", &[])?,
        ];
        let (d, e) = (&nets.detector, &nets.expression);
        let (head, head_bias) =
            (pad_columns(&d.head, DETECTOR_OUT, HEAD_OUT), pad_columns(&d.head_bias, DETECTOR_OUT, HEAD_OUT));
        let (fc, fc_bias) = (pad_columns(&e.fc, 7, LOGITS_OUT), pad_columns(&e.fc_bias, 7, LOGITS_OUT));
        let dense = |x: &Dense3| Weights::new(gpu, "faces conv", &x.weight, &x.bias);
        let sep = |x: &Separable| -> Result<SepW> {
            let pointwise = Weights::new(gpu, "faces pointwise", &x.pointwise, &x.bias)?;
            Ok(SepW { depthwise: gpu.storage("faces depthwise", &x.depthwise)?, pointwise })
        };
        let block = |b: &DenseBlock| -> Result<BlockW> {
            let first = match &b.first {
                First::Dense(x) => FirstW::Dense(dense(x)?),
                First::Separable(x) => FirstW::Sep(sep(x)?),
            };
            Ok(BlockW { first, rest: [sep(&b.rest[0])?, sep(&b.rest[1])?, sep(&b.rest[2])?] })
        };
        Ok(GpuFaces {
            gpu,
            pipelines,
            conv0: dense(&d.conv0)?,
            separable: d.separable.iter().map(sep).collect::<Result<_>>()?,
            head: Weights::new(gpu, "faces head", &head, &head_bias)?,
            blocks: e.blocks.iter().map(block).collect::<Result<_>>()?,
            fc: Weights::new(gpu, "faces fc", &fc, &fc_bias)?,
            unused: gpu.storage("faces no residual", &[0.0f32; 4])?,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn plan(&self, net: Net, side: usize) -> Plan<'_> {
        let mut p = Plan::new(side);
        match net {
            Net::Detector => {
                p.rgb(&self.conv0, 1, Pad::Valid, ACT_LEAKY, DETECTOR_MEAN, Slot::A);
                p.pool(2, Slot::B);
                for (i, s) in self.separable.iter().enumerate() {
                    p.separable(s, 1, Pad::One, false, (Slot::A, None), ACT_LEAKY);
                    p.pool(if i < 4 { 2 } else { 1 }, Slot::B);
                }
                p.pointwise(&self.head, (Slot::Out, None), ACT_NONE);
            }
            Net::Expression => {
                for block in &self.blocks {
                    // `A` holds out1; the running sum goes B, C, B.
                    match &block.first {
                        FirstW::Dense(d) => p.rgb(d, 2, Pad::Same, ACT_RELU, EXPRESSION_MEAN, Slot::A),
                        FirstW::Sep(s) => p.separable(s, 2, Pad::Same, true, (Slot::A, None), ACT_RELU),
                    }
                    let routes = [(false, Slot::A, Slot::B), (true, Slot::B, Slot::C), (true, Slot::C, Slot::B)];
                    for (s, (relu_in, res, dst)) in block.rest.iter().zip(routes) {
                        p.separable(s, 1, Pad::Same, relu_in, (dst, Some(res)), ACT_NONE);
                    }
                }
                // The blocks' output is the ReLU of the last sum, read as such.
                let params = Params { flags: FLAG_RELU_IN, ..shape(1, 1, LOGITS_OUT) };
                p.push(Kernel::MeanFc, (Slot::Out, None), vec![&self.fc.weight, &self.fc.bias], params);
            }
        }
        p
    }

    /// A workspace for `want` images of `net` at `side`: an idle one that
    /// fits, else a new one.
    fn take(&self, net: Net, side: usize, want: usize) -> Result<Workspace> {
        {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let fits = |w: &Workspace| w.key == (net, side) && (w.capacity >= want || w.capacity == w.limit);
            if let Some(i) = idle.iter().position(fits) {
                return Ok(idle.swap_remove(i));
            }
        }
        let gpu = self.gpu;
        let plan = self.plan(net, side);
        let bytes: Vec<u64> = (0..SLOTS).map(|s| plan.per_image[s] as u64 * if s == 0 { 1 } else { 4 }).collect();
        let largest = bytes.iter().copied().max().unwrap_or(1).max(1);
        let limit = ((gpu.max_binding() / largest) as usize).min(MAX_IMAGES);
        if limit == 0 {
            let name = gpu.describe();
            return Err(Error::Gpu(format!("{name}: one {side}-pixel face input needs {largest} bytes a binding")));
        }
        let capacity = want.next_power_of_two().min(limit);
        use wgpu::BufferUsages as U;
        let names = ["faces input", "faces a", "faces b", "faces c", "faces mid", "faces out"];
        let buffers: Vec<wgpu::Buffer> = (0..SLOTS)
            .map(|s| match s {
                0 => gpu.buffer(names[s], (bytes[s] * capacity as u64).next_multiple_of(4), U::STORAGE | U::COPY_DST),
                _ => gpu.scratch(names[s], bytes[s] * capacity as u64),
            })
            .collect::<Result<_>>()?;
        let size = std::mem::size_of::<Params>() as u64;
        let stride = gpu::uniform_stride(&gpu.limits, size as usize);
        let uniforms = gpu.buffer("faces params", stride * plan.layers.len() as u64, U::UNIFORM | U::COPY_DST)?;
        let mut ops = Vec::with_capacity(plan.layers.len());
        for (i, l) in plan.layers.iter().enumerate() {
            let slot = |s: Slot| buffers[s as usize].as_entire_binding();
            let mut res = vec![(0, gpu::uniform_slot(&uniforms, i, stride, size))];
            // `conv_rgb` reads the bytes of `Input` as words.
            res.push((if matches!(l.kernel, Kernel::Rgb16 | Kernel::Rgb32) { 6 } else { 1 }, slot(l.src)));
            res.extend((2..).zip(l.weights.iter().map(|w| w.as_entire_binding())));
            if l.kernel == Kernel::Pointwise {
                res.push((4, l.residual.map_or_else(|| self.unused.as_entire_binding(), slot)));
            }
            res.push((5, slot(l.dst)));
            let bind = gpu.bind_group(&self.pipelines[l.kernel as usize], &format!("faces {:?}", l.kernel), res)?;
            ops.push((l.kernel, l.params, bind));
        }
        let out_len = plan.per_image[Slot::Out as usize];
        let readback = gpu.readback("faces readback", (out_len * capacity * 4) as u64)?;
        // The bind groups keep the other slots' buffers alive.
        let (input, output) = (buffers[Slot::Input as usize].clone(), buffers[Slot::Out as usize].clone());
        Ok(Workspace { key: (net, side), capacity, limit, ops, uniforms, stride, input, output, readback, out_len })
    }

    fn give(&self, ws: Workspace) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < KEEP_IDLE {
            idle.push(ws);
        }
    }

    /// Runs `net` over the `n` images of `side` in `data`, appending each
    /// image's `out_len` output floats to `out`.
    fn run(&self, net: Net, side: usize, data: &[u8], n: usize, out: &mut Vec<f32>) -> Result<()> {
        let per = side * side * 3;
        let mut done = 0;
        while done < n {
            let ws = self.take(net, side, n - done)?;
            let k = ws.capacity.min(n - done);
            let result = self.submit(&ws, &data[done * per..(done + k) * per], k, out);
            self.give(ws);
            result?;
            done += k;
        }
        Ok(())
    }

    fn submit(&self, ws: &Workspace, data: &[u8], n: usize, out: &mut Vec<f32>) -> Result<()> {
        let gpu = self.gpu;
        let mut block = vec![0u8; ws.stride as usize * ws.ops.len()];
        for (i, (_, params, _)) in ws.ops.iter().enumerate() {
            let p = Params { images: n as u32, ..*params };
            block[i * ws.stride as usize..][..size_of::<Params>()].copy_from_slice(bytemuck::bytes_of(&p));
        }
        gpu.queue.write_buffer(&ws.uniforms, 0, &block);
        // Buffer writes go in whole words.
        if data.len().is_multiple_of(4) {
            gpu.queue.write_buffer(&ws.input, 0, data);
        } else {
            let mut padded = data.to_vec();
            padded.resize(data.len().next_multiple_of(4), 0);
            gpu.queue.write_buffer(&ws.input, 0, &padded);
        }
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("faces") });
        {
            let mut pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("faces"), timestamp_writes: None });
            for (kernel, p, bind) in &ws.ops {
                pass.set_pipeline(&self.pipelines[*kernel as usize]);
                pass.set_bind_group(0, bind, &[]);
                let (x, y) = workgroups(*kernel, p, n, &gpu.limits);
                pass.dispatch_workgroups(x, y, 1);
            }
        }
        let bytes = (n * ws.out_len * 4) as u64;
        encoder.copy_buffer_to_buffer(&ws.output, 0, &ws.readback, 0, bytes);
        let submission = gpu.queue.submit([encoder.finish()]);
        gpu.read_mapped(&ws.readback, bytes, submission, |b| out.extend_from_slice(bytemuck::cast_slice(b)))
    }
}

/// Workgroups of one layer for `n` images. Every kernel loops with a grid
/// stride, so clamping to the dispatch limit is always safe.
fn workgroups(kernel: Kernel, p: &Params, n: usize, limits: &wgpu::Limits) -> (u32, u32) {
    let pixels = n as u64 * p.out_h as u64 * p.out_w as u64;
    match kernel {
        Kernel::Rgb16 | Kernel::Rgb32 => (gpu::grid(pixels, WG, limits), 1),
        Kernel::Depthwise | Kernel::Pool => (gpu::grid(pixels * p.cout4 as u64, WG, limits), 1),
        Kernel::Pointwise => ((p.cout4 as u64 * 4).div_ceil(TILE) as u32, gpu::grid(pixels, TILE as u32, limits)),
        Kernel::MeanFc => (gpu::grid(n as u64, 1, limits), 1),
    }
}

impl FaceEngine for GpuFaces<'_> {
    fn detect(&self, inputs: &[u8], side: usize, n: usize) -> Result<Vec<f32>> {
        if side < 3 || inputs.len() < n * side * side * 3 {
            return Err(Error::Gpu(format!("face detector: {n} inputs of {side} pixels in {} bytes", inputs.len())));
        }
        let mut padded = Vec::new();
        self.run(Net::Detector, side, inputs, n, &mut padded)?;
        Ok(padded.chunks_exact(HEAD_OUT).flat_map(|cell| &cell[..DETECTOR_OUT]).copied().collect())
    }

    fn express(&self, crops: &[u8], n: usize) -> Result<Vec<[f32; 7]>> {
        if crops.len() < n * FACE_BYTES {
            return Err(Error::Gpu(format!("face expressions: {n} crops in {} bytes", crops.len())));
        }
        let mut logits = Vec::new();
        self.run(Net::Expression, FACE_SIDE, crops, n, &mut logits)?;
        Ok(logits.chunks_exact(LOGITS_OUT).map(|l| expression_probs(&l[..7])).collect())
    }
}
