//! MobileNetV2 on the CPU: the fast engine against the plain reference, and
//! both against golden logits computed by `models/golden.py` (numpy, float64,
//! straight from the original checkpoint with batch norm unfolded).

mod common;

use common::{Rng, golden, rel_err};
use pixtape::model::{self, FEATURE_DIM, INPUT_SIZE, MobileNetV2, NUM_CLASSES, cpu::CpuEngine, reference};

#[test]
fn fast_engine_matches_golden_logits() {
    let net = MobileNetV2::embedded().unwrap();
    let engine = CpuEngine::new(&net);
    let cases = golden();
    assert!(cases.len() >= 3, "golden file holds {} photos", cases.len());
    let crops: Vec<u8> = cases.iter().flat_map(|c| c.1.iter().copied()).collect();
    let n = cases.len();
    let mut features = vec![0.0; n * FEATURE_DIM];
    let mut logits = vec![0.0; n * NUM_CLASSES];
    engine.forward(&crops, n, &mut features, &mut logits);
    for (i, (name, _, want)) in cases.iter().enumerate() {
        let got = &logits[i * NUM_CLASSES..(i + 1) * NUM_CLASSES];
        let err = rel_err(got, want);
        println!("{name}: relative error {err:.2e}");
        assert!(err <= 1e-4, "{name}: logits differ from golden by {err:.2e} (tolerance 1e-4)");
        assert_eq!(model::top_k(got, 1), model::top_k(want, 1), "{name}: top-1 differs");
    }
}

#[test]
fn reference_matches_golden_logits() {
    let net = MobileNetV2::embedded().unwrap();
    let (name, crop, want) = golden().into_iter().next().unwrap();
    let mut chw = vec![0.0; 3 * INPUT_SIZE * INPUT_SIZE];
    model::normalize_chw(&crop, &mut chw);
    let (_, got) = reference::forward(&net, &chw);
    let err = rel_err(&got, &want);
    assert!(err <= 1e-4, "{name}: reference logits differ from golden by {err:.2e}");
}

#[test]
fn embedded_weights_hash_is_the_documented_one() {
    let readme = include_str!("../models/README.md");
    let line = readme.lines().find(|l| l.starts_with("| converted file")).unwrap();
    assert!(
        line.contains(model::weights_sha256()),
        "models/README.md records a different sha256 than the embedded weights ({})",
        model::weights_sha256()
    );
}

#[test]
fn reference_and_fast_engine_agree_on_random_input() {
    // Seeded noise exercises every channel and the zero padding at borders.
    let net = MobileNetV2::embedded().unwrap();
    let engine = CpuEngine::new(&net);
    let crop = Rng(0x9e3779b97f4a7c15).bytes(INPUT_SIZE * INPUT_SIZE * 3);
    let mut chw = vec![0.0; 3 * INPUT_SIZE * INPUT_SIZE];
    model::normalize_chw(&crop, &mut chw);
    let (ref_features, ref_logits) = reference::forward(&net, &chw);
    let mut features = vec![0.0; FEATURE_DIM];
    let mut logits = vec![0.0; NUM_CLASSES];
    engine.forward(&crop, 1, &mut features, &mut logits);
    assert!(rel_err(&features, &ref_features) <= 1e-4);
    assert!(rel_err(&logits, &ref_logits) <= 1e-4);
}

/// Seeded uniform values in [-1, 1); small seeds are spread over the
/// generator's state first.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    Rng(seed.wrapping_mul(0x9e3779b97f4a7c15) | 1).vec(n, 1.0)
}

#[test]
fn packed_matmul_matches_naive_product_on_awkward_shapes() {
    use pixtape::model::matmul::{Epilogue, PackedWeights, matmul};
    // Rows not a multiple of the 6-row block, columns not a multiple of the
    // 16-column panel, k of 1, and the largest classifier-like shape.
    for &(m, k, n) in &[(1, 1, 1), (5, 3, 17), (7, 27, 33), (13, 16, 24), (6, 160, 16), (3, 1280, 1000)] {
        let a = noise(m * k, 1);
        let w = noise(k * n, 2);
        let bias = noise(n, 3);
        let res = noise(m * n, 4);
        let packed = PackedWeights::new(k, n, &w, &bias);
        for (relu6, residual) in [(false, None), (true, None), (false, Some(&res[..]))] {
            let mut out = vec![f32::NAN; m * n];
            matmul(&a, m, &packed, Epilogue { relu6, residual }, &mut out);
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
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + k as f64).sqrt() * (1.0 + want.abs()),
                        "m={m} k={k} n={n} [{i},{j}]: {got} vs {want}"
                    );
                }
            }
        }
    }
}
