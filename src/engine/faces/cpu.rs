//! The CPU face engine: the networks of `reference` in NHWC, with the
//! products (every pointwise convolution and, through a row of patches at a
//! time, the dense 3x3 ones) on the model's packed matrix kernel
//! (`model::matmul`, AVX2+FMA where the CPU has it), which does ~90 % of the
//! work. Each call runs on the caller's thread: the decode workers call it
//! side by side, one image each, so the cores are already shared out.

use super::nets::{Dense3, DenseBlock, FaceNets, First, Separable};
use super::reference::{Pad, leaky};
use super::{DETECTOR_MEAN, DETECTOR_OUT, EXPRESSION_MEAN, FACE_BYTES, FACE_SIDE, FaceEngine, expression_probs};
use crate::engine::model::matmul::{Epilogue, PackedWeights, matmul};
use crate::error::Result;

const PLAIN: Epilogue = Epilogue { relu6: false, residual: None };

/// A plane of activations: `h x w x c`, row-major.
struct Plane {
    h: usize,
    w: usize,
    c: usize,
    data: Vec<f32>,
}

/// A dense 3x3 convolution packed as a `[27 cin x cout]` product.
struct DenseK {
    cin: usize,
    w: PackedWeights,
}

/// A separable convolution: depthwise taps `[tap][channel]` and the packed
/// pointwise product, which adds the bias.
struct SepK {
    cin: usize,
    depthwise: Vec<f32>,
    pointwise: PackedWeights,
}

impl DenseK {
    fn new(d: &Dense3) -> DenseK {
        DenseK { cin: d.cin, w: PackedWeights::new(9 * d.cin, d.cout, &d.weight, &d.bias) }
    }
}

impl SepK {
    fn new(p: &Separable) -> SepK {
        SepK {
            cin: p.cin,
            depthwise: p.depthwise.clone(),
            pointwise: PackedWeights::new(p.cin, p.cout, &p.pointwise, &p.bias),
        }
    }
}

/// A dense block's first convolution: dense in the first block.
enum FirstK {
    Dense(DenseK),
    Sep(SepK),
}

struct BlockK {
    first: FirstK,
    rest: [SepK; 3],
}

/// The face networks packed for the CPU.
pub struct CpuFaces {
    conv0: DenseK,
    separable: Vec<SepK>,
    head: PackedWeights,
    blocks: Vec<BlockK>,
    fc: Vec<f32>,
    fc_bias: Vec<f32>,
}

impl CpuFaces {
    pub fn new(nets: &FaceNets) -> CpuFaces {
        let d = &nets.detector;
        let block = |b: &DenseBlock| BlockK {
            first: match &b.first {
                First::Dense(x) => FirstK::Dense(DenseK::new(x)),
                First::Separable(x) => FirstK::Sep(SepK::new(x)),
            },
            rest: [SepK::new(&b.rest[0]), SepK::new(&b.rest[1]), SepK::new(&b.rest[2])],
        };
        CpuFaces {
            conv0: DenseK::new(&d.conv0),
            separable: d.separable.iter().map(SepK::new).collect(),
            head: PackedWeights::new(512, DETECTOR_OUT, &d.head, &d.head_bias),
            blocks: nets.expression.blocks.iter().map(block).collect(),
            fc: nets.expression.fc.clone(),
            fc_bias: nets.expression.fc_bias.clone(),
        }
    }

    /// The detector's raw output for one square RGB8 input of `side`.
    ///
    /// Each layer before a stride-2 pool makes its rows two at a time, the
    /// pool's window, and pools them at once: the full-resolution
    /// activations (11 MB after the first convolution at 416) never exist,
    /// and what does stays in cache.
    pub fn detect_one(&self, rgb: &[u8], side: usize) -> Vec<f32> {
        let (ow, k) = (side - 2, &self.conv0);
        let mut patches = vec![0.0f32; 2 * ow * 27];
        let mut x = fused_pool2(side - 2, ow, k.w.n, |y0, n, buf| {
            // Patches straight from the bytes, normalised as they are gathered.
            for r in 0..n {
                for ox in 0..ow {
                    for ky in 0..3 {
                        let src = &rgb[((y0 + r + ky) * side + ox) * 3..][..9];
                        let dst = &mut patches[(r * ow + ox) * 27 + ky * 9..][..9];
                        for (i, (d, &v)) in dst.iter_mut().zip(src).enumerate() {
                            *d = (v as f32 - DETECTOR_MEAN[i % 3]) / 255.0;
                        }
                    }
                }
            }
            matmul(&patches[..n * ow * 27], n * ow, &k.w, PLAIN, buf);
        });
        for (i, sep) in self.separable.iter().enumerate() {
            if i < 4 {
                let (h, w, c) = (x.h, x.w, sep.cin);
                let mut mid = vec![0.0f32; 2 * w * c];
                x = fused_pool2(h, w, sep.pointwise.n, |y0, n, buf| {
                    depthwise_rows(&x, sep, y0, n, &mut mid[..n * w * c]);
                    matmul(&mid[..n * w * c], n * w, &sep.pointwise, PLAIN, buf);
                });
            } else {
                x = separable(&x, sep, 1, Pad::One, None);
                x.data.iter_mut().for_each(|v| *v = leaky(*v));
                x = max_pool(&x, 1);
            }
        }
        let mut out = vec![0.0; x.h * x.w * DETECTOR_OUT];
        matmul(&x.data, x.h * x.w, &self.head, PLAIN, &mut out);
        out
    }

    /// The expression network's seven logits (face-api's order) for one crop.
    pub fn express_one(&self, rgb: &[u8]) -> [f32; 7] {
        let mut x = normalised(rgb, FACE_SIDE, EXPRESSION_MEAN);
        for b in &self.blocks {
            let mut out1 = match &b.first {
                FirstK::Dense(d) => dense(&x, d, 2, Pad::Same),
                FirstK::Sep(p) => separable(&x, p, 2, Pad::Same, None),
            };
            relu(&mut out1.data);
            // The running sum out1 + out2 + ...; each convolution after the
            // second reads its ReLU, and adds itself through the epilogue.
            let mut sum = separable(&out1, &b.rest[0], 1, Pad::Same, Some(&out1.data));
            for p in &b.rest[1..] {
                let mut input = Plane { data: sum.data.clone(), ..sum };
                relu(&mut input.data);
                sum = separable(&input, p, 1, Pad::Same, Some(&sum.data));
            }
            relu(&mut sum.data);
            x = sum;
        }
        let cells = (x.h * x.w) as f32;
        let mut pooled = vec![0.0f32; x.c];
        for px in x.data.chunks_exact(x.c) {
            pooled.iter_mut().zip(px).for_each(|(p, v)| *p += v);
        }
        std::array::from_fn(|o| {
            self.fc_bias[o] + pooled.iter().enumerate().map(|(c, p)| p / cells * self.fc[c * 7 + o]).sum::<f32>()
        })
    }
}

impl FaceEngine for CpuFaces {
    fn detect(&self, inputs: &[u8], side: usize, n: usize) -> Result<Vec<f32>> {
        let per = side * side * 3;
        Ok(inputs[..n * per].chunks_exact(per).flat_map(|img| self.detect_one(img, side)).collect())
    }

    fn express(&self, crops: &[u8], n: usize) -> Result<Vec<[f32; 7]>> {
        Ok(crops[..n * FACE_BYTES].chunks_exact(FACE_BYTES).map(|c| expression_probs(&self.express_one(c))).collect())
    }
}

fn normalised(rgb: &[u8], side: usize, mean: [f32; 3]) -> Plane {
    let data = rgb.iter().enumerate().map(|(i, &v)| (v as f32 - mean[i % 3]) / 255.0).collect();
    Plane { h: side, w: side, c: 3, data }
}

fn relu(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = x.max(0.0));
}

/// Dense 3x3: one output row's patches gathered (`[ow x 27 cin]`), then one product.
fn dense(x: &Plane, k: &DenseK, s: usize, pad: Pad) -> Plane {
    let ((oh, pt), (ow, pl)) = (pad.plan(x.h, s), pad.plan(x.w, s));
    let kk = 9 * k.cin;
    let cout = k.w.n;
    let mut patches = vec![0.0f32; ow * kk];
    let mut out = vec![0.0f32; oh * ow * cout];
    for oy in 0..oh {
        patches.fill(0.0);
        for ox in 0..ow {
            for ky in 0..3 {
                let iy = (oy * s + ky) as isize - pt as isize;
                if iy < 0 || iy >= x.h as isize {
                    continue;
                }
                for kx in 0..3 {
                    let ix = (ox * s + kx) as isize - pl as isize;
                    if ix < 0 || ix >= x.w as isize {
                        continue;
                    }
                    let src = &x.data[(iy as usize * x.w + ix as usize) * x.c..][..k.cin];
                    patches[ox * kk + (ky * 3 + kx) * k.cin..][..k.cin].copy_from_slice(src);
                }
            }
        }
        matmul(&patches, ow, &k.w, PLAIN, &mut out[oy * ow * cout..][..ow * cout]);
    }
    Plane { h: oh, w: ow, c: cout, data: out }
}

/// Depthwise 3x3 (channels innermost, so each tap is one run of
/// multiply-adds the compiler vectorises), then the pointwise product with
/// its bias, plus `residual` when given.
fn separable(x: &Plane, k: &SepK, s: usize, pad: Pad, residual: Option<&[f32]>) -> Plane {
    let ((oh, pt), (ow, pl)) = (pad.plan(x.h, s), pad.plan(x.w, s));
    let c = k.cin;
    let mut mid = vec![0.0f32; oh * ow * c];
    for oy in 0..oh {
        for ox in 0..ow {
            let acc = &mut mid[(oy * ow + ox) * c..][..c];
            for ky in 0..3 {
                let iy = (oy * s + ky) as isize - pt as isize;
                if iy < 0 || iy >= x.h as isize {
                    continue;
                }
                for kx in 0..3 {
                    let ix = (ox * s + kx) as isize - pl as isize;
                    if ix < 0 || ix >= x.w as isize {
                        continue;
                    }
                    let src = &x.data[(iy as usize * x.w + ix as usize) * c..][..c];
                    let w = &k.depthwise[(ky * 3 + kx) * c..][..c];
                    for ((a, v), w) in acc.iter_mut().zip(src).zip(w) {
                        *a += v * w;
                    }
                }
            }
        }
    }
    let cout = k.pointwise.n;
    let mut out = vec![0.0f32; oh * ow * cout];
    matmul(&mid, oh * ow, &k.pointwise, Epilogue { relu6: false, residual }, &mut out);
    Plane { h: oh, w: ow, c: cout, data: out }
}

/// Rows of a convolution's output, `h x w x c`, made two at a time by
/// `rows(first_row, count, out)`, leaky-ReLU'd and max-pooled 2x2 with
/// stride 2 (TensorFlow 'same': the last odd row or column pools alone).
fn fused_pool2(h: usize, w: usize, c: usize, mut rows: impl FnMut(usize, usize, &mut [f32])) -> Plane {
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let mut buf = vec![0.0f32; 2 * w * c];
    let mut out = vec![0.0f32; oh * ow * c];
    for oy in 0..oh {
        let n = (h - 2 * oy).min(2);
        let buf = &mut buf[..n * w * c];
        rows(2 * oy, n, buf);
        buf.iter_mut().for_each(|v| *v = leaky(*v));
        for ox in 0..ow {
            let dst = &mut out[(oy * ow + ox) * c..][..c];
            dst.copy_from_slice(&buf[2 * ox * c..][..c]);
            for (r, dx) in [(0, 1), (1, 0), (1, 1)] {
                if r < n && 2 * ox + dx < w {
                    let src = &buf[(r * w + 2 * ox + dx) * c..][..c];
                    dst.iter_mut().zip(src).for_each(|(d, v)| *d = d.max(*v));
                }
            }
        }
    }
    Plane { h: oh, w: ow, c, data: out }
}

/// Depthwise 3x3 (stride 1, padding 1, no bias) of output rows
/// `y0..y0 + n` of `x`, into `out` (`n x w x c`).
fn depthwise_rows(x: &Plane, k: &SepK, y0: usize, n: usize, out: &mut [f32]) {
    let (w, c) = (x.w, k.cin);
    out.fill(0.0);
    for r in 0..n {
        let oy = y0 + r;
        for ky in 0..3 {
            let iy = oy as isize + ky as isize - 1;
            if iy < 0 || iy >= x.h as isize {
                continue;
            }
            let row = &x.data[iy as usize * w * c..][..w * c];
            for kx in 0..3 {
                let taps = &k.depthwise[(ky * 3 + kx) * c..][..c];
                // Output pixels whose tap kx lands inside the row.
                let (first, last) = (1usize.saturating_sub(kx), (w + 1 - kx).min(w));
                for ox in first..last {
                    let src = &row[(ox + kx - 1) * c..][..c];
                    let acc = &mut out[(r * w + ox) * c..][..c];
                    for ((a, v), t) in acc.iter_mut().zip(src).zip(taps) {
                        *a += v * t;
                    }
                }
            }
        }
    }
}

/// 2x2 max pool, TensorFlow 'same' (a missing pixel never wins).
fn max_pool(x: &Plane, s: usize) -> Plane {
    let (oh, ow, c) = (x.h.div_ceil(s), x.w.div_ceil(s), x.c);
    let mut out = vec![f32::NEG_INFINITY; oh * ow * c];
    for oy in 0..oh {
        for ox in 0..ow {
            let dst = &mut out[(oy * ow + ox) * c..][..c];
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let (iy, ix) = (oy * s + dy, ox * s + dx);
                if iy < x.h && ix < x.w {
                    let src = &x.data[(iy * x.w + ix) * c..][..c];
                    dst.iter_mut().zip(src).for_each(|(d, v)| *d = d.max(*v));
                }
            }
        }
    }
    Plane { h: oh, w: ow, c, data: out }
}
