//! The AVX-512 VNNI int8 kernels: `vpdpbusd` multiplies 4 unsigned bytes by
//! 4 signed ones and adds them to an i32, 64 products an instruction.

use std::arch::x86_64::*;

use super::{Epilogue, MR, NR, QuantRows, QuantTile, QuantWeights, Scales, product, row_params};
use crate::engine::model::matmul::{dispatch_tile, for_each_tile};

/// Quantises each row of `a` into `rows`, 16 channels a step.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn quantize(a: &[f32], m: usize, k: usize, rows: &mut QuantRows) {
    let (k4, unsigned) = (rows.k4, rows.unsigned);
    let byte = _mm512_set1_epi32(255);
    for r in 0..m {
        // SAFETY: the caller sized `a` to m*k and `rows.data` to m*k4;
        // tails are masked (and read as zeros, which every range holds).
        unsafe {
            let src = a.as_ptr().add(r * k);
            let (mut vmin, mut vmax) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            let mut c = 0;
            while c < k {
                let mask: __mmask16 = if k - c >= 16 { 0xffff } else { (1u16 << (k - c)) - 1 };
                let v = _mm512_maskz_loadu_ps(mask, src.add(c));
                vmax = _mm512_max_ps(vmax, v);
                if !unsigned {
                    vmin = _mm512_min_ps(vmin, v);
                }
                c += 16;
            }
            let lo = if unsigned { 0.0 } else { _mm512_reduce_min_ps(vmin) };
            let (inv, scale, zero) = row_params(lo, _mm512_reduce_max_ps(vmax));
            let (vinv, vzero) = (_mm512_set1_ps(inv), _mm512_set1_epi32(zero));
            let dst = rows.data.as_mut_ptr().add(r * k4);
            let mut c = 0;
            while c < k4 {
                let left = k - c.min(k);
                let mask: __mmask16 = if left >= 16 { 0xffff } else { (1u16 << left) - 1 };
                let v = _mm512_maskz_loadu_ps(mask, src.add(c));
                // Round to nearest even, as the plain path's `round_ties_even`.
                let q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, vinv)), vzero);
                let q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_setzero_si512()), byte);
                let bytes = _mm512_cvtepi32_epi8(q);
                let store: __mmask16 = if k4 - c >= 16 { 0xffff } else { (1u16 << (k4 - c)) - 1 };
                _mm_mask_storeu_epi8(dst.add(c) as *mut i8, store, bytes);
                c += 16;
            }
            *rows.scale.get_unchecked_mut(r) = scale;
            *rows.zero.get_unchecked_mut(r) = zero;
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn matmul(rows: &QuantRows, m: usize, w: &QuantWeights, epi: Epilogue, out: &mut [f32]) {
    let (n, pr) = (w.n, product(rows, w, epi));
    let np = n.div_ceil(NR);
    for_each_tile(m, MR, 0..np, |r0, nrows, p, pair| {
        // SAFETY: rows and panels stay inside the bounds the caller asserted.
        unsafe {
            let t = QuantTile::at(&pr, out, r0, p, if pair { 2 * NR } else { NR }, Scales::at(rows, w, r0, p));
            dispatch_tile!(tile, &t, nrows, pair);
        }
    });
}

/// `R` rows x `C` panels, accumulated over all of `k` in registers.
/// Indexed loops: each index picks registers in two arrays at once.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn tile<const R: usize, const C: usize>(t: &QuantTile) {
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); R]; C];
        let panel_len = t.k * NR;
        for kq in 0..t.k / 4 {
            let mut wv = [_mm512_setzero_si512(); C];
            for (c, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(t.panel.add(c * panel_len + kq * NR * 4) as *const _);
            }
            for r in 0..R {
                let x = _mm512_set1_epi32((t.a.add(r * t.k + kq * 4) as *const i32).read_unaligned());
                for c in 0..C {
                    acc[c][r] = _mm512_dpbusd_epi32(acc[c][r], x, wv[c]);
                }
            }
        }
        let zero = _mm512_setzero_ps();
        let six = _mm512_set1_ps(6.0);
        for c in 0..C {
            let left = t.cols.saturating_sub(c * NR);
            let mask: __mmask16 = if left >= NR { 0xffff } else { (1u16 << left) - 1 };
            let scale = _mm512_loadu_ps(t.extra.scale.add(c * NR));
            let bias = _mm512_loadu_ps(t.bias.add(c * NR));
            let sum = _mm512_loadu_si512(t.extra.sum.add(c * NR) as *const _);
            for r in 0..R {
                let offset = _mm512_mullo_epi32(sum, _mm512_set1_epi32(*t.extra.zero.add(r)));
                let s = _mm512_mul_ps(_mm512_set1_ps(*t.extra.row_scale.add(r)), scale);
                let i = _mm512_sub_epi32(acc[c][r], offset);
                let mut v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), s, bias);
                let at = r * t.ldo + c * NR;
                let res = if t.res.is_null() { zero } else { _mm512_maskz_loadu_ps(mask, t.res.add(at)) };
                v = _mm512_add_ps(v, res);
                if t.relu6 {
                    v = _mm512_min_ps(_mm512_max_ps(v, zero), six);
                }
                _mm512_mask_storeu_ps(t.out.add(at), mask, v);
            }
        }
    }
}
