//! Depthwise 3x3 convolution of the CPU engine (padding 1, plus bias and
//! ReLU6), NHWC, over a window of input rows.
//!
//! Channels are contiguous in NHWC and the weights are stored `[tap][channel]`,
//! so every tap is one run of multiply-adds across channels: with AVX2+FMA,
//! 32 channels in four registers accumulate all nine taps before one store;
//! a plain loop serves every other CPU, and is the whole path there.
//! `tests/cpu_kernels.rs` checks both against `reference::conv2d`.

use super::{Conv, depthwise_weights};
use crate::engine::isa::Isa;

/// A depthwise 3x3 convolution's weights as `[tap][channel]`, and its bias.
pub struct DepthwiseWeights {
    pub channels: usize,
    pub stride: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl DepthwiseWeights {
    pub fn new(conv: &Conv) -> Self {
        assert!(conv.depthwise && conv.kernel == 3, "{}: not a depthwise 3x3 convolution", conv.name);
        DepthwiseWeights {
            channels: conv.out_ch,
            stride: conv.stride,
            weight: depthwise_weights(conv),
            bias: conv.bias.clone(),
        }
    }
}

/// Input rows `[first_row, first_row + rows.len() / row_len)` of a square
/// NHWC plane of side `side`, and the output rows `[start, end)` to compute
/// from them.
pub struct Window<'a> {
    pub rows: &'a [f32],
    pub first_row: usize,
    pub side: usize,
    pub out_rows: (usize, usize),
}

/// Depthwise 3x3 over a window of rows, on the fastest path this CPU has.
/// `out` holds the output rows of the window, NHWC.
pub fn depthwise(win: &Window, d: &DepthwiseWeights, out: &mut [f32]) {
    depthwise_on(Isa::detect(), win, d, out)
}

/// The same on a named path. The AVX2 kernel takes channel counts that are
/// a multiple of 8 (every layer of MobileNetV2); others take the plain loop
/// on any path. Panics if the window lacks rows the output needs, or if the
/// CPU lacks `isa`.
pub fn depthwise_on(isa: Isa, win: &Window, d: &DepthwiseWeights, out: &mut [f32]) {
    let out_side = win.side.div_ceil(d.stride);
    let (oy0, oy1) = win.out_rows;
    let avail = win.rows.len() / (win.side * d.channels);
    assert!(oy0 < oy1 && oy1 <= out_side);
    assert!(win.first_row <= (oy0 * d.stride).saturating_sub(1));
    assert!(((oy1 - 1) * d.stride + 2).min(win.side) <= win.first_row + avail);
    assert!(out.len() >= (oy1 - oy0) * out_side * d.channels);
    assert!(isa.supported(), "this CPU cannot run the {isa:?} kernels");
    match isa {
        Isa::Avx2 | Isa::Avx512 if d.channels.is_multiple_of(8) => {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX2 and FMA; the asserts above bound every
            // access the kernel makes.
            unsafe {
                depthwise_avx2(win, d, out)
            };
        }
        _ => depthwise_scalar(win, d, out),
    }
}

/// Valid kernel taps `[lo, hi)` along one axis for output position `o`.
#[inline(always)]
fn taps(o: usize, stride: usize, side: usize) -> (usize, usize) {
    let lo = if o * stride == 0 { 1 } else { 0 };
    (lo, 3.min(side + 1 - o * stride))
}

/// Plain loops over the same layout (any CPU).
fn depthwise_scalar(win: &Window, d: &DepthwiseWeights, out: &mut [f32]) {
    let (c, s, side) = (d.channels, d.stride, win.side);
    let out_side = side.div_ceil(s);
    let (oy0, oy1) = win.out_rows;
    for oy in oy0..oy1 {
        let (ky_lo, ky_hi) = taps(oy, s, side);
        for ox in 0..out_side {
            let (kx_lo, kx_hi) = taps(ox, s, side);
            let dst = &mut out[((oy - oy0) * out_side + ox) * c..][..c];
            dst.copy_from_slice(&d.bias);
            for ky in ky_lo..ky_hi {
                let iy = oy * s + ky - 1 - win.first_row;
                for kx in kx_lo..kx_hi {
                    let src = &win.rows[(iy * side + ox * s + kx - 1) * c..][..c];
                    let w = &d.weight[(ky * 3 + kx) * c..][..c];
                    for ((o, x), w) in dst.iter_mut().zip(src).zip(w) {
                        *o += x * w;
                    }
                }
            }
            dst.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0));
        }
    }
}

/// Accumulates 32 channels (four registers) over all taps before one store,
/// so each output is written once and the weights stay in L1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn depthwise_avx2(win: &Window, d: &DepthwiseWeights, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let (c, s, side) = (d.channels, d.stride, win.side);
    let out_side = side.div_ceil(s);
    let (oy0, oy1) = win.out_rows;
    let (inp, wts, bias, outp) = (win.rows.as_ptr(), d.weight.as_ptr(), d.bias.as_ptr(), out.as_mut_ptr());
    // SAFETY: the caller checked the features and the window bounds.
    unsafe {
        let zero = _mm256_setzero_ps();
        let six = _mm256_set1_ps(6.0);
        for oy in oy0..oy1 {
            let (ky_lo, ky_hi) = taps(oy, s, side);
            for ox in 0..out_side {
                let (kx_lo, kx_hi) = taps(ox, s, side);
                let dst = outp.add(((oy - oy0) * out_side + ox) * c);
                let src_at =
                    |ky: usize, kx: usize| inp.add(((oy * s + ky - 1 - win.first_row) * side + ox * s + kx - 1) * c);
                let mut c0 = 0;
                while c0 + 32 <= c {
                    let mut a0 = _mm256_loadu_ps(bias.add(c0));
                    let mut a1 = _mm256_loadu_ps(bias.add(c0 + 8));
                    let mut a2 = _mm256_loadu_ps(bias.add(c0 + 16));
                    let mut a3 = _mm256_loadu_ps(bias.add(c0 + 24));
                    for ky in ky_lo..ky_hi {
                        for kx in kx_lo..kx_hi {
                            let src = src_at(ky, kx).add(c0);
                            let w = wts.add((ky * 3 + kx) * c + c0);
                            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(src), _mm256_loadu_ps(w), a0);
                            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(src.add(8)), _mm256_loadu_ps(w.add(8)), a1);
                            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(src.add(16)), _mm256_loadu_ps(w.add(16)), a2);
                            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(src.add(24)), _mm256_loadu_ps(w.add(24)), a3);
                        }
                    }
                    _mm256_storeu_ps(dst.add(c0), _mm256_min_ps(_mm256_max_ps(a0, zero), six));
                    _mm256_storeu_ps(dst.add(c0 + 8), _mm256_min_ps(_mm256_max_ps(a1, zero), six));
                    _mm256_storeu_ps(dst.add(c0 + 16), _mm256_min_ps(_mm256_max_ps(a2, zero), six));
                    _mm256_storeu_ps(dst.add(c0 + 24), _mm256_min_ps(_mm256_max_ps(a3, zero), six));
                    c0 += 32;
                }
                while c0 < c {
                    let mut a = _mm256_loadu_ps(bias.add(c0));
                    for ky in ky_lo..ky_hi {
                        for kx in kx_lo..kx_hi {
                            let w = _mm256_loadu_ps(wts.add((ky * 3 + kx) * c + c0));
                            a = _mm256_fmadd_ps(_mm256_loadu_ps(src_at(ky, kx).add(c0)), w, a);
                        }
                    }
                    _mm256_storeu_ps(dst.add(c0), _mm256_min_ps(_mm256_max_ps(a, zero), six));
                    c0 += 8;
                }
            }
        }
    }
}
