//! Int8 matrix product for the 1x1 convolutions of the CPU engine's int8
//! path: `out = act(A W + bias (+ residual))` with `A` and `W` quantised.
//!
//! - **Weights** are quantised once, per output channel, symmetrically:
//!   `w ≈ s_j q_w`, `q_w` in [-127, 127].
//! - **Activations** are quantised per row (one pixel's channels), at run
//!   time, asymmetrically to unsigned bytes (AVX-512 VNNI's `vpdpbusd`
//!   multiplies unsigned bytes by signed ones): `a ≈ s_r (q - z_r)`, `q` in
//!   [0, 255], the 256 levels spread over the row's range (with 0 in it).
//!   A row is one pixel, and MobileNetV2's linear bottlenecks put pixels of
//!   very different magnitude side by side (a static per-tensor scale must
//!   cover the largest pixel of any picture), so a dynamic per-row scale
//!   keeps the error of every pixel near half a step of its own range. A
//!   symmetric scale (zero point 128) measured 0.6 points lower top-1
//!   agreement with f32 on the rated photos, every layer int8. The cost is
//!   one vectorised pass over `A`, next to `n` multiply-adds per element in
//!   the product.
//!   Inputs that follow a ReLU6 (the projections') are never negative and
//!   skip the minimum.
//! - The product accumulates in i32, exactly: `sum q q_w` minus the row's
//!   zero point times the column's `sum q_w` (kept with the weights) is
//!   `sum (q - z_r) q_w`. The epilogue turns it into `f32` with one fused
//!   multiply-add per value (`acc * s_r s_j + bias`), then adds the residual
//!   and clamps, in the same order on every path, so the AVX-512 kernel
//!   equals the plain one bit for bit.
//!
//! Layout: `ceil(n/16)` panels of `[k/4][16 columns][4 k]` signed bytes, `k`
//! padded to a multiple of 4 with zeros; activations `[m][k4]` bytes.
//! `tests/int8.rs` checks every path against the plain one, and the plain
//! one against the exact product within the bound quantisation allows. The
//! fast paths live beside this file: `vnni.rs` (AVX-512 VNNI) and
//! `avx2.rs` (AVX2, for CPUs without VNNI).

use super::matmul::Epilogue;
use crate::engine::isa::Isa;

/// Columns per panel: one 512-bit register of i32 accumulators.
const NR: usize = 16;
/// Rows per register block: 8 rows x 2 panels = 16 accumulators.
const MR: usize = 8;

/// Weights `[k x n]`, quantised per output channel and packed in panels.
pub struct QuantWeights {
    pub k: usize,
    pub n: usize,
    k4: usize,
    /// Whether the input is never negative (it follows a ReLU6).
    unsigned: bool,
    /// `q_w` as `[panel][k4/4][16][4]`.
    panels: Vec<i8>,
    /// Per column (padded to panels): the weight scale `s_j`.
    scale: Vec<f32>,
    /// Per column: `sum_k q_w`, which the zero point multiplies.
    sum: Vec<i32>,
    bias: Vec<f32>,
}

impl QuantWeights {
    /// `w` is row-major `[k x n]`; `unsigned` says the inputs are never
    /// negative.
    pub fn new(k: usize, n: usize, w: &[f32], bias: &[f32], unsigned: bool) -> Self {
        assert_eq!(w.len(), k * n);
        assert_eq!(bias.len(), n);
        let (k4, np) = (k.next_multiple_of(4), n.div_ceil(NR));
        let mut scale = vec![0.0f32; np * NR];
        for (j, s) in scale.iter_mut().enumerate().take(n) {
            let max = (0..k).map(|kk| w[kk * n + j].abs()).fold(0.0f32, f32::max);
            *s = max / 127.0;
        }
        let mut panels = vec![0i8; np * k4 * NR];
        let mut sum = vec![0i32; np * NR];
        for p in 0..np {
            for j in 0..NR.min(n - p * NR) {
                let col = p * NR + j;
                let inv = if scale[col] > 0.0 { 1.0 / scale[col] } else { 0.0 };
                for kk in 0..k {
                    let q = (w[kk * n + col] * inv).round_ties_even().clamp(-127.0, 127.0) as i32;
                    panels[p * k4 * NR + (kk / 4) * NR * 4 + j * 4 + kk % 4] = q as i8;
                    sum[col] += q;
                }
            }
        }
        let mut padded = vec![0.0; np * NR];
        padded[..n].copy_from_slice(bias);
        QuantWeights { k, n, k4, unsigned, panels, scale, sum, bias: padded }
    }
}

/// Rows of activations quantised for one product, reused across calls.
#[derive(Default)]
pub struct QuantRows {
    k4: usize,
    data: Vec<u8>,
    /// Whether the rows are never negative.
    unsigned: bool,
    /// Per row: the scale `s_r`.
    scale: Vec<f32>,
    /// Per row: the zero point `z_r`.
    zero: Vec<i32>,
}

/// Whether the int8 kernels have a path for `isa` (the plain one runs
/// everywhere; AVX2's needs AVX2, the fastest AVX-512 with VNNI and
/// byte/word ops).
pub fn runs_on(isa: Isa) -> bool {
    match isa {
        Isa::Scalar => true,
        Isa::Avx2 => isa.supported(),
        Isa::Avx512 => isa.supported() && vnni(),
    }
}

/// The fastest int8 path this CPU has.
pub fn fastest() -> Isa {
    [Isa::Avx512, Isa::Avx2].into_iter().find(|isa| runs_on(*isa)).unwrap_or(Isa::Scalar)
}

#[cfg(target_arch = "x86_64")]
fn vnni() -> bool {
    std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

#[cfg(not(target_arch = "x86_64"))]
fn vnni() -> bool {
    false
}

/// `out[m x n] = epilogue(a[m x k] * w + bias)` through int8, on the
/// fastest path; `rows` is scratch.
pub fn matmul_int8(a: &[f32], m: usize, w: &QuantWeights, epi: Epilogue, rows: &mut QuantRows, out: &mut [f32]) {
    matmul_int8_on(fastest(), a, m, w, epi, rows, out)
}

/// The same on a named path. Panics if the path does not run here.
pub fn matmul_int8_on(
    isa: Isa,
    a: &[f32],
    m: usize,
    w: &QuantWeights,
    epi: Epilogue,
    rows: &mut QuantRows,
    out: &mut [f32],
) {
    let (k, n) = (w.k, w.n);
    assert!(a.len() >= m * k && out.len() >= m * n);
    if let Some(r) = epi.residual {
        assert!(r.len() >= m * n);
    }
    assert!(runs_on(isa), "this CPU cannot run the {isa:?} int8 kernels");
    rows.k4 = w.k4;
    rows.unsigned = w.unsigned;
    rows.data.resize(m * w.k4, 0);
    rows.scale.resize(m, 0.0);
    rows.zero.resize(m, 0);
    match isa {
        Isa::Avx512 => {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `runs_on` checked the CPU's features; the sizes above
            // bound every access of the kernels.
            unsafe {
                vnni::quantize(a, m, k, rows);
                vnni::matmul(rows, m, w, epi, out)
            }
        }
        Isa::Avx2 => {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            unsafe {
                avx2::quantize(a, m, k, rows);
                avx2::matmul(rows, m, w, epi, out)
            }
        }
        _ => {
            quantize_scalar(a, m, k, rows);
            matmul_scalar(rows, m, w, epi, out)
        }
    }
}

/// A row's quantisation from its range `[lo, hi]` (`lo <= 0 <= hi`): the
/// factor its values are multiplied by, its scale and its zero point; a row
/// of zeros gets all 0. One division a row: rows can be as short as 16
/// channels, where a second one shows.
#[inline(always)]
fn row_params(lo: f32, hi: f32) -> (f32, f32, i32) {
    let span = hi - lo;
    if span > 0.0 {
        let inv = 255.0 / span;
        (inv, span * (1.0 / 255.0), ((-lo * inv).round_ties_even() as i32).clamp(0, 255))
    } else {
        (0.0, 0.0, 0)
    }
}

fn quantize_scalar(a: &[f32], m: usize, k: usize, rows: &mut QuantRows) {
    let k4 = rows.k4;
    for r in 0..m {
        let row = &a[r * k..][..k];
        let hi = row.iter().fold(0.0f32, |m, &v| m.max(v));
        let lo = if rows.unsigned { 0.0 } else { row.iter().fold(0.0f32, |m, &v| m.min(v)) };
        let (inv, scale, zero) = row_params(lo, hi);
        let q = &mut rows.data[r * k4..][..k4];
        for (d, v) in q.iter_mut().zip(row) {
            *d = ((v * inv).round_ties_even() as i32 + zero).clamp(0, 255) as u8;
        }
        // Padding meets zero weights: any value does.
        q[k..].fill(zero as u8);
        rows.scale[r] = scale;
        rows.zero[r] = zero;
    }
}

/// The value stored for one output: the one rounding every path shares.
/// `acc` already has the zero point's term taken off.
#[inline(always)]
fn finish(acc: i32, scale: f32, bias: f32, residual: f32, relu6: bool) -> f32 {
    let v = (acc as f32).mul_add(scale, bias) + residual;
    if relu6 { v.clamp(0.0, 6.0) } else { v }
}

fn matmul_scalar(rows: &QuantRows, m: usize, w: &QuantWeights, epi: Epilogue, out: &mut [f32]) {
    let (n, k4) = (w.n, w.k4);
    for r in 0..m {
        let q = &rows.data[r * k4..][..k4];
        for p in 0..n.div_ceil(NR) {
            let panel = &w.panels[p * k4 * NR..][..k4 * NR];
            let mut acc = [0i32; NR];
            for (kq, block) in panel.chunks_exact(NR * 4).enumerate() {
                for (j, c) in acc.iter_mut().enumerate() {
                    for t in 0..4 {
                        *c += q[kq * 4 + t] as i32 * block[j * 4 + t] as i32;
                    }
                }
            }
            for (j, &c) in acc.iter().enumerate().take(NR.min(n - p * NR)) {
                let col = p * NR + j;
                let idx = r * n + col;
                let res = epi.residual.map_or(0.0, |res| res[idx]);
                let scale = rows.scale[r] * w.scale[col];
                let acc = c - rows.zero[r] * w.sum[col];
                out[idx] = finish(acc, scale, w.bias[col], res, epi.relu6);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod vnni;

/// What an int8 tile reads beyond the shared operands (`matmul::Tile`):
/// its columns' weight scales and sums, its rows' scales and zero points.
#[cfg(target_arch = "x86_64")]
struct Scales {
    scale: *const f32,
    sum: *const i32,
    zero: *const i32,
    row_scale: *const f32,
}

#[cfg(target_arch = "x86_64")]
type QuantTile = crate::engine::model::matmul::Tile<u8, i8, Scales>;

#[cfg(target_arch = "x86_64")]
impl Scales {
    /// Those of the tile at rows `r0..` and panels `p..`.
    ///
    /// # Safety
    /// `r0` and `p` must lie inside the product `rows` and `w` were sized
    /// for (`matmul_int8_on` asserts it).
    #[inline(always)]
    unsafe fn at(rows: &QuantRows, w: &QuantWeights, r0: usize, p: usize) -> Scales {
        // SAFETY: per the contract above.
        unsafe {
            Scales {
                scale: w.scale.as_ptr().add(p * NR),
                sum: w.sum.as_ptr().add(p * NR),
                zero: rows.zero.as_ptr().add(r0),
                row_scale: rows.scale.as_ptr().add(r0),
            }
        }
    }
}

/// The operands of `rows x w` for `matmul::Tile::at`.
#[cfg(target_arch = "x86_64")]
fn product<'a>(
    rows: &'a QuantRows,
    w: &'a QuantWeights,
    epi: Epilogue<'a>,
) -> crate::engine::model::matmul::Product<'a, u8, i8> {
    crate::engine::model::matmul::Product { a: &rows.data, k: w.k4, panels: &w.panels, bias: &w.bias, n: w.n, epi }
}
