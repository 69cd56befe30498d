//! The AVX2 int8 kernels, for CPUs without AVX-512 VNNI.
//!
//! `vpmaddubsw`, AVX2's byte product, adds pairs of u8 x i8 products into
//! i16 with saturation: 255 x 127 twice is 64,770, past i16, so it would
//! round where the other paths are exact, or need 7-bit activations.
//! Instead both sides widen to i16 and `vpmaddwd` adds each pair of
//! products into an i32: exact, so this path equals the plain one bit for
//! bit, 16 products an instruction (twice an f32 FMA's 8).
//!
//! The weights keep the panel layout of the other paths (`[k/4][16 cols][4
//! k]` bytes): 16 bytes are 4 columns x 4 k, which widen to one register of
//! i16; against one row's 4 activations repeated 4 times, `vpmaddwd` gives
//! each column's two pair sums in adjacent lanes, folded at the end.

use std::arch::x86_64::*;

use super::{Epilogue, NR, QuantRows, QuantTile, QuantWeights, Scales, product, row_params};
use crate::engine::model::matmul::for_each_tile;

/// Rows per tile: 3 rows x 4 column groups = 12 accumulators, plus 3
/// activation and 1 weight register, the 16 AVX2 has.
const MR: usize = 3;

/// Quantises each row of `a` into `rows`, 8 channels a step.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn quantize(a: &[f32], m: usize, k: usize, rows: &mut QuantRows) {
    let (k4, unsigned) = (rows.k4, rows.unsigned);
    let whole = k - k % 8;
    for r in 0..m {
        let row = &a[r * k..][..k];
        // SAFETY: the caller sized `a` to m*k and `rows.data` to m*k4; the
        // vector loops stop at the last whole group of 8.
        unsafe {
            let src = row.as_ptr();
            let (mut vmin, mut vmax) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            for c in (0..whole).step_by(8) {
                let v = _mm256_loadu_ps(src.add(c));
                vmax = _mm256_max_ps(vmax, v);
                vmin = _mm256_min_ps(vmin, v);
            }
            let mut hi = lanes_max(vmax);
            let mut lo = if unsigned { 0.0 } else { lanes_min(vmin) };
            for &v in &row[whole..] {
                hi = hi.max(v);
                if !unsigned {
                    lo = lo.min(v);
                }
            }
            let (inv, scale, zero) = row_params(lo, hi);
            let (vinv, vzero) = (_mm256_set1_ps(inv), _mm256_set1_epi32(zero));
            let (floor, ceil) = (_mm256_setzero_si256(), _mm256_set1_epi32(255));
            // Bytes 0, 4, 8, 12 of each 128-bit lane, then the two lanes' words side by side.
            let gather = _mm256_setr_epi8(
                0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1,
                -1, -1, -1, -1, -1,
            );
            let dst = rows.data.as_mut_ptr().add(r * k4);
            for c in (0..whole).step_by(8) {
                // Round to nearest even, as the plain path's `round_ties_even`.
                let q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src.add(c)), vinv)), vzero);
                let q = _mm256_min_epi32(_mm256_max_epi32(q, floor), ceil);
                let b = _mm256_permutevar8x32_epi32(
                    _mm256_shuffle_epi8(q, gather),
                    _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0),
                );
                (dst.add(c) as *mut i64).write_unaligned(_mm256_extract_epi64::<0>(b));
            }
            let q = &mut rows.data[r * k4..][..k4];
            for (d, v) in q[whole..k].iter_mut().zip(&row[whole..]) {
                *d = ((v * inv).round_ties_even() as i32 + zero).clamp(0, 255) as u8;
            }
            q[k..].fill(zero as u8);
            rows.scale[r] = scale;
            rows.zero[r] = zero;
        }
    }
}

/// The smallest of 8 lanes.
#[inline(always)]
unsafe fn lanes_min(v: __m256) -> f32 {
    // SAFETY: the callers run with AVX2 enabled.
    unsafe {
        let m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let m = _mm_min_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps::<1>(m, m)))
    }
}

/// The largest of 8 lanes.
#[inline(always)]
unsafe fn lanes_max(v: __m256) -> f32 {
    // SAFETY: the callers run with AVX2 enabled.
    unsafe {
        let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps::<1>(m, m)))
    }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn matmul(rows: &QuantRows, m: usize, w: &QuantWeights, epi: Epilogue, out: &mut [f32]) {
    let (n, pr) = (w.n, product(rows, w, epi));
    // One panel a tile: the walk's pairs of panels are run one by one.
    for_each_tile(m, MR, 0..n.div_ceil(NR), |r0, nrows, p0, pair| {
        for p in p0..p0 + if pair { 2 } else { 1 } {
            // SAFETY: rows and panels stay inside the bounds the caller asserted.
            unsafe {
                let t = QuantTile::at(&pr, out, r0, p, NR, Scales::at(rows, w, r0, p));
                match nrows {
                    3 => tile::<3>(&t),
                    2 => tile::<2>(&t),
                    _ => tile::<1>(&t),
                }
            }
        }
    });
}

/// `R` rows x one 16-column panel, accumulated over all of `k` in
/// registers: `acc[r][g]` holds columns 4g..4g+4 as (column, pair) lanes.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn tile<const R: usize>(t: &QuantTile) {
    unsafe {
        let mut acc = [[_mm256_setzero_si256(); 4]; R];
        for kq in 0..t.k / 4 {
            let mut x = [_mm256_setzero_si256(); R];
            for r in 0..R {
                let bytes = (t.a.add(r * t.k + kq * 4) as *const i32).read_unaligned();
                x[r] = _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(bytes)));
            }
            let block = t.panel.add(kq * NR * 4);
            for g in 0..4 {
                let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(block.add(g * 16) as *const __m128i));
                for r in 0..R {
                    acc[r][g] = _mm256_add_epi32(acc[r][g], _mm256_madd_epi16(x[r], wv));
                }
            }
        }
        // hadd leaves columns [0 1 4 5 | 2 3 6 7]; this puts them in order.
        let order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
        let zero = _mm256_setzero_ps();
        let six = _mm256_set1_ps(6.0);
        for r in 0..R {
            for half in 0..2 {
                let sums = _mm256_hadd_epi32(acc[r][2 * half], acc[r][2 * half + 1]);
                let sums = _mm256_permutevar8x32_epi32(sums, order);
                let c0 = half * 8;
                let left = t.cols.saturating_sub(c0).min(8) as i32;
                let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                let sum = _mm256_loadu_si256(t.extra.sum.add(c0) as *const __m256i);
                let offset = _mm256_mullo_epi32(sum, _mm256_set1_epi32(*t.extra.zero.add(r)));
                let s =
                    _mm256_mul_ps(_mm256_set1_ps(*t.extra.row_scale.add(r)), _mm256_loadu_ps(t.extra.scale.add(c0)));
                let i = _mm256_sub_epi32(sums, offset);
                let mut v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), s, _mm256_loadu_ps(t.bias.add(c0)));
                let at = r * t.ldo + c0;
                let res = if t.res.is_null() { zero } else { _mm256_maskload_ps(t.res.add(at), mask) };
                v = _mm256_add_ps(v, res);
                if t.relu6 {
                    v = _mm256_min_ps(_mm256_max_ps(v, zero), six);
                }
                _mm256_maskstore_ps(t.out.add(at), mask, v);
            }
        }
    }
}
