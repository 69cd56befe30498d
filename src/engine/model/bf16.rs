//! Bf16 matrix product for the 1x1 convolutions of the CPU engine's bf16
//! path: `out = act(A W + bias (+ residual))` with `A` and `W` rounded to
//! bfloat16 (8 significant bits, f32's exponent) and the sums kept in f32.
//!
//! Unlike int8 nothing is scaled: each value keeps 8 bits relative to its
//! own magnitude, so no calibration and no zero points. AVX-512 BF16's
//! `vdpbf16ps` multiplies pairs of bf16 and adds both products to an f32
//! lane, 32 multiply-adds an instruction against 16 for an f32 FMA.
//!
//! Layout: `ceil(n/16)` panels of `[k/2][16 columns][2 k]` bf16, `k` padded
//! to even with zeros; activations `[m][k2]` bf16, rounded per product. The
//! instruction adds the odd pair's product first, then the even one's, each
//! rounded to nearest even, and flushes subnormals; the plain path does the
//! same in that order. `tests/bf16.rs` checks every path against the plain
//! one and both against the exact product of the rounded values.

use super::matmul::Epilogue;
use crate::engine::isa::Isa;

/// Columns per panel: one 512-bit register of f32 accumulators.
const NR: usize = 16;
/// Rows per register block: 8 rows x 2 panels = 16 accumulators.
const MR: usize = 8;

/// f32 to bf16, rounding to nearest even (what `vcvtneps2bf16` does for
/// finite values).
#[inline(always)]
pub fn to_bf16(v: f32) -> u16 {
    let b = v.to_bits();
    if v.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

#[inline(always)]
pub fn from_bf16(v: u16) -> f32 {
    f32::from_bits((v as u32) << 16)
}

/// Weights `[k x n]` rounded to bf16 and packed in panels.
pub struct Bf16Weights {
    pub k: usize,
    pub n: usize,
    k2: usize,
    panels: Vec<u16>,
    bias: Vec<f32>,
}

impl Bf16Weights {
    /// `w` is row-major `[k x n]`.
    pub fn new(k: usize, n: usize, w: &[f32], bias: &[f32]) -> Self {
        assert_eq!(w.len(), k * n);
        assert_eq!(bias.len(), n);
        let (k2, np) = (k.next_multiple_of(2), n.div_ceil(NR));
        let mut panels = vec![0u16; np * k2 * NR];
        for p in 0..np {
            for j in 0..NR.min(n - p * NR) {
                for kk in 0..k {
                    panels[p * k2 * NR + (kk / 2) * NR * 2 + j * 2 + kk % 2] = to_bf16(w[kk * n + p * NR + j]);
                }
            }
        }
        let mut padded = vec![0.0; np * NR];
        padded[..n].copy_from_slice(bias);
        Bf16Weights { k, n, k2, panels, bias: padded }
    }
}

/// Whether the bf16 kernels have a path for `isa` (the plain one runs
/// everywhere; the fast one needs AVX-512 BF16).
pub fn runs_on(isa: Isa) -> bool {
    match isa {
        Isa::Scalar => true,
        Isa::Avx2 => false,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => isa.supported() && std::arch::is_x86_feature_detected!("avx512bf16"),
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx512 => false,
    }
}

/// The fastest bf16 path this CPU has.
pub fn fastest() -> Isa {
    if runs_on(Isa::Avx512) { Isa::Avx512 } else { Isa::Scalar }
}

/// `out[m x n] = epilogue(a[m x k] * w + bias)` in bf16 on the fastest
/// path; `rows` is scratch for the rounded activations.
pub fn matmul_bf16(a: &[f32], m: usize, w: &Bf16Weights, epi: Epilogue, rows: &mut Vec<u16>, out: &mut [f32]) {
    matmul_bf16_on(fastest(), a, m, w, epi, rows, out)
}

/// The same on a named path. Panics if the path does not run here.
pub fn matmul_bf16_on(
    isa: Isa,
    a: &[f32],
    m: usize,
    w: &Bf16Weights,
    epi: Epilogue,
    rows: &mut Vec<u16>,
    out: &mut [f32],
) {
    let (k, n, k2) = (w.k, w.n, w.k2);
    assert!(a.len() >= m * k && out.len() >= m * n);
    if let Some(r) = epi.residual {
        assert!(r.len() >= m * n);
    }
    assert!(runs_on(isa), "this CPU cannot run the {isa:?} bf16 kernels");
    rows.resize(m * k2, 0);
    for r in 0..m {
        let dst = &mut rows[r * k2..][..k2];
        for (d, v) in dst.iter_mut().zip(&a[r * k..][..k]) {
            *d = to_bf16(*v);
        }
        dst[k..].fill(0);
    }
    match isa {
        Isa::Avx512 => {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `runs_on` checked the CPU's features; the sizes above
            // bound every access of the kernel.
            unsafe {
                avx512::matmul(rows, m, w, epi, out)
            }
        }
        _ => matmul_scalar(rows, m, w, epi, out),
    }
}

/// f32 with subnormals flushed to zero, as the instruction treats inputs
/// and results.
#[inline(always)]
fn ftz(v: f32) -> f32 {
    if v.is_subnormal() { 0.0f32.copysign(v) } else { v }
}

fn matmul_scalar(rows: &[u16], m: usize, w: &Bf16Weights, epi: Epilogue, out: &mut [f32]) {
    let (n, k2) = (w.n, w.k2);
    for r in 0..m {
        let x = &rows[r * k2..][..k2];
        for p in 0..n.div_ceil(NR) {
            let panel = &w.panels[p * k2 * NR..][..k2 * NR];
            let mut acc = [0.0f32; NR];
            acc.copy_from_slice(&w.bias[p * NR..][..NR]);
            for (kq, block) in panel.chunks_exact(NR * 2).enumerate() {
                let (x0, x1) = (ftz(from_bf16(x[kq * 2])), ftz(from_bf16(x[kq * 2 + 1])));
                for (j, c) in acc.iter_mut().enumerate() {
                    let (w0, w1) = (ftz(from_bf16(block[j * 2])), ftz(from_bf16(block[j * 2 + 1])));
                    *c = ftz(ftz(*c + x1 * w1) + x0 * w0);
                }
            }
            for (j, &c) in acc.iter().enumerate().take(NR.min(n - p * NR)) {
                let idx = r * n + p * NR + j;
                let v = c + epi.residual.map_or(0.0, |res| res[idx]);
                out[idx] = if epi.relu6 { v.clamp(0.0, 6.0) } else { v };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Bf16Weights, Epilogue, MR, NR};
    use crate::engine::model::matmul::{Product, Tile, dispatch_tile, for_each_tile};

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn matmul(rows: &[u16], m: usize, w: &Bf16Weights, epi: Epilogue, out: &mut [f32]) {
        let (n, k2) = (w.n, w.k2);
        let np = n.div_ceil(NR);
        let pr = Product { a: rows, k: k2, panels: &w.panels, bias: &w.bias, n, epi };
        for_each_tile(m, MR, 0..np, |r0, nrows, p, pair| {
            // SAFETY: rows and panels stay inside the bounds the caller asserted.
            unsafe {
                let t = Tile::at(&pr, out, r0, p, if pair { 2 * NR } else { NR }, ());
                dispatch_tile!(tile, &t, nrows, pair);
            }
        });
    }

    /// `R` rows x `C` panels, accumulated over all of `k` in registers.
    /// Indexed loops: each index picks registers in two arrays at once.
    #[allow(clippy::needless_range_loop)]
    #[inline(always)]
    unsafe fn tile<const R: usize, const C: usize>(t: &Tile<u16, u16>) {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); R]; C];
            for c in 0..C {
                let b = _mm512_loadu_ps(t.bias.add(c * NR));
                acc[c] = [b; R];
            }
            let panel_len = t.k * NR;
            for kq in 0..t.k / 2 {
                let mut wv = [_mm512_setzero_si512(); C];
                for (c, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_si512(t.panel.add(c * panel_len + kq * NR * 2) as *const _);
                }
                for r in 0..R {
                    let x = _mm512_set1_epi32((t.a.add(r * t.k + kq * 2) as *const i32).read_unaligned());
                    for c in 0..C {
                        acc[c][r] = _mm512_dpbf16_ps(acc[c][r], std::mem::transmute(x), std::mem::transmute(wv[c]));
                    }
                }
            }
            let zero = _mm512_setzero_ps();
            let six = _mm512_set1_ps(6.0);
            for c in 0..C {
                let left = t.cols.saturating_sub(c * NR);
                let mask: __mmask16 = if left >= NR { 0xffff } else { (1u16 << left) - 1 };
                for r in 0..R {
                    let at = r * t.ldo + c * NR;
                    let mut v = acc[c][r];
                    if !t.res.is_null() {
                        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, t.res.add(at)));
                    }
                    if t.relu6 {
                        v = _mm512_min_ps(_mm512_max_ps(v, zero), six);
                    }
                    _mm512_mask_storeu_ps(t.out.add(at), mask, v);
                }
            }
        }
    }
}
