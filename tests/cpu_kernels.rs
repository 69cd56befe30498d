//! Each CPU kernel on every path this machine runs (`Isa::available`: the
//! plain loops always, AVX2+FMA and AVX-512 where the CPU has them), so the scalar path
//! that is the whole CPU engine on machines without AVX2 is checked here
//! too. Seeded random inputs, awkward shapes: one row, rows not a multiple
//! of the 6-row block, columns not a multiple of the 16-column panel or the
//! 8-lane register, odd channel counts, planes of side 1, 2, 3 and 7, both
//! strides, and windows of a few rows as the engine's bands use them.
//!
//! Tolerances: the matrix kernel, each element within
//! 1e-5 · sqrt(1 + k) · (1 + |want|) of the product in f64; the depthwise
//! kernel, max |got - want| / max |want| ≤ 1e-5 against
//! `model::reference::conv2d` (as `tests/gpu_kernels.rs`).

mod common;

use common::{Rng, random_conv, reference_conv, rel_err};
use pixtape::engine::isa::Isa;
use pixtape::engine::model::depthwise::{DepthwiseWeights, Window, depthwise_on};
use pixtape::engine::model::matmul::{Epilogue, PackedWeights, matmul_on};

const TOLERANCE: f32 = 1e-5;

#[test]
fn the_fastest_path_is_the_one_the_engine_takes() {
    let available = Isa::available();
    assert_eq!(available[0], Isa::Scalar);
    assert_eq!(available.last(), Some(&Isa::detect()));
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        available.contains(&Isa::Avx2),
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    );
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        available.contains(&Isa::Avx512),
        available.contains(&Isa::Avx2) && std::arch::is_x86_feature_detected!("avx512f")
    );
    println!("CPU kernel paths checked here: {available:?}");
}

#[test]
fn packed_matmul_matches_naive_product_on_every_path() {
    let mut rng = Rng(21);
    // (m, k, n): one row and one column; fewer columns than a panel; rows
    // not a multiple of 6 and columns not of 16; k of 1 and 3; exact
    // blocks; the stem's k of 27; the classifier's shape.
    let shapes = [
        (1, 1, 1),
        (1, 3, 5),
        (2, 1, 7),
        (5, 3, 17),
        (7, 27, 33),
        (12, 16, 32),
        (13, 16, 24),
        (6, 160, 16),
        (3, 1280, 1000),
    ];
    for (m, k, n) in shapes {
        let a = rng.vec(m * k, 2.0);
        let w = rng.vec(k * n, 0.5);
        let bias = rng.vec(n, 0.5);
        let res = rng.vec(m * n, 1.0);
        let packed = PackedWeights::new(k, n, &w, &bias);
        for isa in Isa::available() {
            for (relu6, residual) in [(false, None), (true, None), (false, Some(&res[..]))] {
                let mut out = vec![f32::NAN; m * n];
                matmul_on(isa, &a, m, &packed, Epilogue { relu6, residual }, &mut out);
                // The vector paths sum each output in the same order.
                if isa == Isa::Avx512 {
                    let mut avx2 = vec![f32::NAN; m * n];
                    matmul_on(Isa::Avx2, &a, m, &packed, Epilogue { relu6, residual }, &mut avx2);
                    assert!(out.iter().zip(&avx2).all(|(x, y)| x == y), "AVX-512 and AVX2 differ: m={m} k={k} n={n}");
                }
                for i in 0..m {
                    for j in 0..n {
                        let mut want = bias[j] as f64 + residual.map_or(0.0, |r| r[i * n + j] as f64);
                        for kk in 0..k {
                            want += a[i * k + kk] as f64 * w[kk * n + j] as f64;
                        }
                        if relu6 {
                            want = want.clamp(0.0, 6.0);
                        }
                        let got = out[i * n + j] as f64;
                        let tolerance = TOLERANCE as f64 * (1.0 + k as f64).sqrt() * (1.0 + want.abs());
                        assert!(
                            (got - want).abs() <= tolerance,
                            "{isa:?} m={m} k={k} n={n} relu6={relu6} residual={} [{i},{j}]: {got} vs {want}",
                            residual.is_some()
                        );
                    }
                }
            }
        }
    }
}

/// Output rows `[oy0, oy1)` of one plane through a window holding only the
/// input rows they need, as the engine's bands call the kernel.
fn band(isa: Isa, x: &[f32], side: usize, d: &DepthwiseWeights, oy0: usize, oy1: usize) -> Vec<f32> {
    let (s, c) = (d.stride, d.channels);
    let out_side = side.div_ceil(s);
    let need_lo = (oy0 * s).saturating_sub(1);
    let need_hi = ((oy1 - 1) * s + 2).min(side);
    let window =
        Window { rows: &x[need_lo * side * c..need_hi * side * c], first_row: need_lo, side, out_rows: (oy0, oy1) };
    let mut out = vec![f32::NAN; (oy1 - oy0) * out_side * c];
    depthwise_on(isa, &window, d, &mut out);
    out
}

#[test]
fn depthwise_matches_reference_on_every_path() {
    let mut rng = Rng(22);
    // Channels: odd ones and fewer than a register (the plain loop on every
    // path), 8 (the AVX2 tail alone), 40 (one 32-channel block and a tail),
    // 96 (blocks only).
    for side in [1usize, 2, 3, 7, 15] {
        for channels in [1usize, 3, 5, 8, 40, 96] {
            for stride in [1usize, 2] {
                let c = random_conv(&mut rng, channels, channels, 3, stride, true);
                let x = rng.vec(side * side * channels, 3.0);
                let want = reference_conv(&x, 1, side, &c, true);
                let d = DepthwiseWeights::new(&c);
                let out_side = side.div_ceil(stride);
                let row = out_side * channels;
                for isa in Isa::available() {
                    // The whole plane in one window, then bands of one and
                    // two output rows, each window as narrow as it can be.
                    for rows in [out_side, 1, 2] {
                        let mut got = Vec::with_capacity(want.len());
                        for oy0 in (0..out_side).step_by(rows) {
                            got.extend(band(isa, &x, side, &d, oy0, (oy0 + rows).min(out_side)));
                        }
                        let what =
                            format!("{isa:?} side {side}, {channels} channels, stride {stride}, bands of {rows}");
                        assert!(got.iter().all(|v| v.is_finite()), "{what}: an output was not written");
                        let err = rel_err(&got, &want);
                        assert!(err <= TOLERANCE, "{what}: relative error {err:.2e}");
                        assert_eq!(got.len(), out_side * row);
                    }
                }
            }
        }
    }
}
