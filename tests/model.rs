//! MobileNetV2 on the CPU: the fast engine against the plain reference, and
//! both against golden logits computed by `models/golden.py` (numpy, float64,
//! straight from the original checkpoint with batch norm unfolded). The CPU
//! kernels one by one, on every path this CPU has: `tests/cpu_kernels.rs`.

mod common;

use common::{Rng, golden, rel_err};
use pixtape::engine::model::precision::Precision;
use pixtape::engine::model::{
    self, CROP_BYTES, FEATURE_DIM, INPUT_SIZE, MobileNetV2, NUM_CLASSES, cpu::CpuEngine, reference,
};

#[test]
fn fast_engine_matches_golden_logits() {
    assert!(golden().len() >= 3, "golden file holds {} photos", golden().len());
    // `CpuEngine::new` is this engine at f32.
    common::engine_keeps_golden(Precision::F32, 1e-4);
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
    assert_eq!(model::embedded_weights_sha256(), model::weights_sha256(), "the weights changed: update weights_sha256");
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
    let engine = CpuEngine::new(&net, &pixtape::engine::mood::head::MoodHead::embedded().unwrap().feature_projection());
    let crop = Rng(0x9e3779b97f4a7c15).bytes(CROP_BYTES);
    let mut chw = vec![0.0; 3 * INPUT_SIZE * INPUT_SIZE];
    model::normalize_chw(&crop, &mut chw);
    let (ref_features, ref_logits) = reference::forward(&net, &chw);
    let mut features = vec![0.0; FEATURE_DIM];
    let mut logits = vec![0.0; NUM_CLASSES];
    engine.forward_batch(&crop, 1, &mut features, &mut logits);
    assert!(rel_err(&features, &ref_features) <= 1e-4);
    assert!(rel_err(&logits, &ref_logits) <= 1e-4);
}
