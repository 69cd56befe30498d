//! The CPU engine's int8 path (`model::quant`): the kernel on every path
//! this machine runs against the plain one, bit for bit; the plain one
//! against the exact product, within the error quantisation allows; and the
//! int8 engine against the golden logits of `models/golden.py`.
//!
//! The bound for one output: with activations `a ≈ s_r (q - z)` (error at
//! most `s_r / 2`, `s_r` the row's range over 255) and weights `w ≈ s_j q_w`
//! (error at most `s_j / 2`, `s_j` the column's largest magnitude over 127),
//! `|sum a w - sum â ŵ| <= sum_k |a_k| s_j / 2 + (|w_k| + s_j / 2) s_r / 2`,
//! plus f32 rounding (1e-5 of the magnitudes). The clamp of ReLU6 only
//! shrinks it.

mod common;

use common::Rng;
use pixtape::engine::isa::Isa;
use pixtape::engine::model::matmul::Epilogue;
use pixtape::engine::model::precision::Precision;
use pixtape::engine::model::quant::{QuantRows, QuantWeights, fastest, matmul_int8_on, runs_on};

/// (m, k, n): one row and one column; fewer columns than a panel; rows not
/// a multiple of the 8-row block, columns not of 16 or 32, `k` not of 4 or
/// 16; an odd panel count; MobileNetV2's shapes (k 16 and 24 expansions,
/// a 960 to 160 projection, the last convolution).
const SHAPES: [(usize, usize, usize); 10] = [
    (1, 1, 1),
    (1, 3, 5),
    (2, 5, 7),
    (9, 7, 17),
    (7, 27, 33),
    (17, 16, 96),
    (13, 24, 144),
    (8, 64, 48),
    (11, 960, 160),
    (3, 320, 1280),
];

fn inputs(rng: &mut Rng, m: usize, k: usize, n: usize, unsigned: bool) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut a = rng.vec(m * k, 3.0);
    if unsigned {
        a.iter_mut().for_each(|v| *v = v.abs().min(6.0));
    }
    // Rows of very different magnitude, as pixels of a bottleneck are, and
    // one row of zeros.
    for r in 0..m {
        let f = [1.0, 0.01, 20.0, 0.0][r % 4];
        a[r * k..(r + 1) * k].iter_mut().for_each(|v| *v *= f);
    }
    (a, rng.vec(k * n, 0.5), rng.vec(n, 0.5), rng.vec(m * n, 1.0))
}

#[test]
fn the_int8_paths_are_the_ones_the_engine_takes() {
    assert!(runs_on(Isa::Scalar));
    assert_eq!(runs_on(Isa::Avx2), Isa::Avx2.supported());
    #[cfg(target_arch = "x86_64")]
    {
        let vnni = std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && Isa::Avx512.supported();
        assert_eq!(runs_on(Isa::Avx512), vnni);
        assert_eq!(fastest() == Isa::Avx512, vnni);
        let fast = vnni || Isa::Avx2.supported();
        assert_eq!(Precision::auto() == Precision::Int8, fast, "auto takes int8 exactly where a fast int8 path runs");
    }
    println!("int8 paths checked here: {:?}", Isa::available().into_iter().filter(|i| runs_on(*i)).collect::<Vec<_>>());
}

#[test]
fn int8_paths_equal_the_plain_one_bit_for_bit() {
    let mut rng = Rng(31);
    for (m, k, n) in SHAPES {
        for unsigned in [false, true] {
            let (a, w, bias, res) = inputs(&mut rng, m, k, n, unsigned);
            let q = QuantWeights::new(k, n, &w, &bias, unsigned);
            for (relu6, residual) in [(false, None), (true, None), (false, Some(&res[..]))] {
                let epi = Epilogue { relu6, residual };
                let mut want = vec![f32::NAN; m * n];
                matmul_int8_on(Isa::Scalar, &a, m, &q, epi, &mut QuantRows::default(), &mut want);
                for isa in Isa::available().into_iter().filter(|i| runs_on(*i)) {
                    let mut got = vec![f32::NAN; m * n];
                    matmul_int8_on(isa, &a, m, &q, epi, &mut QuantRows::default(), &mut got);
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            g == w,
                            "{isa:?} m={m} k={k} n={n} unsigned={unsigned} relu6={relu6} [{i}]: {g} vs plain {w}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn int8_product_is_within_the_quantisation_bound() {
    let mut rng = Rng(32);
    for (m, k, n) in SHAPES {
        for unsigned in [false, true] {
            let (a, w, bias, res) = inputs(&mut rng, m, k, n, unsigned);
            let q = QuantWeights::new(k, n, &w, &bias, unsigned);
            let col_scale: Vec<f64> =
                (0..n).map(|j| (0..k).map(|kk| w[kk * n + j].abs()).fold(0.0f32, f32::max) as f64 / 127.0).collect();
            for (relu6, residual) in [(false, None), (true, Some(&res[..]))] {
                let mut got = vec![f32::NAN; m * n];
                let mut rows = QuantRows::default();
                matmul_int8_on(fastest(), &a, m, &q, Epilogue { relu6, residual }, &mut rows, &mut got);
                for i in 0..m {
                    let row = &a[i * k..(i + 1) * k];
                    let hi = row.iter().fold(0.0f32, |x, &v| x.max(v)) as f64;
                    let lo = if unsigned { 0.0 } else { row.iter().fold(0.0f32, |x, &v| x.min(v)) as f64 };
                    let s_r = (hi - lo) / 255.0;
                    for j in 0..n {
                        let (mut want, mut bound, mut size) = (bias[j] as f64, 0.0f64, bias[j].abs() as f64);
                        want += residual.map_or(0.0, |r| r[i * n + j] as f64);
                        for kk in 0..k {
                            let (x, y) = (row[kk] as f64, w[kk * n + j] as f64);
                            want += x * y;
                            size += (x * y).abs();
                            bound += x.abs() * col_scale[j] / 2.0 + (y.abs() + col_scale[j] / 2.0) * s_r / 2.0;
                        }
                        if relu6 {
                            want = want.clamp(0.0, 6.0);
                        }
                        let bound = bound * 1.001 + 1e-5 * (1.0 + size + want.abs());
                        let got = got[i * n + j] as f64;
                        assert!(
                            (got - want).abs() <= bound,
                            "m={m} k={k} n={n} unsigned={unsigned} relu6={relu6} [{i},{j}]: {got} vs {want} (bound {bound:.3e})"
                        );
                    }
                }
            }
        }
    }
}

/// Logits relative error allowed the int8 engine against the golden logits:
/// measured 1.2e-2 to 4.0e-2 on the ten golden photos; f32 is held to 1e-4.
const INT8_LOGIT_TOLERANCE: f32 = 0.08;

#[test]
fn int8_engine_keeps_golden_top1_and_stays_near_golden_logits() {
    common::engine_keeps_golden(Precision::Int8, INT8_LOGIT_TOLERANCE);
}
