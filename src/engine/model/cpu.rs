//! Fast CPU engine for MobileNetV2: the fallback where no GPU exists and the
//! path the CPU benchmarks race.
//!
//! Layout is NHWC so that a 1x1 convolution is one matrix product
//! `[pixels x C_in] x [C_in x C_out]` (the packed kernel in `matmul.rs`) and
//! a depthwise 3x3 reads channels contiguously, so it vectorises across
//! channels (`depthwise.rs`). Each image of a batch runs
//! on one core with its own reusable workspace: for a 224x224 input the
//! largest activation is 4.8 MB, so one image's whole working set stays in the
//! last-level cache, which is where this engine gets its speed, and no buffer
//! is allocated per image. The classifier runs once per batch, as a product
//! `[batch x 1280] x [1280 x 1000]`, so its 5 MB of weights are read once.

use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use rayon::prelude::*;

use super::depthwise::{DepthwiseWeights, Window, depthwise};
use super::matmul::{Epilogue, PackedWeights, matmul};
use super::pointwise::{Pointwise, Scratch};
use super::precision::Precision;
use super::projection::{FeatureProjection, PROJECTION_OUTPUTS as OUTPUTS};
use super::{
    CROP_BYTES, FEATURE_DIM, INPUT_SIZE, MEAN, MobileNetV2, NUM_CLASSES, STD, STEM_K, STEM_OUT, STEM_SIDE,
    matmul_weights, stem_weights,
};
use crate::engine::isa::Isa;

/// The int8 path quantises the 1x1 convolutions of the blocks whose input
/// is at most this many pixels a side (the 14- and 7-pixel stages) and the
/// last convolution; the earlier blocks stay f32. Quantised alone, one block
/// at a time, the 112-, 56- and 28-pixel blocks cost 0 to 2.8 points of
/// top-1 agreement with f32 on the rated photos and the later ones 0.3 to
/// 1.7; quantised together, all of them took it to 94.9 %, below the 97 %
/// the default needs, and without the early ones it is 97.7 %. The early
/// blocks hold 36 % of the 1x1 convolutions' multiply-adds
/// (`examples/int8_sensitivity.rs`, models/README.md).
pub const INT8_MAX_SIDE: usize = 14;

/// A place for 1x1 convolutions: an inverted residual block (its expansion
/// and projection) or the last convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Block(usize),
    Head,
}

struct CpuBlock {
    expand: Option<Pointwise>,
    depthwise: DepthwiseWeights,
    project: Pointwise,
    residual: bool,
}

/// Reusable per-thread buffers, sized for the largest layer.
struct Workspace {
    x: Vec<f32>,
    y: Vec<f32>,
    expanded: Vec<f32>,
    dw: Vec<f32>,
    /// Activations at the lower precisions.
    rows: Scratch,
}

pub struct CpuEngine {
    /// Stem as a matrix `[27 x 32]`, rows ordered (ky, kx, channel).
    stem: PackedWeights,
    /// Per channel, the normalised value of every u8 level.
    lut: [[f32; 256]; 3],
    blocks: Vec<CpuBlock>,
    head: Pointwise,
    precision: Precision,
    classifier: PackedWeights,
    /// The learned mood head, whose feature term the engine computes.
    projection: FeatureProjection,
    workspace_len: usize,
    workspaces: Mutex<Vec<Workspace>>,
    queued: Mutex<Queued>,
}

impl CpuEngine {
    /// The f32 engine for `model`, computing `projection` of the features
    /// beside it.
    pub fn new(model: &MobileNetV2, projection: &FeatureProjection) -> Self {
        Self::with_precision(model, projection, Precision::F32)
    }

    /// The same, with the 1x1 convolutions at `precision`: at int8, those
    /// of the blocks whose input is at most `INT8_MAX_SIDE` pixels a side and
    /// the last convolution; at bf16, all of them.
    /// f16, a GPU storage type, runs as f32 here.
    pub fn with_precision(model: &MobileNetV2, projection: &FeatureProjection, precision: Precision) -> Self {
        let precision = if precision == Precision::F16 { Precision::F32 } else { precision };
        let mut sides = vec![STEM_SIDE];
        for b in &model.blocks {
            sides.push(sides[sides.len() - 1].div_ceil(b.stride()));
        }
        let at = |layer: Layer| match (precision, layer) {
            (Precision::Int8, Layer::Block(i)) if sides[i] > INT8_MAX_SIDE => Precision::F32,
            _ => precision,
        };
        Self::with_layers(model, projection, &at)
    }

    /// The engine with each place's 1x1 convolutions at the precision `at`
    /// gives it: what the sensitivity measurement of
    /// `examples/int8_sensitivity.rs` varies.
    pub fn with_layers(model: &MobileNetV2, projection: &FeatureProjection, at: &dyn Fn(Layer) -> Precision) -> Self {
        let head_precision = at(Layer::Head);
        let stem = &model.stem;
        let mut lut = [[0.0; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, slot) in table.iter_mut().enumerate() {
                *slot = (v as f32 / 255.0 - MEAN[c]) / STD[c];
            }
        }
        let mut side = STEM_SIDE;
        let mut workspace_len = STEM_SIDE * STEM_SIDE * STEM_K.max(STEM_OUT);
        let blocks = model
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let precision = at(Layer::Block(i));
                workspace_len = workspace_len.max(side * side * b.hidden());
                side = side.div_ceil(b.stride());
                CpuBlock {
                    // A block's input is the previous block's linear output.
                    expand: b.expand.as_ref().map(|c| Pointwise::new(c, precision, false)),
                    depthwise: DepthwiseWeights::new(&b.depthwise),
                    project: Pointwise::new(&b.project, precision, true),
                    residual: b.residual,
                }
            })
            .collect();
        let classifier_weight = matmul_weights(&model.classifier_weight, NUM_CLASSES);
        workspace_len = workspace_len.max(side * side * FEATURE_DIM);
        CpuEngine {
            stem: PackedWeights::new(STEM_K, STEM_OUT, &stem_weights(stem), &stem.bias),
            lut,
            blocks,
            head: Pointwise::new(&model.head, head_precision, false),
            // What the engine calls itself: the lower precision it runs anywhere.
            precision: (0..model.blocks.len())
                .map(Layer::Block)
                .chain([Layer::Head])
                .map(at)
                .find(|p| *p != Precision::F32)
                .unwrap_or(Precision::F32),
            classifier: PackedWeights::new(FEATURE_DIM, NUM_CLASSES, &classifier_weight, &model.classifier_bias),
            projection: projection.clone(),
            workspace_len,
            workspaces: Mutex::new(Vec::new()),
            queued: Mutex::new(Queued::default()),
        }
    }

    /// Runs `n` crops (`n x 224 x 224 x 3` u8, RGB, HWC) and writes pooled
    /// features (`n x 1280`) and logits (`n x 1000`). Images run in parallel
    /// on the current rayon pool. `Engine::forward` is this plus the
    /// semantic mood.
    pub fn forward_batch(&self, crops: &[u8], n: usize, features: &mut [f32], logits: &mut [f32]) {
        assert!(crops.len() >= n * CROP_BYTES && features.len() >= n * FEATURE_DIM && logits.len() >= n * NUM_CLASSES);
        features[..n * FEATURE_DIM]
            .par_chunks_mut(FEATURE_DIM)
            .zip(crops[..n * CROP_BYTES].par_chunks(CROP_BYTES))
            .for_each(|(feat, crop)| {
                let mut ws = self.take_workspace();
                self.trunk(crop, &mut ws, feat);
                self.workspaces.lock().unwrap_or_else(|p| p.into_inner()).push(ws);
            });
        let linear = Epilogue { relu6: false, residual: None };
        matmul(&features[..n * FEATURE_DIM], n, &self.classifier, linear, &mut logits[..n * NUM_CLASSES]);
    }

    fn take_workspace(&self) -> Workspace {
        let pooled = self.workspaces.lock().unwrap_or_else(|p| p.into_inner()).pop();
        pooled.unwrap_or_else(|| {
            let len = self.workspace_len;
            let buf = || vec![0.0; len];
            Workspace { x: buf(), y: buf(), expanded: buf(), dw: buf(), rows: Scratch::default() }
        })
    }

    /// Everything up to and including global average pooling, for one image.
    fn trunk(&self, crop: &[u8], ws: &mut Workspace, features: &mut [f32]) {
        let Workspace { x, y, expanded, dw, rows } = ws;
        // Stem: im2col into `dw` (zero padding is zero in normalised space,
        // as PyTorch pads the normalised tensor), then one product.
        let cols = &mut dw[..STEM_SIDE * STEM_SIDE * STEM_K];
        for oy in 0..STEM_SIDE {
            for ox in 0..STEM_SIDE {
                let row = &mut cols[(oy * STEM_SIDE + ox) * STEM_K..][..STEM_K];
                for ky in 0..3 {
                    for kx in 0..3 {
                        let iy = (2 * oy + ky) as isize - 1;
                        let ix = (2 * ox + kx) as isize - 1;
                        let dst = &mut row[(ky * 3 + kx) * 3..][..3];
                        if iy < 0 || ix < 0 || iy >= INPUT_SIZE as isize || ix >= INPUT_SIZE as isize {
                            dst.fill(0.0);
                        } else {
                            let p = (iy as usize * INPUT_SIZE + ix as usize) * 3;
                            for c in 0..3 {
                                dst[c] = self.lut[c][crop[p + c] as usize];
                            }
                        }
                    }
                }
            }
        }
        let mut side = STEM_SIDE;
        let pixels = side * side;
        let relu6 = Epilogue { relu6: true, residual: None };
        matmul(cols, pixels, &self.stem, relu6, &mut x[..pixels * STEM_OUT]);

        for block in &self.blocks {
            side = self.block(block, side, BlockBuffers { x, y, expanded, dw, rows });
            std::mem::swap(x, y);
        }

        let pixels = side * side;
        let h = &self.head;
        let out = &mut expanded[..pixels * h.n()];
        h.run(&x[..pixels * h.k()], pixels, relu6, rows, out);
        features.fill(0.0);
        for px in out.chunks_exact(h.n()) {
            for (f, v) in features.iter_mut().zip(px) {
                *f += v;
            }
        }
        let inv = 1.0 / pixels as f32;
        features.iter_mut().for_each(|f| *f *= inv);
    }
}

/// Buffers one block works on: its input `x`, its output `y`, and scratch.
struct BlockBuffers<'a> {
    x: &'a [f32],
    y: &'a mut [f32],
    expanded: &'a mut [f32],
    dw: &'a mut [f32],
    rows: &'a mut Scratch,
}

/// Expanded rows one band may hold: small enough to stay in L2 between the
/// expansion that writes them and the depthwise pass that reads them.
const BAND_BYTES: usize = 256 * 1024;

impl CpuEngine {
    /// One inverted residual block, in bands of output rows: expand the input
    /// rows a band needs (reusing the halo rows the previous band already
    /// expanded), depthwise them, project the band. The expanded tensor is
    /// never materialised whole. Returns the output side.
    fn block(&self, block: &CpuBlock, side: usize, b: BlockBuffers) -> usize {
        let BlockBuffers { x, y, expanded, dw, rows: quant } = b;
        let d = &block.depthwise;
        let (s, hidden) = (d.stride, d.channels);
        let out_side = side.div_ceil(s);
        let row_len = side * hidden;
        let max_in_rows = (BAND_BYTES / (row_len * 4)).max(3);
        let band = ((max_in_rows - 3) / s + 1).min(out_side);
        let relu6 = Epilogue { relu6: true, residual: None };
        let p = &block.project;
        let (mut e_lo, mut e_hi) = (0, 0);
        let mut oy0 = 0;
        while oy0 < out_side {
            let oy1 = (oy0 + band).min(out_side);
            let need_lo = (oy0 * s).saturating_sub(1);
            let need_hi = ((oy1 - 1) * s + 2).min(side);
            let rows: &[f32] = match &block.expand {
                Some(e) => {
                    if need_lo >= e_lo && need_lo < e_hi {
                        expanded.copy_within((need_lo - e_lo) * row_len..(e_hi - e_lo) * row_len, 0);
                    } else {
                        e_hi = need_lo;
                    }
                    e_lo = need_lo;
                    let src = &x[e_hi * side * e.k()..need_hi * side * e.k()];
                    let dst = &mut expanded[(e_hi - e_lo) * row_len..(need_hi - e_lo) * row_len];
                    e.run(src, (need_hi - e_hi) * side, relu6, quant, dst);
                    e_hi = need_hi;
                    &expanded[..(e_hi - e_lo) * row_len]
                }
                None => &x[need_lo * row_len..need_hi * row_len],
            };
            let window = Window { rows, first_row: need_lo, side, out_rows: (oy0, oy1) };
            let m = (oy1 - oy0) * out_side;
            depthwise(&window, d, &mut dw[..m * hidden]);
            let out_range = oy0 * out_side * p.n()..oy1 * out_side * p.n();
            let residual = block.residual.then(|| &x[out_range.clone()]);
            p.run(&dw[..m * p.k()], m, Epilogue { relu6: false, residual }, quant, &mut y[out_range]);
            oy0 = oy1;
        }
        out_side
    }
}

/// The outputs of the batch `start` ran, until `finish` hands them over.
#[derive(Default)]
struct Queued {
    out: super::ModelOutput,
    full: bool,
    probs: Vec<f32>,
}

fn describe(precision: Precision) -> String {
    let kernels = match (precision, Isa::detect()) {
        (Precision::Int8, _) if super::quant::fastest() == Isa::Avx512 => "int8 AVX-512 VNNI",
        (Precision::Int8, _) if super::quant::fastest() == Isa::Avx2 => "int8 AVX2",
        (Precision::Int8, _) => "int8 portable",
        (Precision::Bf16, _) if super::bf16::fastest() == Isa::Avx512 => "bf16 AVX-512 BF16",
        (Precision::Bf16, _) => "bf16 portable",
        (Precision::F32 | Precision::F16, Isa::Avx512) => "f32 AVX-512",
        (Precision::F32 | Precision::F16, Isa::Avx2) => "f32 AVX2+FMA",
        (Precision::F32 | Precision::F16, Isa::Scalar) => "f32 portable",
    };
    format!("cpu ({} threads, {kernels} kernels)", rayon::current_num_threads())
}

impl super::Engine for CpuEngine {
    fn describe(&self) -> String {
        describe(self.precision)
    }

    fn max_batch(&self) -> usize {
        usize::MAX
    }

    /// Runs the batch at once, on the caller's thread: the CPU has no
    /// queue to overlap with.
    fn start(&self, crops: &[u8], n: usize) -> crate::Result<()> {
        let mut q = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        if q.full {
            return Err(crate::Error::Config("cpu engine: start called twice without finish".into()));
        }
        let Queued { out, full, probs } = &mut *q;
        out.resize(n);
        self.forward_batch(crops, n, &mut out.features, &mut out.logits);
        let d = crate::engine::mood::NUM_DIMS;
        for i in 0..n {
            probs.clear();
            probs.extend_from_slice(out.logits(i));
            super::softmax(probs);
            out.semantic[i * d..(i + 1) * d].copy_from_slice(&crate::engine::mood::semantic(probs));
            let term = self.projection.apply(out.features(i));
            out.feature_term[i * OUTPUTS..(i + 1) * OUTPUTS].copy_from_slice(&term);
        }
        *full = true;
        Ok(())
    }

    fn finish(&self, out: &mut super::ModelOutput) -> crate::Result<()> {
        let mut q = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        if !q.full {
            return Err(crate::Error::Config("cpu engine: finish without start".into()));
        }
        // Hand the buffers over; the caller's old ones serve the next batch.
        std::mem::swap(out, &mut q.out);
        q.full = false;
        Ok(())
    }
}

/// A CPU engine still being built on another thread. Building one (reading
/// 3.5M weights and repacking them for the kernels) takes about as long as
/// decoding a few phone photos, and nothing before the first batch needs
/// it, so a run lists its inputs and starts decoding meanwhile; the first
/// batch waits for it.
pub struct PendingCpuEngine {
    precision: Precision,
    building: Mutex<Option<JoinHandle<crate::Result<CpuEngine>>>>,
    ready: OnceLock<CpuEngine>,
}

impl PendingCpuEngine {
    /// Starts building the engine for the embedded weights and `projection`,
    /// at `precision`.
    pub fn spawn(projection: FeatureProjection, precision: Precision) -> Self {
        let handle = std::thread::Builder::new()
            .name("pixtape-model".into())
            .spawn(move || Ok(CpuEngine::with_precision(&super::MobileNetV2::embedded()?, &projection, precision)))
            .expect("spawning a thread");
        PendingCpuEngine { precision, building: Mutex::new(Some(handle)), ready: OnceLock::new() }
    }

    /// The engine, once built; the build's error the first time it fails.
    pub fn get(&self) -> crate::Result<&CpuEngine> {
        if let Some(engine) = self.ready.get() {
            return Ok(engine);
        }
        let mut building = self.building.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(handle) = building.take() {
            let built = handle.join().map_err(|_| crate::Error::Model("building the CPU engine panicked".into()))??;
            let _ = self.ready.set(built);
        }
        self.ready.get().ok_or_else(|| crate::Error::Model("the CPU engine could not be built".into()))
    }
}

impl super::Engine for PendingCpuEngine {
    fn describe(&self) -> String {
        describe(self.precision)
    }

    fn max_batch(&self) -> usize {
        usize::MAX
    }

    fn start(&self, crops: &[u8], n: usize) -> crate::Result<()> {
        self.get()?.start(crops, n)
    }

    fn finish(&self, out: &mut super::ModelOutput) -> crate::Result<()> {
        self.get()?.finish(out)
    }
}
