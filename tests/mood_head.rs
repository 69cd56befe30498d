//! The learned mood head: the runtime path against a plain f64 reference
//! read independently from the weights file, and the pipeline's moods
//! against the head applied by hand.

mod common;

use common::{Rng, photos_dir, read_parquet};
use pixtape::backend::Backend;
use pixtape::decode::{DecodeLimits, Decoder};
use pixtape::model::{CROP_BYTES, FEATURE_DIM, ModelOutput};
use pixtape::mood::head::{INPUTS, MoodHead, OUTPUTS, output_dims};
use pixtape::mood::{self, MoodVector, NUM_DIMS};
use pixtape::pipeline::{self, AnalyzeSettings, Silent};

const HEAD: &[u8] = include_bytes!("../models/mood_head.safetensors");

fn tensor(name: &str) -> Vec<f64> {
    let st = safetensors::SafeTensors::deserialize(HEAD).unwrap();
    let t = st.tensor(name).unwrap();
    t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect()
}

/// y_o = clamp(prior_o + Σ_i (x_i − mean_i) / scale_i · W[i][o] + b_o), in f64.
fn reference(x: &[f32], prior: &MoodVector) -> Vec<f64> {
    let (mean, scale, w, b) =
        (tensor("mood_head.mean"), tensor("mood_head.scale"), tensor("mood_head.weight"), tensor("mood_head.bias"));
    output_dims()
        .enumerate()
        .map(|(o, d)| {
            let dot: f64 = (0..INPUTS).map(|i| (x[i] as f64 - mean[i]) / scale[i] * w[i * OUTPUTS + o]).sum();
            let y = prior[d] as f64 + dot + b[o];
            if o < 2 { y.clamp(-1.0, 1.0) } else { y.clamp(0.0, 1.0) }
        })
        .collect()
}

#[test]
fn head_matches_its_plain_reference_on_seeded_inputs() {
    let head = MoodHead::embedded().unwrap();
    let mut rng = Rng(91);
    let mean = tensor("mood_head.mean");
    let scale = tensor("mood_head.scale");
    for _ in 0..20 {
        // Inputs around the fitted range, so outputs are not all clamped.
        let x: Vec<f32> = (0..INPUTS).map(|i| (mean[i] + scale[i] * 1.5 * rng.f32() as f64) as f32).collect();
        let mut prior = [0.0f32; NUM_DIMS];
        for (k, d) in output_dims().enumerate() {
            prior[d] = if k < 2 { rng.f32() * 0.8 } else { (rng.f32() + 1.0) / 2.0 };
        }
        let got = head.outputs(&x, &prior);
        let want = reference(&x, &prior);
        for o in 0..OUTPUTS {
            // f32 accumulation over 1,309 terms against f64: 1e-4 absolute
            // on outputs in [-1, 1].
            assert!((got[o] as f64 - want[o]).abs() < 1e-4, "output {o}: {} vs {}", got[o], want[o]);
        }
    }
}

#[test]
fn pipeline_moods_are_the_head_applied_to_the_engines_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    pipeline::analyze(&AnalyzeSettings::new(photos_dir(), dir.path()), &model, &Silent).unwrap();
    let images = read_parquet(&dir.path().join("images.parquet"));
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float32Type;
    let ids = common::strings(&images, "image_id");
    let vectors = images.column_by_name("mood_vector").unwrap().as_list::<i32>().clone();
    let row = ids.iter().position(|i| i.as_deref() == Some("night_bridge.jpg")).unwrap();
    let stored = vectors.value(row).as_primitive::<Float32Type>().values().to_vec();

    let mut crop = vec![0u8; CROP_BYTES];
    let info =
        Decoder::new(DecodeLimits::default()).decode_file(&photos_dir().join("night_bridge.jpg"), &mut crop).unwrap();
    let mut out = ModelOutput::default();
    model.engine.forward(&crop, 1, &mut out).unwrap();
    let prior = mood::image_mood_from(&out.semantic(0), &info.colour);
    let x = MoodHead::inputs(&out.features[..FEATURE_DIM], &info.colour, &prior);
    let want = reference(&x, &prior);
    for (k, d) in output_dims().enumerate() {
        assert!((stored[d] as f64 - want[k]).abs() < 1e-4, "dimension {d}: {} vs {}", stored[d], want[k]);
    }
    // The head corrects the mapping: it moves the picture somewhere.
    assert!(output_dims().any(|d| (stored[d] - prior[d]).abs() > 0.01));
}
