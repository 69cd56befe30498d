//! The learned mood head: the runtime path against a plain f64 reference
//! read independently from the weights file, and the pipeline's moods
//! against the head applied by hand.

mod common;

use common::{Rng, photos_dir, read_parquet};
use pixtape::engine::backend::Backend;
use pixtape::engine::decode::{DecodeLimits, Decoder};
use pixtape::engine::model::{CROP_BYTES, FEATURE_DIM, ModelOutput};
use pixtape::engine::mood::head::{INPUTS, MoodHead, OUTPUTS, output_dims};
use pixtape::engine::mood::{self, MoodVector, NUM_DIMS};
use pixtape::run::{self, AnalyzeSettings, Silent};

const HEAD: &[u8] = include_bytes!("../models/mood_head.safetensors");

fn tensor(name: &str) -> Vec<f64> {
    let st = safetensors::SafeTensors::deserialize(HEAD).unwrap();
    let t = st.tensor(name).unwrap();
    t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect()
}

/// y_o = clamp(prior_o + z · W[·][o] + Σ_j α_jo exp(−γ ‖z − z_j‖²) + b_o)
/// with z_i = (x_i − mean_i) / scale_i, in f64.
fn reference(x: &[f32], prior: &MoodVector) -> Vec<f64> {
    let (mean, scale, w, b) =
        (tensor("mood_head.mean"), tensor("mood_head.scale"), tensor("mood_head.weight"), tensor("mood_head.bias"));
    let z: Vec<f64> = (0..INPUTS).map(|i| (x[i] as f64 - mean[i]) / scale[i]).collect();
    let (points, alpha, gamma) =
        (tensor("mood_head.kernel_points"), tensor("mood_head.kernel_alpha"), tensor("mood_head.kernel_gamma")[0]);
    let k: Vec<f64> = points
        .chunks_exact(INPUTS)
        .map(|p| (-gamma * p.iter().zip(&z).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()).exp())
        .collect();
    output_dims()
        .enumerate()
        .map(|(o, d)| {
            let dot: f64 = (0..INPUTS).map(|i| z[i] * w[i * OUTPUTS + o]).sum();
            let kern: f64 = k.iter().enumerate().map(|(j, kj)| kj * alpha[j * OUTPUTS + o]).sum();
            let y = prior[d] as f64 + dot + kern + b[o];
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
    let points = tensor("mood_head.kernel_points");
    for t in 0..24 {
        // Inputs around the fitted range, so outputs are not all clamped;
        // every other one a fitted photo nudged, where the kernel term is
        // large.
        let x: Vec<f32> = (0..INPUTS)
            .map(|i| {
                let z =
                    if t % 2 == 0 { 1.5 * rng.f32() as f64 } else { points[t * INPUTS + i] + 0.1 * rng.f32() as f64 };
                (mean[i] + scale[i] * z) as f32
            })
            .collect();
        let mut prior = [0.0f32; NUM_DIMS];
        for (k, d) in output_dims().enumerate() {
            prior[d] = if k < 2 { rng.f32() * 0.8 } else { (rng.f32() + 1.0) / 2.0 };
        }
        let got = head.outputs(&x, &prior);
        let want = reference(&x, &prior);
        for o in 0..OUTPUTS {
            // f32 standardisation and accumulation against f64: 1e-4
            // absolute on outputs in [-1, 1].
            assert!((got[o] as f64 - want[o]).abs() < 1e-4, "output {o}: {} vs {}", got[o], want[o]);
        }
    }
}

#[test]
fn pipeline_moods_are_the_head_applied_to_the_engines_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    run::analyze(&AnalyzeSettings::new(photos_dir(), dir.path()), &model, &Silent).unwrap();
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
    let mut probs = out.logits(0).to_vec();
    pixtape::engine::model::softmax(&mut probs);
    let cues = info.cues.with_people(pixtape::engine::cues::people_score(&probs));
    let x = MoodHead::inputs(&out.features[..FEATURE_DIM], &info.colour, &cues, &[0.0; 9], &prior);
    let want = reference(&x, &prior);
    // The engine's feature term, completed on the CPU, is the whole head.
    let split = model.head.outputs_from(out.feature_term(0), out.features(0), &info.colour, &cues, &[0.0; 9], &prior);
    assert_eq!(split, model.head.outputs(&x, &prior));
    for (k, d) in output_dims().enumerate() {
        assert!((stored[d] as f64 - want[k]).abs() < 1e-4, "dimension {d}: {} vs {}", stored[d], want[k]);
    }
    // The head corrects the mapping: it moves the picture somewhere.
    assert!(output_dims().any(|d| (stored[d] - prior[d]).abs() > 0.01));
    // Each stored label is the head's top mood of the stored vector.
    let labels = common::strings(&images, "mood_label");
    let head = MoodHead::embedded().unwrap();
    for (i, label) in labels.iter().enumerate() {
        let v: MoodVector = vectors.value(i).as_primitive::<Float32Type>().values().to_vec().try_into().unwrap();
        assert_eq!(label.as_deref(), Some(head.top_mood(&v)));
    }
}

#[test]
fn top_mood_discounts_labels_raters_use_often() {
    let head = MoodHead::embedded().unwrap();
    let offset = tensor("mood_head.top_offset");
    assert_eq!(offset.len(), 12);
    assert!(offset.iter().all(|o| *o >= 0.0));
    if offset.iter().all(|o| *o == 0.0) {
        // The folds chose no discount: the top mood is the plain argmax.
        let mut rng = Rng(5);
        for _ in 0..50 {
            let v: MoodVector = std::array::from_fn(|_| (rng.f32() + 1.0) / 2.0);
            assert_eq!(head.top_mood(&v), mood::top_mood(&v));
        }
        return;
    }
    // A near tie between calm (the label raters chose most) and epic goes
    // to whichever the discount leaves ahead, and an undiscounted clear win
    // stays a win.
    let calm = mood::dim("calm").unwrap();
    let epic = mood::dim("epic").unwrap();
    let mut v = [0.0f32; NUM_DIMS];
    v[calm] = 0.9;
    v[epic] = 0.2;
    assert_eq!(head.top_mood(&v), "calm");
    let (oc, oe) = (offset[calm - 2], offset[epic - 2]);
    assert!(oc > oe, "calm is rated more often than epic: {oc} vs {oe}");
    v[epic] = 0.9 - (oc - oe) as f32 + 0.001;
    assert_eq!(mood::top_mood(&v), "calm", "the plain argmax");
    assert_eq!(head.top_mood(&v), "epic", "after the discount");
}
