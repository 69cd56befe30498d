//! Plain reference forward passes of the face networks, one image at a
//! time in HWC, written as face-api's TypeScript reads, with TensorFlow's
//! padding rules spelt out. Deliberately naive loops: the CPU engine and the
//! GPU kernels are tested against these, and these against the numpy
//! goldens of `models/golden_faces.py`. Nothing on a hot path calls them.

use super::nets::{Dense3, DenseBlock, Detector, Expression, First, Separable};
use super::{DETECTOR_MEAN, DETECTOR_OUT, EXPRESSION_MEAN, FACE_SIDE};

/// A tensor in HWC layout.
#[derive(Clone, Debug)]
pub struct Hwc {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

impl Hwc {
    pub fn zeros(h: usize, w: usize, c: usize) -> Hwc {
        Hwc { h, w, c, data: vec![0.0; h * w * c] }
    }

    fn at(&self, y: isize, x: isize, c: usize) -> f32 {
        if y < 0 || x < 0 || y >= self.h as isize || x >= self.w as isize {
            return 0.0;
        }
        self.data[(y as usize * self.w + x as usize) * self.c + c]
    }

    /// `(pixel - mean) / 255` of an RGB8 image.
    pub fn normalised(rgb: &[u8], h: usize, w: usize, mean: [f32; 3]) -> Hwc {
        let data = rgb.iter().enumerate().map(|(i, &v)| (v as f32 - mean[i % 3]) / 255.0).collect();
        Hwc { h, w, c: 3, data }
    }
}

/// How a 3x3 convolution of stride `s` pads a side of `n`: `Valid` drops the
/// border, `Same` is TensorFlow's (output `ceil(n / s)`, the odd pixel of
/// padding after), `One` pads one pixel each side (stride 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pad {
    Valid,
    Same,
    One,
}

impl Pad {
    /// (output length, padding before) for length `n`, kernel 3, stride `s`.
    pub fn plan(self, n: usize, s: usize) -> (usize, usize) {
        match self {
            Pad::Valid => ((n - 3) / s + 1, 0),
            Pad::One => ((n - 1) / s + 1, 1),
            Pad::Same => {
                let out = n.div_ceil(s);
                let total = ((out - 1) * s + 3).saturating_sub(n);
                (out, total / 2)
            }
        }
    }
}

pub fn dense3(x: &Hwc, d: &Dense3, s: usize, pad: Pad) -> Hwc {
    let ((oh, pt), (ow, pl)) = (pad.plan(x.h, s), pad.plan(x.w, s));
    let mut out = Hwc::zeros(oh, ow, d.cout);
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..d.cout {
                let mut acc = d.bias[o];
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (iy, ix) = ((oy * s + ky) as isize - pt as isize, (ox * s + kx) as isize - pl as isize);
                        for c in 0..d.cin {
                            acc += x.at(iy, ix, c) * d.weight[((ky * 3 + kx) * d.cin + c) * d.cout + o];
                        }
                    }
                }
                out.data[(oy * ow + ox) * d.cout + o] = acc;
            }
        }
    }
    out
}

/// Depthwise 3x3 (no bias), then pointwise, then the bias.
pub fn separable(x: &Hwc, p: &Separable, s: usize, pad: Pad) -> Hwc {
    let ((oh, pt), (ow, pl)) = (pad.plan(x.h, s), pad.plan(x.w, s));
    let mut mid = Hwc::zeros(oh, ow, p.cin);
    for oy in 0..oh {
        for ox in 0..ow {
            for c in 0..p.cin {
                let mut acc = 0.0;
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (iy, ix) = ((oy * s + ky) as isize - pt as isize, (ox * s + kx) as isize - pl as isize);
                        acc += x.at(iy, ix, c) * p.depthwise[(ky * 3 + kx) * p.cin + c];
                    }
                }
                mid.data[(oy * ow + ox) * p.cin + c] = acc;
            }
        }
    }
    pointwise(&mid, &p.pointwise, &p.bias)
}

/// A 1x1 convolution, `w` `[in][out]`.
pub fn pointwise(x: &Hwc, w: &[f32], bias: &[f32]) -> Hwc {
    let cout = bias.len();
    let mut out = Hwc::zeros(x.h, x.w, cout);
    for p in 0..x.h * x.w {
        for o in 0..cout {
            let mut acc = bias[o];
            for c in 0..x.c {
                acc += x.data[p * x.c + c] * w[c * cout + o];
            }
            out.data[p * cout + o] = acc;
        }
    }
    out
}

/// face-api's leaky ReLU: `relu(x - 0.1x) + 0.1x`, which is x above zero.
pub fn leaky(v: f32) -> f32 {
    if v > 0.0 { v } else { 0.1 * v }
}

/// 2x2 max pool with TensorFlow's 'same' padding, which never wins.
pub fn max_pool(x: &Hwc, s: usize) -> Hwc {
    let (oh, ow) = (x.h.div_ceil(s), x.w.div_ceil(s));
    let mut out = Hwc::zeros(oh, ow, x.c);
    for oy in 0..oh {
        for ox in 0..ow {
            for c in 0..x.c {
                let mut m = f32::NEG_INFINITY;
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let (iy, ix) = (oy * s + dy, ox * s + dx);
                    if iy < x.h && ix < x.w {
                        m = m.max(x.data[(iy * x.w + ix) * x.c + c]);
                    }
                }
                out.data[(oy * ow + ox) * x.c + c] = m;
            }
        }
    }
    out
}

/// The detector's raw output for one square RGB8 input of `side`:
/// `grid_side(side)^2` cells of `DETECTOR_OUT`.
pub fn detector(d: &Detector, rgb: &[u8], side: usize) -> Vec<f32> {
    let x = Hwc::normalised(rgb, side, side, DETECTOR_MEAN);
    let mut x = dense3(&x, &d.conv0, 1, Pad::Valid);
    x.data.iter_mut().for_each(|v| *v = leaky(*v));
    x = max_pool(&x, 2);
    for (i, sep) in d.separable.iter().enumerate() {
        x = separable(&x, sep, 1, Pad::One);
        x.data.iter_mut().for_each(|v| *v = leaky(*v));
        x = max_pool(&x, if i < 4 { 2 } else { 1 });
    }
    let out = pointwise(&x, &d.head, &d.head_bias);
    debug_assert_eq!(out.c, DETECTOR_OUT);
    out.data
}

fn relu(x: &mut Hwc) {
    x.data.iter_mut().for_each(|v| *v = v.max(0.0));
}

fn add(a: &Hwc, b: &Hwc) -> Hwc {
    Hwc { data: a.data.iter().zip(&b.data).map(|(x, y)| x + y).collect(), ..*a }
}

pub fn dense_block(x: &Hwc, b: &DenseBlock) -> Hwc {
    let mut out1 = match &b.first {
        First::Dense(d) => dense3(x, d, 2, Pad::Same),
        First::Separable(p) => separable(x, p, 2, Pad::Same),
    };
    relu(&mut out1);
    // `sum` is out1 + out2 + ... so far; each later convolution reads its ReLU.
    let mut sum = out1.clone();
    for (i, p) in b.rest.iter().enumerate() {
        let input = if i == 0 {
            out1.clone()
        } else {
            let mut r = sum.clone();
            relu(&mut r);
            r
        };
        sum = add(&sum, &separable(&input, p, 1, Pad::Same));
    }
    relu(&mut sum);
    sum
}

/// The expression network's seven logits (face-api's order) for one
/// `FACE_SIDE` square RGB8 crop.
pub fn expression(e: &Expression, rgb: &[u8]) -> [f32; 7] {
    let mut x = Hwc::normalised(rgb, FACE_SIDE, FACE_SIDE, EXPRESSION_MEAN);
    for b in &e.blocks {
        x = dense_block(&x, b);
    }
    let cells = (x.h * x.w) as f32;
    let pooled: Vec<f32> = (0..x.c).map(|c| (0..x.h * x.w).map(|p| x.data[p * x.c + c]).sum::<f32>() / cells).collect();
    std::array::from_fn(|o| e.fc_bias[o] + (0..pooled.len()).map(|c| pooled[c] * e.fc[c * 7 + o]).sum::<f32>())
}
