//! Plain reference forward pass of MobileNetV2, one image at a time in CHW.
//!
//! Deliberately naive loops with no layout tricks, so that a reader can check
//! it against the paper line by line. The fast CPU engine and the GPU kernels
//! are tested against these functions; nothing on a hot path calls them.

use super::{Conv, FEATURE_DIM, INPUT_SIZE, MobileNetV2, NUM_CLASSES};

/// Tensor in CHW layout.
#[derive(Clone, Debug)]
pub struct Chw {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Chw {
    pub fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.data[(c * self.h + y) * self.w + x]
    }
}

/// Convolution with zero padding `kernel / 2` (dense or depthwise), plus bias.
pub fn conv2d(x: &Chw, conv: &Conv) -> Chw {
    let k = conv.kernel;
    let pad = k / 2;
    let oh = (x.h + 2 * pad - k) / conv.stride + 1;
    let ow = (x.w + 2 * pad - k) / conv.stride + 1;
    let per_out = if conv.depthwise { 1 } else { conv.in_ch };
    let mut out = vec![0.0f32; conv.out_ch * oh * ow];
    for o in 0..conv.out_ch {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = conv.bias[o];
                for ci in 0..per_out {
                    let c = if conv.depthwise { o } else { ci };
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * conv.stride + ky) as isize - pad as isize;
                            let ix = (ox * conv.stride + kx) as isize - pad as isize;
                            if iy < 0 || ix < 0 || iy >= x.h as isize || ix >= x.w as isize {
                                continue;
                            }
                            let w = conv.weight[((o * per_out + ci) * k + ky) * k + kx];
                            acc += w * x.at(c, iy as usize, ix as usize);
                        }
                    }
                }
                out[(o * oh + oy) * ow + ox] = acc;
            }
        }
    }
    Chw { c: conv.out_ch, h: oh, w: ow, data: out }
}

pub fn relu6(x: &mut Chw) {
    for v in &mut x.data {
        *v = v.clamp(0.0, 6.0);
    }
}

pub fn global_average_pool(x: &Chw) -> Vec<f32> {
    let n = (x.h * x.w) as f32;
    x.data.chunks_exact(x.h * x.w).map(|plane| plane.iter().sum::<f32>() / n).collect()
}

/// `y = W x + b` with `W` stored `[out, in]`.
pub fn linear(x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    bias.iter()
        .enumerate()
        .map(|(o, b)| b + weight[o * x.len()..(o + 1) * x.len()].iter().zip(x).map(|(w, v)| w * v).sum::<f32>())
        .collect()
}

/// Pooled 1280-d features and 1000 logits of one normalised CHW image.
pub fn forward(model: &MobileNetV2, input: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut x = Chw { c: 3, h: INPUT_SIZE, w: INPUT_SIZE, data: input.to_vec() };
    x = conv2d(&x, &model.stem);
    relu6(&mut x);
    for block in &model.blocks {
        let mut y = x.clone();
        if let Some(expand) = &block.expand {
            y = conv2d(&y, expand);
            relu6(&mut y);
        }
        y = conv2d(&y, &block.depthwise);
        relu6(&mut y);
        y = conv2d(&y, &block.project);
        if block.residual {
            for (a, b) in y.data.iter_mut().zip(&x.data) {
                *a += b;
            }
        }
        x = y;
    }
    x = conv2d(&x, &model.head);
    relu6(&mut x);
    let features = global_average_pool(&x);
    debug_assert_eq!(features.len(), FEATURE_DIM);
    let logits = linear(&features, &model.classifier_weight, &model.classifier_bias);
    debug_assert_eq!(logits.len(), NUM_CLASSES);
    (features, logits)
}

/// NHWC `images x side x side x c` as one CHW tensor per image.
pub fn nhwc_to_chw(x: &[f32], images: usize, side: usize, c: usize) -> Vec<Chw> {
    (0..images)
        .map(|i| {
            let img = &x[i * side * side * c..(i + 1) * side * side * c];
            let mut data = vec![0.0; c * side * side];
            for (p, px) in img.chunks_exact(c).enumerate() {
                for (ch, v) in px.iter().enumerate() {
                    data[ch * side * side + p] = *v;
                }
            }
            Chw { c, h: side, w: side, data }
        })
        .collect()
}

/// CHW tensors back to one NHWC buffer.
pub fn chw_to_nhwc(images: &[Chw]) -> Vec<f32> {
    let mut out = Vec::new();
    for t in images {
        let plane = t.h * t.w;
        for p in 0..plane {
            out.extend((0..t.c).map(|ch| t.data[ch * plane + p]));
        }
    }
    out
}
