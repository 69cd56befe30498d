//! Matrix product for 1x1 convolutions: `out = act(A W + bias (+ residual))`.
//!
//! A general GEMM library packs both operands on every call and applies bias
//! and activation in extra passes over the output. Here the weights are
//! constant, so they are packed once at load time into 16-column panels, the
//! activations `A` are read in place (rows of one image stay in cache), and
//! bias, residual and ReLU6 are applied in registers before the single store.
//! On x86-64 with AVX2+FMA a 6x16 register-blocked kernel does the work, and
//! with AVX-512F an 8x32 one (a 16-column panel is one register); both sum
//! each output in the same order from its bias, so they agree bit for bit. A
//! plain loop over the same layout serves every other CPU, and is the whole
//! path there. `tests/cpu_kernels.rs` checks both against a naive product.

use crate::engine::isa::Isa;

/// Columns per packed panel (two AVX registers).
const NR: usize = 16;
/// Rows per register block.
const MR: usize = 6;
/// Packed weights of one panel chunk should stay in L2 across a row block.
const L2_PANEL_BYTES: usize = 192 * 1024;

/// Weights `[k x n]` packed as `ceil(n/16)` panels of `[k x 16]`, zero padded.
pub struct PackedWeights {
    pub k: usize,
    pub n: usize,
    panels: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedWeights {
    /// `w` is row-major `[k x n]`.
    pub fn new(k: usize, n: usize, w: &[f32], bias: &[f32]) -> Self {
        assert_eq!(w.len(), k * n);
        assert_eq!(bias.len(), n);
        let np = n.div_ceil(NR);
        let mut panels = vec![0.0; np * k * NR];
        for p in 0..np {
            for kk in 0..k {
                for j in 0..NR.min(n - p * NR) {
                    panels[(p * k + kk) * NR + j] = w[kk * n + p * NR + j];
                }
            }
        }
        let mut padded = vec![0.0; np * NR];
        padded[..n].copy_from_slice(bias);
        PackedWeights { k, n, panels, bias: padded }
    }
}

/// What happens to a result before it is stored.
#[derive(Clone, Copy)]
pub struct Epilogue<'a> {
    pub relu6: bool,
    /// Added after the bias; same shape as the output.
    pub residual: Option<&'a [f32]>,
}

/// `out[m x n] = epilogue(a[m x k] * w + bias)`, all row-major, on the
/// fastest path this CPU has.
pub fn matmul(a: &[f32], m: usize, w: &PackedWeights, epi: Epilogue, out: &mut [f32]) {
    matmul_on(Isa::detect(), a, m, w, epi, out)
}

/// The same product on a named path. Panics if the CPU lacks `isa`.
pub fn matmul_on(isa: Isa, a: &[f32], m: usize, w: &PackedWeights, epi: Epilogue, out: &mut [f32]) {
    let (k, n) = (w.k, w.n);
    assert!(a.len() >= m * k && out.len() >= m * n);
    if let Some(r) = epi.residual {
        assert!(r.len() >= m * n);
    }
    assert!(isa.supported(), "this CPU cannot run the {isa:?} kernels");
    match isa {
        Isa::Scalar => matmul_scalar(a, m, w, epi, out),
        Isa::Avx512 => {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX-512F and the asserts above bound every
            // access of the kernel.
            unsafe {
                avx512::matmul(a, m, w, epi, out)
            };
        }
        Isa::Avx2 => {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX2+FMA and the asserts above bound every
            // access of the kernel.
            unsafe {
                avx2::matmul(a, m, w, epi, out)
            };
        }
    }
}

/// Plain loop over the same packed layout (any CPU).
fn matmul_scalar(a: &[f32], m: usize, w: &PackedWeights, epi: Epilogue, out: &mut [f32]) {
    let (k, n) = (w.k, w.n);
    let mut acc = [0.0f32; NR];
    for r in 0..m {
        for p in 0..n.div_ceil(NR) {
            acc.copy_from_slice(&w.bias[p * NR..][..NR]);
            let panel = &w.panels[p * k * NR..][..k * NR];
            for (kk, wrow) in panel.chunks_exact(NR).enumerate() {
                let x = a[r * k + kk];
                for (c, wv) in acc.iter_mut().zip(wrow) {
                    *c += x * wv;
                }
            }
            let cols = NR.min(n - p * NR);
            for (j, a) in acc.iter().enumerate().take(cols) {
                let idx = r * n + p * NR + j;
                let mut v = a + epi.residual.map_or(0.0, |res| res[idx]);
                if epi.relu6 {
                    v = v.clamp(0.0, 6.0);
                }
                out[idx] = v;
            }
        }
    }
}

/// Walks the register tiles of an `m`-row product over panels `panels`:
/// `mr` rows at a time, two panels at a time while two are left. `tile(r0,
/// rows, p, pair)` computes rows `r0..r0 + rows` of panel `p` (and `p + 1`
/// when `pair`). The AVX-512 f32, int8 and bf16 kernels share the walk.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn for_each_tile(
    m: usize,
    mr: usize,
    panels: std::ops::Range<usize>,
    mut tile: impl FnMut(usize, usize, usize, bool),
) {
    let mut r0 = 0;
    while r0 < m {
        let rows = mr.min(m - r0);
        let mut p = panels.start;
        while p < panels.end {
            let pair = panels.end - p >= 2;
            tile(r0, rows, p, pair);
            p += if pair { 2 } else { 1 };
        }
        r0 += mr;
    }
}

/// What one register tile of a packed product reads and writes: rows `r0..`
/// of activations `a` (`k` elements a row, `A` an f32, a bf16 or a byte)
/// against the weight panels from `p` on (`k x 16` elements of `W` each),
/// into `out` (`ldo` a row) plus the residual, if any, at the same place.
/// `X` is what a kernel needs beyond that (int8's scales). The f32, bf16 and
/// int8 kernels share it so the pointer arithmetic lives in one place.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Tile<A, W, X = ()> {
    pub a: *const A,
    pub k: usize,
    pub panel: *const W,
    pub bias: *const f32,
    pub out: *mut f32,
    pub res: *const f32,
    pub ldo: usize,
    /// Valid columns of the tile's panels.
    pub cols: usize,
    pub relu6: bool,
    pub extra: X,
}

/// The operands of a packed product `out[m x n] = a[m x k] w + bias`, from
/// which `Tile::at` cuts each tile.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Product<'a, A, W> {
    pub a: &'a [A],
    pub k: usize,
    pub panels: &'a [W],
    pub bias: &'a [f32],
    pub n: usize,
    pub epi: Epilogue<'a>,
}

#[cfg(target_arch = "x86_64")]
impl<A, W, X> Tile<A, W, X> {
    /// The tile at rows `r0..` and panels `p..`, `cols` columns wide at most.
    ///
    /// # Safety
    /// `r0` and `p` must lie inside the product, and `out` be `m x n`, as
    /// the kernel's caller asserted.
    #[inline(always)]
    pub(crate) unsafe fn at(pr: &Product<A, W>, out: &mut [f32], r0: usize, p: usize, cols: usize, extra: X) -> Self {
        let (k, n) = (pr.k, pr.n);
        // SAFETY: per the contract above.
        unsafe {
            Tile {
                a: pr.a.as_ptr().add(r0 * k),
                k,
                panel: pr.panels.as_ptr().add(p * k * NR),
                bias: pr.bias.as_ptr().add(p * NR),
                out: out.as_mut_ptr().add(r0 * n + p * NR),
                res: pr.epi.residual.map_or(std::ptr::null(), |r| r.as_ptr().add(r0 * n + p * NR)),
                ldo: n,
                cols: (n - p * NR).min(cols),
                relu6: pr.epi.relu6,
                extra,
            }
        }
    }
}

/// Runs `$tile::<ROWS, PANELS>($t)`, the tile kernel unrolled for `$rows`
/// rows (1 to 8) and one panel, or two when `$pair`: the AVX-512 f32, int8
/// and bf16 kernels all tile up to 8 rows by one or two panels.
#[cfg(target_arch = "x86_64")]
macro_rules! dispatch_tile {
    ($tile:ident, $t:expr, $rows:expr, $pair:expr) => {
        match ($rows, $pair) {
            (8, true) => $tile::<8, 2>($t),
            (7, true) => $tile::<7, 2>($t),
            (6, true) => $tile::<6, 2>($t),
            (5, true) => $tile::<5, 2>($t),
            (4, true) => $tile::<4, 2>($t),
            (3, true) => $tile::<3, 2>($t),
            (2, true) => $tile::<2, 2>($t),
            (_, true) => $tile::<1, 2>($t),
            (8, false) => $tile::<8, 1>($t),
            (7, false) => $tile::<7, 1>($t),
            (6, false) => $tile::<6, 1>($t),
            (5, false) => $tile::<5, 1>($t),
            (4, false) => $tile::<4, 1>($t),
            (3, false) => $tile::<3, 1>($t),
            (2, false) => $tile::<2, 1>($t),
            (_, false) => $tile::<1, 1>($t),
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use dispatch_tile;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Epilogue, L2_PANEL_BYTES, MR, NR, PackedWeights, Product, Tile};

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn matmul(a: &[f32], m: usize, w: &PackedWeights, epi: Epilogue, out: &mut [f32]) {
        let (k, n) = (w.k, w.n);
        let np = n.div_ceil(NR);
        // Chunk the panels so the chunk's weights stay in L2 while every row
        // block streams past them.
        let chunk = (L2_PANEL_BYTES / (k * NR * 4)).clamp(1, np);
        let pr = Product { a, k, panels: &w.panels, bias: &w.bias, n, epi };
        let mut p0 = 0;
        while p0 < np {
            let p1 = (p0 + chunk).min(np);
            let mut r0 = 0;
            while r0 < m {
                let rows = MR.min(m - r0);
                for p in p0..p1 {
                    // SAFETY: rows/cols stay inside the bounds the caller asserted.
                    unsafe {
                        let args = Tile::at(&pr, out, r0, p, NR, ());
                        match rows {
                            6 => tile::<6>(&args),
                            5 => tile::<5>(&args),
                            4 => tile::<4>(&args),
                            3 => tile::<3>(&args),
                            2 => tile::<2>(&args),
                            _ => tile::<1>(&args),
                        }
                    }
                }
                r0 += MR;
            }
            p0 = p1;
        }
    }

    /// `R` rows x 16 columns, accumulated over all of `k` in registers.
    #[inline(always)]
    unsafe fn tile<const R: usize>(t: &Tile<f32, f32>) {
        unsafe {
            let b0 = _mm256_loadu_ps(t.bias);
            let b1 = _mm256_loadu_ps(t.bias.add(8));
            let mut c0 = [b0; R];
            let mut c1 = [b1; R];
            let mut wp = t.panel;
            for kk in 0..t.k {
                let w0 = _mm256_loadu_ps(wp);
                let w1 = _mm256_loadu_ps(wp.add(8));
                for r in 0..R {
                    let x = _mm256_broadcast_ss(&*t.a.add(r * t.k + kk));
                    c0[r] = _mm256_fmadd_ps(x, w0, c0[r]);
                    c1[r] = _mm256_fmadd_ps(x, w1, c1[r]);
                }
                wp = wp.add(NR);
            }
            let zero = _mm256_setzero_ps();
            let six = _mm256_set1_ps(6.0);
            for r in 0..R {
                let o = t.out.add(r * t.ldo);
                let mut v0 = c0[r];
                let mut v1 = c1[r];
                if t.cols == NR {
                    if !t.res.is_null() {
                        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(t.res.add(r * t.ldo)));
                        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(t.res.add(r * t.ldo + 8)));
                    }
                    if t.relu6 {
                        v0 = _mm256_min_ps(_mm256_max_ps(v0, zero), six);
                        v1 = _mm256_min_ps(_mm256_max_ps(v1, zero), six);
                    }
                    _mm256_storeu_ps(o, v0);
                    _mm256_storeu_ps(o.add(8), v1);
                } else {
                    // Partial panel at the right edge: finish through memory.
                    let mut buf = [0.0f32; NR];
                    _mm256_storeu_ps(buf.as_mut_ptr(), v0);
                    _mm256_storeu_ps(buf.as_mut_ptr().add(8), v1);
                    for (j, v) in buf.iter().enumerate().take(t.cols) {
                        let mut v = *v;
                        if !t.res.is_null() {
                            v += *t.res.add(r * t.ldo + j);
                        }
                        if t.relu6 {
                            v = v.clamp(0.0, 6.0);
                        }
                        *o.add(j) = v;
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Epilogue, L2_PANEL_BYTES, NR, PackedWeights, Product, Tile};

    /// Rows per register block: 8 rows x 2 panels = 16 accumulators.
    const MR: usize = 8;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn matmul(a: &[f32], m: usize, w: &PackedWeights, epi: Epilogue, out: &mut [f32]) {
        let (k, n) = (w.k, w.n);
        let np = n.div_ceil(NR);
        let chunk = (L2_PANEL_BYTES / (k * NR * 4)).clamp(1, np);
        let pr = Product { a, k, panels: &w.panels, bias: &w.bias, n, epi };
        let mut p0 = 0;
        while p0 < np {
            let p1 = (p0 + chunk).min(np);
            super::for_each_tile(m, MR, p0..p1, |r0, rows, p, pair| {
                // SAFETY: rows/cols stay inside the bounds the caller asserted.
                unsafe {
                    let t = Tile::at(&pr, out, r0, p, if pair { 2 * NR } else { NR }, ());
                    dispatch_tile!(tile, &t, rows, pair);
                }
            });
            p0 = p1;
        }
    }

    /// `R` rows x `C` panels, accumulated over all of `k` in registers.
    /// Indexed loops: each index picks registers in two arrays at once.
    #[allow(clippy::needless_range_loop)]
    #[inline(always)]
    unsafe fn tile<const R: usize, const C: usize>(t: &Tile<f32, f32>) {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); R]; C];
            for c in 0..C {
                acc[c] = [_mm512_loadu_ps(t.bias.add(c * NR)); R];
            }
            let panel_len = t.k * NR;
            for kk in 0..t.k {
                let mut wv = [_mm512_setzero_ps(); C];
                for (c, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(t.panel.add(c * panel_len + kk * NR));
                }
                for r in 0..R {
                    let x = _mm512_set1_ps(*t.a.add(r * t.k + kk));
                    for c in 0..C {
                        acc[c][r] = _mm512_fmadd_ps(x, wv[c], acc[c][r]);
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
