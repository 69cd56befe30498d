//! The face networks' weights, as read from `models/faces.safetensors`
//! (TensorFlow layouts, which every engine reads as they are: a dense 3x3
//! filter is `[ky][kx][in][out]`, a depthwise one `[ky][kx][channel]`, a
//! pointwise one and the classifier `[in][out]`).

use std::sync::LazyLock;

use safetensors::{Dtype, SafeTensors};

use super::DETECTOR_OUT;
use crate::error::{Error, Result};

static WEIGHTS: &[u8] = include_bytes!("../../../models/faces.safetensors");

/// sha256 of the embedded `models/faces.safetensors` (checked by a test).
pub const WEIGHTS_SHA256: &str = "442ee4041a7f38b7dcb7f394fd0d8eba45dd936c4e7ca5cbfadbea45eb494264";

static NETS: LazyLock<std::result::Result<FaceNets, String>> =
    LazyLock::new(|| FaceNets::from_safetensors(WEIGHTS).map_err(|e| e.to_string()));

/// A dense 3x3 convolution plus bias.
#[derive(Clone, Debug)]
pub struct Dense3 {
    pub cin: usize,
    pub cout: usize,
    /// `[ky][kx][in][out]`.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// A depthwise 3x3 convolution without bias, then a pointwise one, then the
/// bias: TensorFlow's `separableConv2d` plus `add`, as face-api builds both nets.
#[derive(Clone, Debug)]
pub struct Separable {
    pub cin: usize,
    pub cout: usize,
    /// `[ky][kx][channel]`.
    pub depthwise: Vec<f32>,
    /// `[in][out]`.
    pub pointwise: Vec<f32>,
    pub bias: Vec<f32>,
}

/// The tiny face detector: a 3x3 convolution (no padding) and five
/// separable ones (padding 1), each followed by leaky ReLU (0.1) and a 2x2
/// max pool (stride 2, the last stride 1), then a 1x1 convolution to five
/// anchors' (x, y, w, h, score) a cell.
#[derive(Clone, Debug)]
pub struct Detector {
    pub conv0: Dense3,
    pub separable: Vec<Separable>,
    /// `[512][DETECTOR_OUT]`.
    pub head: Vec<f32>,
    pub head_bias: Vec<f32>,
}

/// The first convolution of a dense block: dense in the first block,
/// separable in the others; stride 2 with TensorFlow's 'same' padding.
#[derive(Clone, Debug)]
pub enum First {
    Dense(Dense3),
    Separable(Separable),
}

/// A dense block: `out1 = relu(first(x))`, then three separable
/// convolutions each reading the ReLU of the running sum of all before it,
/// and the block's output the ReLU of the sum of all four.
#[derive(Clone, Debug)]
pub struct DenseBlock {
    pub first: First,
    pub rest: [Separable; 3],
}

/// The expression network: four dense blocks (112 -> 56 -> 28 -> 14 -> 7),
/// a 7x7 average pool and a linear layer to seven logits.
#[derive(Clone, Debug)]
pub struct Expression {
    pub blocks: Vec<DenseBlock>,
    /// `[256][7]`.
    pub fc: Vec<f32>,
    pub fc_bias: Vec<f32>,
}

#[derive(Clone, Debug)]
pub struct FaceNets {
    pub detector: Detector,
    pub expression: Expression,
}

impl FaceNets {
    /// The networks compiled into this binary, parsed once per process.
    pub fn embedded() -> Result<&'static FaceNets> {
        NETS.as_ref().map_err(|e| Error::Model(format!("face networks: {e}")))
    }

    pub fn embedded_bytes() -> &'static [u8] {
        WEIGHTS
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Model(e.to_string()))?;
        let t = |name: &str, shape: &[usize]| tensor(&st, name, shape);
        let dense = |p: &str, cin: usize, cout: usize| -> Result<Dense3> {
            Ok(Dense3 {
                cin,
                cout,
                weight: t(&format!("{p}/filters"), &[3, 3, cin, cout])?,
                bias: t(&format!("{p}/bias"), &[cout])?,
            })
        };
        let sep = |p: &str, cin: usize, cout: usize| -> Result<Separable> {
            Ok(Separable {
                cin,
                cout,
                depthwise: t(&format!("{p}/depthwise_filter"), &[3, 3, cin, 1])?,
                pointwise: t(&format!("{p}/pointwise_filter"), &[1, 1, cin, cout])?,
                bias: t(&format!("{p}/bias"), &[cout])?,
            })
        };
        let widths = [16, 32, 64, 128, 256, 512];
        let separable =
            (1..6).map(|i| sep(&format!("detector/conv{i}"), widths[i - 1], widths[i])).collect::<Result<Vec<_>>>()?;
        let detector = Detector {
            conv0: dense("detector/conv0", 3, 16)?,
            separable,
            head: t("detector/conv8/filters", &[1, 1, 512, DETECTOR_OUT])?,
            head_bias: t("detector/conv8/bias", &[DETECTOR_OUT])?,
        };
        let mut blocks = Vec::new();
        let mut cin = 3;
        for (b, cout) in [32, 64, 128, 256].into_iter().enumerate() {
            let p = format!("expression/dense{b}");
            let first = if b == 0 {
                First::Dense(dense(&format!("{p}/conv0"), cin, cout)?)
            } else {
                First::Separable(sep(&format!("{p}/conv0"), cin, cout)?)
            };
            let rest = [
                sep(&format!("{p}/conv1"), cout, cout)?,
                sep(&format!("{p}/conv2"), cout, cout)?,
                sep(&format!("{p}/conv3"), cout, cout)?,
            ];
            blocks.push(DenseBlock { first, rest });
            cin = cout;
        }
        let expression =
            Expression { blocks, fc: t("expression/fc/weights", &[256, 7])?, fc_bias: t("expression/fc/bias", &[7])? };
        Ok(FaceNets { detector, expression })
    }
}

impl Detector {
    /// Multiply-accumulates of one pass over a square input of `side`.
    pub fn macs(&self, side: usize) -> u64 {
        let mut s = side - 2;
        let mut macs = (s * s * 27 * self.conv0.cout) as u64;
        for sep in &self.separable {
            // Each separable convolution reads the previous pool's output.
            s = s.div_ceil(2);
            macs += (s * s * (9 * sep.cin + sep.cin * sep.cout)) as u64;
        }
        macs + (s * s * 512 * DETECTOR_OUT) as u64
    }
}

impl Expression {
    /// Multiply-accumulates of one face.
    pub fn macs(&self) -> u64 {
        let mut s = super::FACE_SIDE;
        let mut macs = 0u64;
        for block in &self.blocks {
            s /= 2;
            let c = block.rest[0].cout;
            macs += match &block.first {
                First::Dense(d) => (s * s * 9 * d.cin * d.cout) as u64,
                First::Separable(p) => (s * s * (9 * p.cin + p.cin * p.cout)) as u64,
            };
            macs += 3 * (s * s * (9 * c + c * c)) as u64;
        }
        macs + 256 * 7
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
