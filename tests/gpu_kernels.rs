//! Each MobileNetV2 kernel on the GPU against the plain CPU reference
//! (`model::reference`, `mood::semantic`, `MoodHead::feature_term`), on seeded random inputs and
//! awkward shapes: smaller than a workgroup or a tile, not a multiple of the
//! tile, a batch of one. Tolerance: max |gpu - cpu| / max |cpu| ≤ 1e-5 (both
//! compute in f32; only the order of the sums differs).
//!
//! Without an adapter these tests skip; `PIXTAPE_REQUIRE_GPU=1` makes that a
//! failure (CI runs them on Mesa's lavapipe).

mod common;

use common::{Rng, gpu, random_conv, reference_conv, rel_err};
use pixtape::engine::model::FEATURE_DIM;
use pixtape::engine::model::gpu::{Fused, Kernels};
use pixtape::engine::model::reference::{self, nhwc_to_chw};
use pixtape::engine::model::{
    CROP_BYTES, INPUT_SIZE, MEAN, NUM_CLASSES, STD, depthwise_weights, matmul_weights, softmax, stem_weights,
};
use pixtape::engine::mood;
use pixtape::engine::mood::head::MoodHead;

const TOLERANCE: f32 = 1e-5;

#[test]
fn stem_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(gpu).unwrap();
    let mut rng = Rng(11);
    let stem = random_conv(&mut rng, 3, 32, 3, 2, false);
    for images in [1usize, 3] {
        let crops = rng.bytes(images * CROP_BYTES);
        let got = kernels.run_stem(gpu, &crops, images, &stem_weights(&stem), &stem.bias).unwrap();
        // Reference input: the crops normalised, in NHWC.
        let x: Vec<f32> =
            crops.iter().enumerate().map(|(i, &v)| (v as f32 / 255.0 - MEAN[i % 3]) / STD[i % 3]).collect();
        let want = reference_conv(&x, images, INPUT_SIZE, &stem, true);
        let err = rel_err(&got, &want);
        assert!(err <= TOLERANCE, "stem, {images} images: relative error {err:.2e}");
    }
}

#[test]
fn pointwise_matches_reference_on_awkward_shapes() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(gpu).unwrap();
    let mut rng = Rng(12);
    // (pixels, in, out): one pixel; smaller than a tile; not multiples of
    // the 64x64 tile or the K step of 16; the classifier's shape.
    for (m, k, n) in [(1, 4, 4), (5, 8, 12), (63, 20, 68), (130, 24, 144), (7, 1280, 1000), (4100, 96, 24)] {
        for fused in [Fused::None, Fused::Relu6, Fused::Residual] {
            let c = random_conv(&mut rng, k, n, 1, 1, false);
            let x = rng.vec(m * k, 2.0);
            let residual = rng.vec(m * n, 1.0);
            let got =
                kernels.run_matmul(gpu, &x, m, &matmul_weights(&c.weight, n), &c.bias, fused, Some(&residual)).unwrap();
            // m pixels as one image of 1 x m; reference::conv2d wants a square
            // side, so run it pixel by pixel as 1x1 images.
            let mut want = reference_conv(&x, m, 1, &c, fused == Fused::Relu6);
            if fused == Fused::Residual {
                want.iter_mut().zip(&residual).for_each(|(w, r)| *w += r);
            }
            let err = rel_err(&got, &want);
            assert!(err <= TOLERANCE, "pointwise {m}x{k}x{n} {fused:?}: relative error {err:.2e}");
        }
    }
}

#[test]
fn depthwise_matches_reference_on_awkward_shapes() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(gpu).unwrap();
    let mut rng = Rng(13);
    // (images, side, channels, stride): a single pixel; odd sides with
    // stride 2; fewer invocations than a workgroup; MobileNetV2's first block.
    for (images, side, channels, stride) in
        [(1, 1, 4, 1), (2, 5, 8, 2), (3, 7, 12, 1), (1, 15, 96, 2), (2, 2, 4, 2), (1, 112, 32, 1)]
    {
        let c = random_conv(&mut rng, channels, channels, 3, stride, true);
        let x = rng.vec(images * side * side * channels, 3.0);
        let got = kernels.run_depthwise(gpu, &x, images, side, stride, &depthwise_weights(&c), &c.bias).unwrap();
        let want = reference_conv(&x, images, side, &c, true);
        let err = rel_err(&got, &want);
        assert!(err <= TOLERANCE, "depthwise {images}x{side}x{side}x{channels} /{stride}: relative error {err:.2e}");
    }
}

#[test]
fn pool_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(gpu).unwrap();
    let mut rng = Rng(14);
    for (images, side, channels) in [(1, 7, 1280), (3, 5, 8), (2, 1, 4)] {
        let x = rng.vec(images * side * side * channels, 4.0);
        let got = kernels.run_pool(gpu, &x, images, channels).unwrap();
        let want: Vec<f32> =
            nhwc_to_chw(&x, images, side, channels).iter().flat_map(reference::global_average_pool).collect();
        let err = rel_err(&got, &want);
        assert!(err <= TOLERANCE, "pool {images}x{side}x{side}x{channels}: relative error {err:.2e}");
    }
}

#[test]
fn mood_head_matches_semantic() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(gpu).unwrap();
    let mut rng = Rng(15);
    for images in [1usize, 5] {
        // Peaked logits, like a confident classifier: a few classes carry
        // the mass and hundreds fall below the 1e-4 cut.
        let mut logits = rng.vec(images * NUM_CLASSES, 6.0);
        for i in 0..images {
            logits[i * NUM_CLASSES + 17 * (i + 1)] += 12.0;
        }
        let got = kernels.run_mood(gpu, &logits, images).unwrap();
        let want: Vec<f32> = logits
            .chunks_exact(NUM_CLASSES)
            .flat_map(|l| {
                let mut p = l.to_vec();
                softmax(&mut p);
                mood::semantic(&p)
            })
            .collect();
        let err = rel_err(&got, &want);
        assert!(err <= TOLERANCE, "mood head, {images} images: relative error {err:.2e}");
    }
}

#[test]
fn mood_correction_matches_the_heads_feature_term() {
    let Some(gpu) = gpu() else { return };
    let kernels = Kernels::new(gpu).unwrap();
    let mut rng = Rng(17);
    let head = MoodHead::embedded().unwrap();
    for images in [1usize, 3, 130] {
        // Pooled ReLU6 activations: non-negative, mostly small.
        let features: Vec<f32> = rng.vec(images * FEATURE_DIM, 1.0).iter().map(|x| (x + 0.5).max(0.0)).collect();
        let got = kernels.run_mood_correction(gpu, &head.feature_projection(), &features, images).unwrap();
        let want: Vec<f32> = features.chunks_exact(FEATURE_DIM).flat_map(|f| head.feature_term(f)).collect();
        let err = rel_err(&got, &want);
        assert!(err <= TOLERANCE, "mood correction, {images} images: relative error {err:.2e}");
    }
}

/// The bench's peak kernels write what their CPU references compute, on
/// thread counts that are not a multiple of the workgroup and a buffer that
/// does not divide among the threads, so the measured peaks come from
/// kernels doing exactly the work they are credited with.
#[test]
fn peak_kernels_match_reference() {
    use pixtape::engine::gpu::peak;
    let Some(gpu) = gpu() else { return };
    for (threads, iterations) in [(1u32, 1u32), (1000, 37), (4099, 300)] {
        let (out, _) = peak::fma(gpu, threads, iterations, 2).unwrap();
        assert_eq!(out.len(), threads as usize);
        for i in [0, threads / 2, threads - 1] {
            let want = peak::fma_reference(i, iterations);
            // fma may be fused or not on a given backend: tolerance 1e-5 of the ~8.0 sum.
            assert!((out[i as usize] - want).abs() < 1e-4, "fma thread {i}: {} vs {want}", out[i as usize]);
        }
    }
    let mut rng = Rng(42);
    let words: Vec<[f32; 4]> = (0..10_007).map(|_| std::array::from_fn(|_| rng.f32())).collect();
    let data = gpu.storage("peak test data", &words).unwrap();
    // Timed on the device where the adapter can: each timed pass counts,
    // its time is positive and no longer than the host saw the calls take,
    // and nothing is timed outside a window.
    if gpu.start_timing() {
        let started = std::time::Instant::now();
        peak::fma(gpu, 4099, 300, 2).unwrap();
        peak::stream(gpu, &data, words.len() as u32, 333, 3).unwrap();
        let host = started.elapsed().as_secs_f64();
        let device = gpu.stop_timing().unwrap().expect("two timed passes");
        assert!(device > 0.0 && device <= host, "device {device} s, host {host} s");
        peak::fma(gpu, 1000, 37, 1).unwrap();
        assert_eq!(gpu.stop_timing().unwrap(), None, "a pass outside a window was timed");
        assert_eq!(gpu.reserve_timestamps(), None);
    }
    for threads in [1u32, 333, 4096] {
        let (out, _) = peak::stream(gpu, &data, words.len() as u32, threads, 3).unwrap();
        for i in [0, threads / 2, threads - 1] {
            let want = peak::stream_reference(&words, threads, i);
            let got = out[i as usize];
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0) * 10.0,
                "stream thread {i}/{threads}: {got} vs {want}"
            );
        }
    }
}
