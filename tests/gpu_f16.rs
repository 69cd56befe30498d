//! The GPU engine's f16 path (activations and 1x1 weights stored as f16,
//! sums in f32), on adapters with `SHADER_F16`.
//!
//! - Each kernel against the plain CPU reference run on the same
//!   f16-rounded inputs, on seeded random data and awkward shapes.
//!   Tolerance: max |gpu - cpu| / max |cpu| ≤ 1e-3. Rounding the stored
//!   output to f16 alone costs up to 2^-11 ≈ 4.9e-4 of a value.
//! - The whole engine against the f32 CPU engine on the golden photos:
//!   the same top-1 class, logits and pooled features within 1e-2 relative,
//!   the mood head's outputs (in [-1, 1]) within 0.01. On lavapipe the
//!   logits differ by at most 2.6e-3 and the features by 2.5e-3: the 52
//!   layers' f16 rounding adds up, so the bound is looser than a kernel's.
//!   models/README.md has the measurement on the rated photos.
//!
//! Skipped where the adapter has no f16, unless `PIXTAPE_REQUIRE_F16=1`
//! (CI sets it: lavapipe offers f16).

mod common;

use common::{Rng, golden, random_conv, reference_conv, rel_err};
use pixtape::engine::gpu::Gpu;
use pixtape::engine::gpu::shaders::Storage;
use pixtape::engine::model::gpu::{Fused, GpuEngine, Kernels};
use pixtape::engine::model::reference::{self, nhwc_to_chw};
use pixtape::engine::model::{
    self, CROP_BYTES, Engine, INPUT_SIZE, MEAN, MobileNetV2, ModelOutput, STD, cpu::CpuEngine, depthwise_weights,
    matmul_weights, stem_weights,
};
use pixtape::engine::mood::head::MoodHead;

const TOLERANCE: f32 = 1e-3;

/// The adapter, where it has f16.
fn gpu_f16() -> Option<&'static Gpu> {
    let gpu = common::gpu()?;
    if gpu.has_f16() {
        return Some(gpu);
    }
    assert!(
        std::env::var("PIXTAPE_REQUIRE_F16").map_or(true, |v| v != "1"),
        "PIXTAPE_REQUIRE_F16=1 but {} has no SHADER_F16",
        gpu.describe()
    );
    eprintln!("skipping an f16 test: {} has no SHADER_F16", gpu.describe());
    None
}

fn f16(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()
}

#[test]
fn f16_kernels_match_the_reference_on_rounded_inputs() {
    let Some(gpu) = gpu_f16() else { return };
    let kernels = Kernels::with_storage(gpu, Storage::F16).unwrap();
    let mut rng = Rng(21);

    let mut stem = random_conv(&mut rng, 3, 32, 3, 2, false);
    stem.bias = rng.vec(32, 0.5);
    let crops = rng.bytes(2 * CROP_BYTES);
    let got = kernels.run_stem(gpu, &crops, 2, &stem_weights(&stem), &stem.bias).unwrap();
    let x: Vec<f32> = crops.iter().enumerate().map(|(i, &v)| (v as f32 / 255.0 - MEAN[i % 3]) / STD[i % 3]).collect();
    let err = rel_err(&got, &reference_conv(&x, 2, INPUT_SIZE, &stem, true));
    assert!(err <= TOLERANCE, "stem: relative error {err:.2e}");

    for (m, k, n) in [(1, 4, 4), (63, 20, 68), (130, 24, 144), (4100, 96, 24)] {
        for fused in [Fused::None, Fused::Relu6, Fused::Residual] {
            let mut c = random_conv(&mut rng, k, n, 1, 1, false);
            c.weight = f16(&c.weight);
            let x = f16(&rng.vec(m * k, 2.0));
            let residual = f16(&rng.vec(m * n, 1.0));
            let got =
                kernels.run_matmul(gpu, &x, m, &matmul_weights(&c.weight, n), &c.bias, fused, Some(&residual)).unwrap();
            let mut want = reference_conv(&x, m, 1, &c, fused == Fused::Relu6);
            if fused == Fused::Residual {
                want.iter_mut().zip(&residual).for_each(|(w, r)| *w += r);
            }
            let err = rel_err(&got, &want);
            assert!(err <= TOLERANCE, "pointwise {m}x{k}x{n} {fused:?}: relative error {err:.2e}");
        }
    }

    for (images, side, channels, stride) in [(1, 1, 4, 1), (2, 5, 8, 2), (1, 15, 96, 2), (1, 112, 32, 1)] {
        let c = random_conv(&mut rng, channels, channels, 3, stride, true);
        let x = f16(&rng.vec(images * side * side * channels, 3.0));
        let got = kernels.run_depthwise(gpu, &x, images, side, stride, &depthwise_weights(&c), &c.bias).unwrap();
        let err = rel_err(&got, &reference_conv(&x, images, side, &c, true));
        assert!(err <= TOLERANCE, "depthwise {images}x{side}x{side}x{channels} /{stride}: relative error {err:.2e}");
    }

    for (images, side, channels) in [(1, 7, 1280), (3, 5, 8)] {
        let x = f16(&rng.vec(images * side * side * channels, 4.0));
        let got = kernels.run_pool(gpu, &x, images, channels).unwrap();
        let want: Vec<f32> =
            nhwc_to_chw(&x, images, side, channels).iter().flat_map(reference::global_average_pool).collect();
        // Pooling sums in f32 and writes f32: as tight as the f32 kernel.
        let err = rel_err(&got, &want);
        assert!(err <= 1e-5, "pool {images}x{side}x{side}x{channels}: relative error {err:.2e}");
    }
}

#[test]
fn f16_engine_agrees_with_the_f32_cpu_engine_and_holds_twice_the_batch() {
    let Some(gpu) = gpu_f16() else { return };
    let net = MobileNetV2::embedded().unwrap();
    let head = MoodHead::embedded().unwrap();
    let projection = head.feature_projection();
    let engine = GpuEngine::with_storage(gpu, &net, &projection, 256, Storage::F16).unwrap();
    let f32_engine = GpuEngine::new(gpu, &net, &projection, 256).unwrap();
    assert!(engine.describe().contains("f16"), "{}", engine.describe());
    // Half the bytes an image: twice the images a binding holds, up to the cap.
    assert!(
        engine.max_batch() >= (2 * f32_engine.max_batch()).min(256),
        "f16 batch {} vs f32 {}",
        engine.max_batch(),
        f32_engine.max_batch()
    );
    drop(f32_engine);

    let cases = golden();
    let crops: Vec<u8> = cases.iter().flat_map(|c| c.1.iter().copied()).collect();
    let n = cases.len();
    let mut out = ModelOutput::default();
    engine.forward(&crops, n, &mut out).unwrap();
    let mut reference = ModelOutput::default();
    CpuEngine::new(&net, &projection).forward(&crops, n, &mut reference).unwrap();
    let features = rel_err(&out.features, &reference.features);
    println!("f16 vs f32: features {features:.2e}");
    assert!(features <= 1e-2, "pooled features differ by {features:.2e}");
    let colour = pixtape::engine::colour::ColourFeatures { brightness: 0.4, contrast: 0.2, ..Default::default() };
    let cues = [0.2, 0.05, 0.5, 0.1, 0.3, 0.15, 0.03, 0.1, 0.05];
    for (i, (name, _, _)) in cases.iter().enumerate() {
        let err = rel_err(out.logits(i), reference.logits(i));
        println!("{name}: logits {err:.2e}");
        assert!(err <= 1e-2, "{name}: f16 logits differ by {err:.2e}");
        assert_eq!(model::top_k(out.logits(i), 1), model::top_k(reference.logits(i), 1), "{name}: top-1 differs");
        let prior = pixtape::engine::mood::image_mood_from(&reference.semantic(i), &colour);
        let g = head.outputs_from(out.feature_term(i), out.features(i), &colour, &cues, &[0.0; 9], &prior);
        let c = head.outputs_from(reference.feature_term(i), reference.features(i), &colour, &cues, &[0.0; 9], &prior);
        let worst = g.iter().zip(&c).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        println!("{name}: head outputs {worst:.2e}");
        assert!(worst <= 0.01, "{name}: head outputs differ by up to {worst}");
    }
}

/// f16 asked of a device without it runs that device's default and says so;
/// asked of an adapter with it, the model runs f16 and the manifest says so.
#[test]
fn f16_requests_resolve_per_device_and_say_so() {
    use pixtape::engine::backend::Backend;
    use pixtape::engine::model::precision::Precision;
    let cpu = Backend::cpu().with_precision(Precision::F16);
    assert_eq!(cpu.precision(), Precision::auto());
    assert!(cpu.report().notice.contains("f16 is a GPU precision"), "{}", cpu.report().notice);
    assert_eq!(cpu.model(Some(2)).unwrap().device.precision, Precision::auto().as_str());
    let Some(gpu) = gpu_f16() else { return };
    let backend = common::gpu_backend().unwrap();
    assert!(gpu.has_f16());
    let model = backend.model_at(Some(4), MoodHead::embedded().unwrap().clone(), Precision::F16).unwrap();
    assert_eq!(model.device.precision, "f16");
    assert!(model.engine.describe().contains("f16"));
}
