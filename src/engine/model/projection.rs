//! A learned linear map of the pooled features that the model engine
//! computes beside the network, while the features are still where the
//! network left them (on the GPU, `shaders/mood_correction.wgsl`).
//!
//! The model knows only its shape: `FEATURE_DIM` standardised features in,
//! `PROJECTION_OUTPUTS` sums out. What the outputs mean, and where the
//! weights come from, is the mood head's business (`mood::head`), which
//! builds one from its fitted tensors.

use super::FEATURE_DIM;

/// Outputs of the projection: the mood head's 24 (valence, arousal, twelve
/// moods, ten themes); `mood::head` checks that they agree, and so does the
/// shader's `OUTPUTS`.
pub const PROJECTION_OUTPUTS: usize = 24;

/// `y_o = Σ_i ((x_i − mean_i) / scale_i) · weight_{i,o}` over the pooled
/// features `x`.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureProjection {
    /// The features' means, then their scales, then their rows of the
    /// weight matrix (`FEATURE_DIM x PROJECTION_OUTPUTS`, row-major): the
    /// layout the GPU kernel reads.
    table: Vec<f32>,
}

impl FeatureProjection {
    /// From the first `FEATURE_DIM` entries of `mean` and `scale` and the
    /// first `FEATURE_DIM` rows of `weight`.
    pub fn new(mean: &[f32], scale: &[f32], weight: &[f32]) -> Self {
        let mut table = Vec::with_capacity(FEATURE_DIM * (2 + PROJECTION_OUTPUTS));
        table.extend_from_slice(&mean[..FEATURE_DIM]);
        table.extend_from_slice(&scale[..FEATURE_DIM]);
        table.extend_from_slice(&weight[..FEATURE_DIM * PROJECTION_OUTPUTS]);
        FeatureProjection { table }
    }

    /// What the GPU kernel reads.
    pub fn table(&self) -> &[f32] {
        &self.table
    }

    /// The projection of one image's `features`: the plain reference of
    /// `shaders/mood_correction.wgsl`.
    pub fn apply(&self, features: &[f32]) -> [f32; PROJECTION_OUTPUTS] {
        let (mean, rest) = self.table.split_at(FEATURE_DIM);
        let (scale, weight) = rest.split_at(FEATURE_DIM);
        let mut y = [0.0f32; PROJECTION_OUTPUTS];
        accumulate(mean, scale, weight, &features[..FEATURE_DIM], &mut y);
        y
    }
}

/// Adds `Σ_i ((x_i − mean_i) / scale_i) · weight_i` to `y`, input by input
/// in order: the one summation order of the CPU reference, the CPU engine
/// and the mood head's other inputs, so that they agree to the bit.
pub fn accumulate(mean: &[f32], scale: &[f32], weight: &[f32], x: &[f32], y: &mut [f32; PROJECTION_OUTPUTS]) {
    for (i, &xi) in x.iter().enumerate() {
        let z = (xi - mean[i]) / scale[i];
        for (o, w) in y.iter_mut().zip(&weight[i * PROJECTION_OUTPUTS..(i + 1) * PROJECTION_OUTPUTS]) {
            *o += z * w;
        }
    }
}
