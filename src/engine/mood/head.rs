//! The learned mood head: a correction, fitted on people's ratings, to the
//! mood the class table and the colour give a picture.
//!
//! For each of its 24 outputs (valence, arousal, the twelve moods, the ten
//! themes) the head adds `z · W + K(z) · α + b` to the current value, where
//! `z` is the picture's standardised inputs: MobileNetV2's pooled features
//! (1,280), the colour and light measures (5), the intensity cues (9,
//! `engine::cues`) and the current values themselves (24). The shipped head
//! is kernel ridge regression on the rated photo set (`models/ratings/`,
//! fitted by `models/fit_mood_head.py`, which also reports its
//! cross-validated gain): `K(z)` is the Gaussian kernel between `z` and each
//! rated photo (`super::kernel`), and `W` is zero. `W` stays for heads that
//! are linear (a ridge fit), and for what feedback learning and profiles
//! add on top. Styles are then re-derived from the corrected moods and
//! themes, as for the uncorrected mood.

use std::sync::LazyLock;

use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use super::kernel::Kernel;
use super::{Group, MoodVector};
use crate::engine::colour::ColourFeatures;
use crate::engine::cues::CUES;
use crate::engine::faces::FACE_INPUTS;
use crate::engine::model::FEATURE_DIM;
use crate::engine::model::projection::{self, FeatureProjection, PROJECTION_OUTPUTS};

static HEAD: &[u8] = include_bytes!("../../../models/mood_head.safetensors");

/// The colour measures the head reads, in its input order.
pub const COLOUR_INPUTS: usize = 5;
/// Outputs: valence, arousal, twelve moods, ten themes.
pub const OUTPUTS: usize = 24;
// The model engine computes the feature term at the width it was built for.
const _: () = assert!(OUTPUTS == PROJECTION_OUTPUTS);
/// Inputs: pooled features, colour, cues, faces, and the current values of the outputs.
pub const INPUTS: usize = FEATURE_DIM + COLOUR_INPUTS + CUES + FACE_INPUTS + OUTPUTS;
/// Inputs after the pooled features, which the CPU adds.
const REST: usize = COLOUR_INPUTS + CUES + FACE_INPUTS + OUTPUTS;
/// Inputs of heads written before faces were read (profiles among them).
const INPUTS_BEFORE_FACES: usize = INPUTS - FACE_INPUTS;
/// Where the face inputs start.
const FACES_AT: usize = FEATURE_DIM + COLOUR_INPUTS + CUES;

/// Where each output sits in the mood vector.
pub fn output_dims() -> impl Iterator<Item = usize> {
    Group::Affect.dims().chain(Group::Moods.dims()).chain(Group::Themes.dims())
}

/// The fitted head: `y = prior + ((x − mean) / scale) · weight + bias`.
///
/// Its term from the pooled features (1,280 of its 1,327 inputs) is a small
/// matrix product that the model engine computes beside the network: on the
/// GPU in `shaders/mood_correction.wgsl`, on the CPU in `feature_term`. The
/// colour, cue and prior terms are added on the CPU, where they are computed.
#[derive(Clone, Debug, PartialEq)]
pub struct MoodHead {
    mean: Vec<f32>,
    scale: Vec<f32>,
    /// `INPUTS x OUTPUTS`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    /// Per mood, what the top-mood choice discounts: a share of the label's
    /// rate in the ratings, so that a label raters use often (calm) does not
    /// win every close call.
    top_offset: Vec<f32>,
    /// The kernel ridge term, when the head has one (`super::kernel`).
    kernel: Option<Kernel>,
}

static PARSED: LazyLock<Result<MoodHead, String>> = LazyLock::new(|| MoodHead::from_safetensors(HEAD));

impl MoodHead {
    /// The head compiled into the binary.
    pub fn embedded() -> crate::Result<&'static MoodHead> {
        PARSED.as_ref().map_err(|e| crate::Error::Model(format!("mood head: {e}")))
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<MoodHead, String> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
        let inputs = st.tensor("mood_head.mean").map(|t| t.shape().first().copied().unwrap_or(0)).unwrap_or(INPUTS);
        if inputs == INPUTS_BEFORE_FACES {
            return Self::read(&st, INPUTS_BEFORE_FACES).map(MoodHead::without_faces);
        }
        Self::read(&st, INPUTS)
    }

    fn read(st: &SafeTensors, inputs: usize) -> Result<MoodHead, String> {
        let get = |name: &str, shape: &[usize]| f32_tensor(st, name, shape)?.ok_or_else(|| format!("no {name}"));
        Ok(MoodHead {
            mean: get("mood_head.mean", &[inputs])?,
            scale: get("mood_head.scale", &[inputs])?,
            weight: get("mood_head.weight", &[inputs, OUTPUTS])?,
            bias: get("mood_head.bias", &[OUTPUTS])?,
            top_offset: get("mood_head.top_offset", &[Group::Moods.dims().len()])?,
            kernel: kernel_tensors(st, inputs)?,
        })
    }

    /// A head fitted before faces were read, given face inputs it ignores:
    /// their weights are zero, and their standardised values (and the
    /// kernel's photos there) are zero whatever the faces, so every output
    /// is what it was.
    fn without_faces(mut h: MoodHead) -> MoodHead {
        let at = FACES_AT;
        h.mean.splice(at..at, [0.0; FACE_INPUTS]);
        h.scale.splice(at..at, [f32::INFINITY; FACE_INPUTS]);
        h.weight.splice(at * OUTPUTS..at * OUTPUTS, [0.0; FACE_INPUTS * OUTPUTS]);
        if let Some(k) = &mut h.kernel {
            let old = k.inputs;
            k.points =
                k.points.chunks_exact(old).flat_map(|p| [&p[..at], &[0.0; FACE_INPUTS], &p[at..]].concat()).collect();
            k.inputs = INPUTS;
        }
        h
    }

    /// The head's tensors, by their names in the safetensors file, with
    /// their shapes: what a profile saves.
    pub fn tensors(&self) -> Vec<(&'static str, Vec<usize>, &[f32])> {
        let mut t = vec![
            ("mood_head.mean", vec![INPUTS], &self.mean[..]),
            ("mood_head.scale", vec![INPUTS], &self.scale[..]),
            ("mood_head.weight", vec![INPUTS, OUTPUTS], &self.weight[..]),
            ("mood_head.bias", vec![OUTPUTS], &self.bias[..]),
            ("mood_head.top_offset", vec![Group::Moods.dims().len()], &self.top_offset[..]),
        ];
        if let Some(k) = &self.kernel {
            t.push(("mood_head.kernel_points", vec![k.photos(), INPUTS], &k.points[..]));
            t.push(("mood_head.kernel_alpha", vec![k.photos(), OUTPUTS], &k.alpha[..]));
            t.push(("mood_head.kernel_gamma", vec![1], std::slice::from_ref(&k.gamma)));
        }
        t
    }

    /// The bias of each output.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// `x` standardised as the head sees it: `(x − mean) / scale`.
    pub fn standardise(&self, x: &[f32]) -> Vec<f64> {
        x.iter().zip(&self.mean).zip(&self.scale).map(|((&x, &m), &s)| ((x - m) / s) as f64).collect()
    }

    /// This head plus a correction of its own: `delta_weight` (`INPUTS x
    /// OUTPUTS`) and `delta_bias` (`OUTPUTS`), on the same standardised
    /// inputs.
    pub fn adjusted(&self, delta_weight: &[f64], delta_bias: &[f64]) -> MoodHead {
        let mut h = self.clone();
        for (w, d) in h.weight.iter_mut().zip(delta_weight) {
            *w += *d as f32;
        }
        for (b, d) in h.bias.iter_mut().zip(delta_bias) {
            *b += *d as f32;
        }
        h
    }

    /// The head's input vector for a picture.
    pub fn inputs(
        features: &[f32],
        colour: &ColourFeatures,
        cues: &[f32; CUES],
        faces: &[f32; FACE_INPUTS],
        prior: &MoodVector,
    ) -> Vec<f32> {
        let mut x = Vec::with_capacity(INPUTS);
        x.extend_from_slice(&features[..FEATURE_DIM]);
        x.extend_from_slice(&Self::rest_inputs(colour, cues, faces, prior));
        x
    }

    /// The inputs after the features: the colour measures, the cues, the
    /// faces, then the prior.
    fn rest_inputs(
        colour: &ColourFeatures,
        cues: &[f32; CUES],
        faces: &[f32; FACE_INPUTS],
        prior: &MoodVector,
    ) -> [f32; REST] {
        let mut x = [0.0; REST];
        x[..COLOUR_INPUTS].copy_from_slice(&[
            colour.brightness,
            colour.contrast,
            colour.saturation,
            colour.warmth,
            colour.colourfulness,
        ]);
        x[COLOUR_INPUTS..COLOUR_INPUTS + CUES].copy_from_slice(cues);
        x[COLOUR_INPUTS + CUES..COLOUR_INPUTS + CUES + FACE_INPUTS].copy_from_slice(faces);
        for (xi, d) in x[COLOUR_INPUTS + CUES + FACE_INPUTS..].iter_mut().zip(output_dims()) {
            *xi = prior[d];
        }
        x
    }

    /// The term of the pooled features, `Σ_i ((x_i − mean_i) / scale_i) ·
    /// weight_i` over the first `FEATURE_DIM` inputs: the plain reference
    /// of `shaders/mood_correction.wgsl`.
    pub fn feature_term(&self, features: &[f32]) -> [f32; OUTPUTS] {
        let mut y = [0.0f32; OUTPUTS];
        self.accumulate(0, &features[..FEATURE_DIM], &mut y);
        y
    }

    /// Adds the term of inputs `first..first + x.len()` to `y`.
    fn accumulate(&self, first: usize, x: &[f32], y: &mut [f32; OUTPUTS]) {
        let end = first + x.len();
        projection::accumulate(
            &self.mean[first..end],
            &self.scale[first..end],
            &self.weight[first * OUTPUTS..end * OUTPUTS],
            x,
            y,
        );
    }

    /// The feature term as the model engine computes it, beside the
    /// network (`FeatureProjection::apply` equals `feature_term`).
    pub fn feature_projection(&self) -> FeatureProjection {
        FeatureProjection::new(&self.mean, &self.scale, &self.weight)
    }

    /// The corrected values of the 24 outputs, clamped to their ranges, from
    /// the whole input vector `x` (see `inputs`).
    pub fn outputs(&self, x: &[f32], prior: &MoodVector) -> [f32; OUTPUTS] {
        self.finish(self.feature_term(x), &x[..FEATURE_DIM], &x[FEATURE_DIM..], prior)
    }

    /// The same, from the feature term an engine computed, the pooled
    /// features (which the kernel term reads) and the rest of the inputs:
    /// the colour measures, the cues, the faces and the prior.
    #[allow(clippy::too_many_arguments)]
    pub fn outputs_from(
        &self,
        feature_term: &[f32],
        features: &[f32],
        colour: &ColourFeatures,
        cues: &[f32; CUES],
        faces: &[f32; FACE_INPUTS],
        prior: &MoodVector,
    ) -> [f32; OUTPUTS] {
        let mut y = [0.0f32; OUTPUTS];
        y.copy_from_slice(&feature_term[..OUTPUTS]);
        self.finish(y, &features[..FEATURE_DIM], &Self::rest_inputs(colour, cues, faces, prior), prior)
    }

    /// Adds the bias and the terms of the colour, cue and prior inputs (`rest`)
    /// to the feature term `y`, then the prior, and clamps.
    fn finish(&self, mut y: [f32; OUTPUTS], features: &[f32], rest: &[f32], prior: &MoodVector) -> [f32; OUTPUTS] {
        self.accumulate(FEATURE_DIM, rest, &mut y);
        if let Some(k) = &self.kernel {
            let z: Vec<f32> = features
                .iter()
                .chain(rest)
                .zip(self.mean.iter().zip(&self.scale))
                .map(|(&x, (&m, &s))| (x - m) / s)
                .collect();
            k.add(&z, &mut y);
        }
        let mut out = [0.0; OUTPUTS];
        for (k, d) in output_dims().enumerate() {
            let (lo, hi) = if k < 2 { (-1.0, 1.0) } else { (0.0, 1.0) };
            out[k] = (prior[d] + y[k] + self.bias[k]).clamp(lo, hi);
        }
        out
    }
}

impl MoodHead {
    /// The picture's top mood: the mood with the highest score after the
    /// discount (chosen by `models/fit_mood_head.py` on held-out folds so that
    /// no label tops more than a third of the rated photos).
    pub fn top_mood(&self, v: &MoodVector) -> &'static str {
        let r = Group::Moods.dims();
        let score = |i: usize| v[i] - self.top_offset[i - r.start];
        let best = r.clone().max_by(|&a, &b| score(a).total_cmp(&score(b)).then(b.cmp(&a))).unwrap_or(r.start);
        super::DIM_NAMES[best]
    }
}

/// The kernel term's tensors, all or none.
fn kernel_tensors(st: &SafeTensors, inputs: usize) -> Result<Option<Kernel>, String> {
    let Ok(points) = st.tensor("mood_head.kernel_points") else { return Ok(None) };
    let photos = points.shape().first().copied().unwrap_or(0);
    let get = |name: &str, shape: &[usize]| f32_tensor(st, name, shape)?.ok_or_else(|| format!("no {name}"));
    Ok(Some(Kernel {
        points: get("mood_head.kernel_points", &[photos, inputs])?,
        alpha: get("mood_head.kernel_alpha", &[photos, OUTPUTS])?,
        gamma: get("mood_head.kernel_gamma", &[1])?[0],
        inputs,
        outputs: OUTPUTS,
    }))
}

/// The f32 tensor `name` of shape `shape`; `None` when the file lacks it.
pub(crate) fn f32_tensor(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Option<Vec<f32>>, String> {
    let Ok(t) = st.tensor(name) else { return Ok(None) };
    if t.dtype() != Dtype::F32 || t.shape() != shape {
        return Err(format!("{name}: expected f32 {shape:?}, found {:?} {:?}", t.dtype(), t.shape()));
    }
    Ok(Some(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()))
}

/// sha256 of the embedded head, for the manifest.
pub fn sha256() -> &'static str {
    static HASH: LazyLock<String> = LazyLock::new(|| Sha256::digest(HEAD).iter().map(|b| format!("{b:02x}")).collect());
    &HASH
}
