//! Model stage: MobileNetV2 (torchvision IMAGENET1K_V1, batch norm folded).
//!
//! This file owns what every backend shares: the architecture, the weights as
//! read from `models/mobilenet_v2.safetensors` (embedded in the binary, so a
//! copied executable needs nothing beside it), the ImageNet class names and
//! the input normalisation. `reference` is the plain forward pass every other
//! path is checked against; `cpu` is the fast CPU engine (its kernels in
//! `matmul`, `quant` and `depthwise`, at a `precision`) and `gpu` the WGSL
//! one.

pub mod bf16;
pub mod cpu;
pub mod depthwise;
pub mod gpu;
pub mod matmul;
mod pointwise;
pub mod precision;
pub mod projection;
pub mod quant;
pub mod reference;

use std::sync::LazyLock;

use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Side of the square crop the network sees.
pub const INPUT_SIZE: usize = 224;
/// Bytes of one crop as both engines take it: `INPUT_SIZE x INPUT_SIZE` RGB u8.
pub const CROP_BYTES: usize = INPUT_SIZE * INPUT_SIZE * 3;
/// Output channels of the stem, a 3x3 stride-2 convolution of the crop.
pub const STEM_OUT: usize = 32;
/// Side of the stem's output.
pub const STEM_SIDE: usize = INPUT_SIZE / 2;
/// Inputs to one stem output: 3x3 taps of 3 channels.
pub const STEM_K: usize = 27;
/// Channels of the pooled feature vector before the classifier.
pub const FEATURE_DIM: usize = 1280;
pub const NUM_CLASSES: usize = 1000;
/// ImageNet statistics the weights were trained with (torchvision).
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// What the network yields for a batch of `n` images.
#[derive(Clone, Debug, Default)]
pub struct ModelOutput {
    pub n: usize,
    /// `n x 1280` pooled features.
    pub features: Vec<f32>,
    /// `n x 1000` logits.
    pub logits: Vec<f32>,
    /// `n x mood::NUM_DIMS`: the semantic part of each image's mood
    /// (`mood::semantic` of the softmax of its logits).
    pub semantic: Vec<f32>,
    /// `n x PROJECTION_OUTPUTS`: the learned mood head's term from each
    /// image's features (`projection::FeatureProjection`).
    pub feature_term: Vec<f32>,
}

impl ModelOutput {
    /// Sizes the buffers for `n` images, reusing their memory.
    pub fn resize(&mut self, n: usize) {
        self.n = n;
        self.features.resize(n * FEATURE_DIM, 0.0);
        self.logits.resize(n * NUM_CLASSES, 0.0);
        self.semantic.resize(n * crate::engine::mood::NUM_DIMS, 0.0);
        self.feature_term.resize(n * projection::PROJECTION_OUTPUTS, 0.0);
    }

    pub fn logits(&self, i: usize) -> &[f32] {
        &self.logits[i * NUM_CLASSES..(i + 1) * NUM_CLASSES]
    }

    pub fn features(&self, i: usize) -> &[f32] {
        &self.features[i * FEATURE_DIM..(i + 1) * FEATURE_DIM]
    }

    pub fn feature_term(&self, i: usize) -> &[f32] {
        let d = projection::PROJECTION_OUTPUTS;
        &self.feature_term[i * d..(i + 1) * d]
    }

    pub fn semantic(&self, i: usize) -> crate::engine::mood::MoodVector {
        let d = crate::engine::mood::NUM_DIMS;
        std::array::from_fn(|j| self.semantic[i * d + j])
    }
}

/// Something that runs MobileNetV2 on batches of crops: the CPU engine, or
/// the GPU engine when one is available.
///
/// A batch is `start`ed and later `finish`ed, in order. An engine that runs
/// asynchronously (the GPU) returns from `start` once the work is queued and
/// accepts `depth()` batches in flight, so the caller gathers and uploads
/// batch i+1 while batch i computes.
pub trait Engine: Send + Sync {
    /// Which backend and device, for the manifest and the log.
    fn describe(&self) -> String;
    /// Largest `n` that `start` accepts.
    fn max_batch(&self) -> usize;
    /// Batches that may be started before the oldest is finished.
    fn depth(&self) -> usize {
        1
    }
    /// Queues `n` crops (`n x 224 x 224 x 3` RGB u8).
    fn start(&self, crops: &[u8], n: usize) -> Result<()>;
    /// Waits for the oldest started batch and writes its outputs.
    fn finish(&self, out: &mut ModelOutput) -> Result<()>;
    /// One batch, start to finish.
    fn forward(&self, crops: &[u8], n: usize, out: &mut ModelOutput) -> Result<()> {
        self.start(crops, n)?;
        self.finish(out)
    }
}

/// Name under which the model appears in outputs and manifests.
pub const MODEL_NAME: &str = "mobilenet_v2 (torchvision IMAGENET1K_V1)";

static WEIGHTS: &[u8] = include_bytes!("../../../models/mobilenet_v2.safetensors");
static CLASSES: &str = include_str!("../../../models/imagenet_classes.txt");

static CLASS_NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| CLASSES.lines().collect());

/// The 1,000 ImageNet-1k class names in logit order.
pub fn class_names() -> &'static [&'static str] {
    &CLASS_NAMES
}

/// sha256 of the embedded weights file, as recorded in `models/README.md`:
/// a constant, so that no run spends time hashing 14 MB to name its model
/// (a test checks it against the bytes compiled in).
pub fn weights_sha256() -> &'static str {
    "e7712efbfdaf27a394e02ff064a4c407b3d805e075b5b02ee7a121633ea5cde0"
}

/// The sha256 of the weights compiled into this binary, computed.
pub fn embedded_weights_sha256() -> String {
    hex(&Sha256::digest(WEIGHTS))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// (expansion, output channels, repeats, first stride): the paper's Table 2.
const INVERTED_RESIDUAL_SETTING: [(usize, usize, usize, usize); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// One convolution with its folded batch norm. Weights are OIHW as stored;
/// backends re-layout them once at load time.
#[derive(Clone, Debug)]
pub struct Conv {
    pub name: String,
    pub in_ch: usize,
    pub out_ch: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Depthwise (groups == channels) rather than dense.
    pub depthwise: bool,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// An inverted residual block: optional 1x1 expansion (ReLU6), depthwise 3x3
/// (ReLU6), linear 1x1 projection, plus the input when shapes allow.
#[derive(Clone, Debug)]
pub struct Block {
    pub expand: Option<Conv>,
    pub depthwise: Conv,
    pub project: Conv,
    pub residual: bool,
}

impl Block {
    pub fn in_ch(&self) -> usize {
        self.expand.as_ref().unwrap_or(&self.depthwise).in_ch
    }
    pub fn hidden(&self) -> usize {
        self.depthwise.in_ch
    }
    pub fn out_ch(&self) -> usize {
        self.project.out_ch
    }
    pub fn stride(&self) -> usize {
        self.depthwise.stride
    }
}

#[derive(Clone, Debug)]
pub struct MobileNetV2 {
    /// 3x3 stride-2 convolution, 3 -> 32, ReLU6.
    pub stem: Conv,
    pub blocks: Vec<Block>,
    /// 1x1 convolution 320 -> 1280, ReLU6, before global average pooling.
    pub head: Conv,
    /// Linear 1280 -> 1000, `[out, in]`.
    pub classifier_weight: Vec<f32>,
    pub classifier_bias: Vec<f32>,
}

impl MobileNetV2 {
    /// The weights compiled into this binary.
    pub fn embedded() -> Result<Self> {
        Self::from_safetensors(WEIGHTS)
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Model(e.to_string()))?;
        let conv = |name: &str, in_ch, out_ch, kernel, stride, depthwise| -> Result<Conv> {
            let per_out = if depthwise { 1 } else { in_ch };
            Ok(Conv {
                name: name.to_string(),
                in_ch,
                out_ch,
                kernel,
                stride,
                depthwise,
                weight: tensor(&st, &format!("{name}.weight"), &[out_ch, per_out, kernel, kernel])?,
                bias: tensor(&st, &format!("{name}.bias"), &[out_ch])?,
            })
        };
        let stem = conv("stem", 3, STEM_OUT, 3, 2, false)?;
        let mut blocks = Vec::new();
        let mut cin = STEM_OUT;
        for (t, c, n, s) in INVERTED_RESIDUAL_SETTING {
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                let hidden = cin * t;
                let b = format!("blocks.{}", blocks.len());
                let expand = if t != 1 { Some(conv(&format!("{b}.expand"), cin, hidden, 1, 1, false)?) } else { None };
                blocks.push(Block {
                    expand,
                    depthwise: conv(&format!("{b}.depthwise"), hidden, hidden, 3, stride, true)?,
                    project: conv(&format!("{b}.project"), hidden, c, 1, 1, false)?,
                    residual: stride == 1 && cin == c,
                });
                cin = c;
            }
        }
        let head = conv("head", 320, FEATURE_DIM, 1, 1, false)?;
        Ok(MobileNetV2 {
            stem,
            blocks,
            head,
            classifier_weight: tensor(&st, "classifier.weight", &[NUM_CLASSES, FEATURE_DIM])?,
            classifier_bias: tensor(&st, "classifier.bias", &[NUM_CLASSES])?,
        })
    }

    /// Multiply-accumulates of one 224x224 forward pass (for FLOP/s figures).
    pub fn macs_per_image(&self) -> u64 {
        let mut side = STEM_SIDE;
        let conv_macs = |c: &Conv, out_side: usize| {
            let per_out = if c.depthwise { 1 } else { c.in_ch };
            (out_side * out_side * c.out_ch * per_out * c.kernel * c.kernel) as u64
        };
        let mut total = conv_macs(&self.stem, side);
        for b in &self.blocks {
            if let Some(e) = &b.expand {
                total += conv_macs(e, side);
            }
            side = side.div_ceil(b.stride());
            total += conv_macs(&b.depthwise, side) + conv_macs(&b.project, side);
        }
        total + conv_macs(&self.head, side) + (FEATURE_DIM * NUM_CLASSES) as u64
    }
}

fn tensor(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let view = st.tensor(name).map_err(|e| Error::Model(format!("{name}: {e}")))?;
    if view.dtype() != Dtype::F32 || view.shape() != shape {
        return Err(Error::Model(format!(
            "{name}: expected f32 {shape:?}, found {:?} {:?}",
            view.dtype(),
            view.shape()
        )));
    }
    Ok(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// Stem weights `[ky][kx][c][out]` (from OIHW), so that one input pixel's
/// 27 normalised values times this `[27 x 32]` matrix is one output pixel.
/// The layout both fast engines read.
pub fn stem_weights(stem: &Conv) -> Vec<f32> {
    let (cin, taps) = (stem.in_ch, stem.kernel * stem.kernel);
    let mut w = vec![0.0; taps * cin * stem.out_ch];
    for o in 0..stem.out_ch {
        for c in 0..cin {
            for tap in 0..taps {
                w[(tap * cin + c) * stem.out_ch + o] = stem.weight[(o * cin + c) * taps + tap];
            }
        }
    }
    w
}

/// A 1x1 convolution's (or the classifier's) `[out][in]` weights as
/// `[in][out]`, so that NHWC activations times them is the layer.
pub fn matmul_weights(weight: &[f32], outputs: usize) -> Vec<f32> {
    let inputs = weight.len() / outputs;
    let mut w = vec![0.0; weight.len()];
    for o in 0..outputs {
        for i in 0..inputs {
            w[i * outputs + o] = weight[o * inputs + i];
        }
    }
    w
}

/// Depthwise `[channel][tap]` weights as `[tap][channel]`, so that one tap
/// reads every channel contiguously.
pub fn depthwise_weights(conv: &Conv) -> Vec<f32> {
    let c = conv.out_ch;
    let mut w = vec![0.0; 9 * c];
    for ch in 0..c {
        for tap in 0..9 {
            w[tap * c + ch] = conv.weight[ch * 9 + tap];
        }
    }
    w
}

/// Normalise one HWC u8 crop into CHW f32, as torchvision's ToTensor+Normalize.
pub fn normalize_chw(crop: &[u8], out: &mut [f32]) {
    let plane = INPUT_SIZE * INPUT_SIZE;
    for (i, px) in crop.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (px[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
}

/// Numerically stable softmax in place.
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

/// Indices of the `k` largest values, largest first (ties: lower index first).
pub fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let k = k.min(v.len());
    if k == 0 {
        return Vec::new();
    }
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.select_nth_unstable_by(k - 1, |&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx
}
