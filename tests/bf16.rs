//! The CPU engine's bf16 path (`model::bf16`): rounding, the kernel on every
//! path this machine runs against the plain one, the plain one against the
//! exact product, and the bf16 engine against the golden logits of
//! `models/golden.py`.
//!
//! Bounds: against the exact product of the values as rounded to bf16, f32
//! summation, `1e-6 * (k + 1) * sum |terms|`; against the exact product of
//! the f32 inputs, each factor's rounding adds at most 2^-9 of it, so
//! `(2^-8 + 2^-18) * sum |a w|` more.

mod common;

use common::{Rng, rel_err};
use pixtape::engine::isa::Isa;
use pixtape::engine::model::bf16::{Bf16Weights, fastest, from_bf16, matmul_bf16_on, runs_on, to_bf16};
use pixtape::engine::model::matmul::Epilogue;
use pixtape::engine::model::precision::Precision;

const SHAPES: [(usize, usize, usize); 9] = [
    (1, 1, 1),
    (1, 3, 5),
    (2, 5, 7),
    (9, 7, 17),
    (7, 27, 33),
    (17, 16, 96),
    (13, 24, 144),
    (11, 960, 160),
    (3, 320, 1280),
];

#[test]
fn rounds_to_nearest_even() {
    assert_eq!(to_bf16(1.0), 0x3f80);
    // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: to the even one, 1.
    assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
    // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: to 1 + 2^-6.
    assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
    assert_eq!(to_bf16(-2.5), 0xc020);
    assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
    assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
    let mut rng = Rng(40);
    for v in rng.vec(10_000, 100.0) {
        let r = from_bf16(to_bf16(v));
        assert!((r - v).abs() <= v.abs() / 256.0, "{v} rounded to {r}");
    }
}

#[test]
fn bf16_paths_match_the_plain_one_and_the_exact_product() {
    let mut rng = Rng(41);
    let paths: Vec<Isa> = Isa::available().into_iter().filter(|i| runs_on(*i)).collect();
    println!("bf16 paths checked here: {paths:?}");
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        paths.contains(&Isa::Avx512),
        Isa::Avx512.supported() && std::arch::is_x86_feature_detected!("avx512bf16")
    );
    for (m, k, n) in SHAPES {
        let a = rng.vec(m * k, 3.0);
        let w = rng.vec(k * n, 0.5);
        let bias = rng.vec(n, 0.5);
        let res = rng.vec(m * n, 1.0);
        let packed = Bf16Weights::new(k, n, &w, &bias);
        for (relu6, residual) in [(false, None), (true, None), (false, Some(&res[..]))] {
            let epi = Epilogue { relu6, residual };
            let mut plain = vec![f32::NAN; m * n];
            matmul_bf16_on(Isa::Scalar, &a, m, &packed, epi, &mut Vec::new(), &mut plain);
            for i in 0..m {
                for j in 0..n {
                    let (mut rounded, mut exact, mut size) = (bias[j] as f64, bias[j] as f64, bias[j].abs() as f64);
                    for kk in 0..k {
                        let (x, y) = (a[i * k + kk], w[kk * n + j]);
                        rounded += from_bf16(to_bf16(x)) as f64 * from_bf16(to_bf16(y)) as f64;
                        exact += x as f64 * y as f64;
                        size += (x as f64 * y as f64).abs();
                    }
                    let r = residual.map_or(0.0, |r| r[i * n + j] as f64);
                    let (mut rounded, mut exact) = (rounded + r, exact + r);
                    if relu6 {
                        rounded = rounded.clamp(0.0, 6.0);
                        exact = exact.clamp(0.0, 6.0);
                    }
                    let sum_bound = 1e-6 * (k as f64 + 1.0) * (size + r.abs());
                    let got = plain[i * n + j] as f64;
                    let what = format!("m={m} k={k} n={n} relu6={relu6} [{i},{j}]");
                    assert!((got - rounded).abs() <= sum_bound, "{what}: {got} vs {rounded} of the rounded values");
                    let bound = sum_bound + (1.0 / 256.0 + 1.0 / 262_144.0) * size;
                    assert!((got - exact).abs() <= bound, "{what}: {got} vs exact {exact}");
                }
            }
            for &isa in &paths {
                let mut got = vec![f32::NAN; m * n];
                matmul_bf16_on(isa, &a, m, &packed, epi, &mut Vec::new(), &mut got);
                let err = rel_err(&got, &plain);
                assert!(err <= 1e-6, "{isa:?} m={m} k={k} n={n} relu6={relu6}: {err:.2e} from the plain path");
            }
        }
    }
    assert!(runs_on(fastest()));
}

/// Logits relative error allowed the bf16 engine against the golden logits.
const BF16_LOGIT_TOLERANCE: f32 = 0.05;

#[test]
fn bf16_engine_keeps_golden_top1_and_stays_near_golden_logits() {
    common::engine_keeps_golden(Precision::Bf16, BF16_LOGIT_TOLERANCE);
}
