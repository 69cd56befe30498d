//! The whole MobileNetV2 on the GPU: against the golden logits of real
//! photos (`models/golden.py`, tolerance 1e-4 relative, as the CPU engine),
//! against the CPU engine on the same batch (features, logits, the semantic
//! mood, the mood head's feature term and the whole head on each engine's
//! outputs), and the engine's batching
//! contract.
//!
//! Without an adapter these tests skip; `PIXTAPE_REQUIRE_GPU=1` makes that a
//! failure (CI runs them on Mesa's lavapipe).

mod common;

use common::{Rng, golden, gpu, rel_err};
use pixtape::engine::model::gpu::GpuEngine;
use pixtape::engine::model::{self, CROP_BYTES, Engine, MobileNetV2, ModelOutput, NUM_CLASSES, cpu::CpuEngine};
use pixtape::engine::mood::head::MoodHead;

#[test]
fn gpu_engine_matches_golden_logits_and_the_cpu_engine() {
    let Some(gpu) = gpu() else { return };
    let net = MobileNetV2::embedded().unwrap();
    let engine = GpuEngine::new(gpu, &net, &MoodHead::embedded().unwrap().feature_projection(), 32).unwrap();
    let cases = golden();
    let crops: Vec<u8> = cases.iter().flat_map(|c| c.1.iter().copied()).collect();
    let n = cases.len();
    let mut out = ModelOutput::default();
    engine.forward(&crops, n, &mut out).unwrap();
    for (i, (name, _, want)) in cases.iter().enumerate() {
        let got = out.logits(i);
        let err = rel_err(got, want);
        println!("{name}: relative error {err:.2e} on {}", engine.describe());
        assert!(err <= 1e-4, "{name}: GPU logits differ from golden by {err:.2e} (tolerance 1e-4)");
        assert_eq!(model::top_k(got, 5), model::top_k(want, 5), "{name}: top-5 differs");
    }
    let cpu = CpuEngine::new(&net, &MoodHead::embedded().unwrap().feature_projection());
    let mut reference = ModelOutput::default();
    cpu.forward(&crops, n, &mut reference).unwrap();
    assert!(rel_err(&out.features, &reference.features) <= 1e-5, "pooled features differ");
    assert!(rel_err(&out.logits, &reference.logits) <= 1e-5, "logits differ");
    assert!(rel_err(&out.semantic, &reference.semantic) <= 1e-4, "semantic mood differs");
    let err = rel_err(&out.feature_term, &reference.feature_term);
    assert!(err <= 1e-4, "the mood head's feature term differs by {err:.2e}");
    // The whole head (its kernel term reads the pooled features) on each
    // engine's outputs: within 1e-4 on outputs in [-1, 1].
    let head = MoodHead::embedded().unwrap();
    let colour = pixtape::engine::colour::ColourFeatures { brightness: 0.4, contrast: 0.2, ..Default::default() };
    let cues = [0.2, 0.05, 0.5, 0.1, 0.3, 0.15, 0.03, 0.1, 0.05];
    for (i, case) in cases.iter().enumerate() {
        let prior = pixtape::engine::mood::image_mood_from(&reference.semantic(i), &colour);
        let g = head.outputs_from(out.feature_term(i), out.features(i), &colour, &cues, &[0.0; 9], &prior);
        let c = head.outputs_from(reference.feature_term(i), reference.features(i), &colour, &cues, &[0.0; 9], &prior);
        for (o, (a, b)) in g.iter().zip(c).enumerate() {
            assert!((a - b).abs() <= 1e-4, "{}: head output {o}: gpu {a}, cpu {b}", case.0);
        }
    }
}

#[test]
fn batches_in_flight_come_back_in_order_and_unchanged() {
    let Some(gpu) = gpu() else { return };
    let net = MobileNetV2::embedded().unwrap();
    let engine = GpuEngine::new(gpu, &net, &MoodHead::embedded().unwrap().feature_projection(), 32).unwrap();
    assert_eq!(engine.depth(), 2);
    let mut rng = Rng(31);
    // Batches of different sizes (the uniform blocks change between them),
    // two in flight at a time.
    let sizes = [3usize, 1, 2];
    let batches: Vec<Vec<u8>> = sizes.iter().map(|&n| rng.bytes(n * CROP_BYTES)).collect();
    let mut alone = Vec::new();
    for (b, &n) in batches.iter().zip(&sizes) {
        let mut out = ModelOutput::default();
        engine.forward(b, n, &mut out).unwrap();
        alone.push(out);
    }
    let mut pipelined = Vec::new();
    engine.start(&batches[0], sizes[0]).unwrap();
    for i in 1..sizes.len() {
        engine.start(&batches[i], sizes[i]).unwrap();
        let mut out = ModelOutput::default();
        engine.finish(&mut out).unwrap();
        pipelined.push(out);
    }
    let mut out = ModelOutput::default();
    engine.finish(&mut out).unwrap();
    pipelined.push(out);
    for (i, (a, p)) in alone.iter().zip(&pipelined).enumerate() {
        assert_eq!(p.n, sizes[i]);
        assert_eq!(a.logits, p.logits, "batch {i}: pipelined logits differ");
        assert_eq!(a.semantic, p.semantic, "batch {i}: pipelined semantic mood differs");
        assert_eq!(a.feature_term, p.feature_term, "batch {i}: pipelined feature term differs");
    }
    assert_eq!(pipelined[0].logits.len(), sizes[0] * NUM_CLASSES);
}

#[test]
fn oversized_batches_and_unbalanced_calls_are_errors_not_panics() {
    let Some(gpu) = gpu() else { return };
    let net = MobileNetV2::embedded().unwrap();
    let engine = GpuEngine::new(gpu, &net, &MoodHead::embedded().unwrap().feature_projection(), 32).unwrap();
    let max = engine.max_batch();
    assert!(max >= 1);
    let crops = vec![0u8; CROP_BYTES];
    let mut out = ModelOutput::default();
    assert!(engine.finish(&mut out).is_err(), "finish without start");
    assert!(engine.start(&crops, 0).is_err(), "empty batch");
    let big = vec![0u8; (max + 1) * CROP_BYTES];
    let err = engine.start(&big, max + 1).unwrap_err().to_string();
    assert!(err.contains(&format!("1 to {max}")), "{err}");
}
