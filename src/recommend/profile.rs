//! A profile: what `pixtape learn` fitted from feedback, in one safetensors
//! file that `--profile` reads back.
//!
//! * `mood_head.*`: the whole adjusted mood head (same tensors as
//!   `models/mood_head.safetensors`), the bundled head plus the correction
//!   fitted on image ratings, or the bundled head itself;
//! * `profile.weights` (4: affect, moods, styles, themes) and
//!   `profile.style_bias` (13, one per style), present when the profile
//!   was fitted on reactions to picks;
//! * metadata `pixtape_profile`: JSON saying what it was fitted on, with
//!   which settings, and how it did on held-out feedback.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::mood::Weights;
use crate::engine::mood::head::{MoodHead, f32_tensor};
use crate::error::{Error, Result};

/// Styles in the mood space.
pub const STYLES: usize = 13;

/// A fitted profile.
#[derive(Clone, Debug)]
pub struct Profile {
    pub head: MoodHead,
    /// Group weights learned from reactions.
    pub weights: Option<Weights>,
    /// Per style, a preference added to each track's score in proportion to
    /// its share of that style (see `learn::fit`); zero without reactions.
    pub style_bias: [f32; STYLES],
    pub info: ProfileInfo,
}

/// What a profile was fitted on and how it did, as saved in the file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProfileInfo {
    pub pixtape_version: String,
    /// The run whose features and picks the feedback refers to.
    pub run: String,
    pub feedback: Vec<FeedbackInfo>,
    /// Held-out figures, one line per fitted part.
    pub held_out: Vec<String>,
    /// Settings of the fits.
    pub settings: Vec<(String, f64)>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FeedbackInfo {
    pub path: String,
    pub sha256: String,
    pub kind: String,
    pub rows: usize,
}

const META: &str = "pixtape_profile";

/// A profile in use, as a run's manifest records it.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileReport {
    pub path: String,
    pub sha256: String,
    /// Whether its mood head differs from the bundled one.
    pub adjusted_mood_head: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    pub fitted_on: Vec<FeedbackInfo>,
    pub held_out: Vec<String>,
}

impl Profile {
    /// The profile that changes nothing: the bundled head.
    pub fn neutral() -> Result<Profile> {
        Ok(Profile {
            head: MoodHead::embedded()?.clone(),
            weights: None,
            style_bias: [0.0; STYLES],
            info: ProfileInfo::default(),
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> =
            self.head.tensors().into_iter().map(|(n, shape, v)| (n.to_string(), shape, bytes(v))).collect();
        if let Some(w) = self.weights {
            owned.push(("profile.weights".into(), vec![4], bytes(&[w.affect, w.moods, w.styles, w.themes])));
            owned.push(("profile.style_bias".into(), vec![STYLES], bytes(&self.style_bias)));
        }
        let views: Vec<(String, TensorView)> = owned
            .iter()
            .map(|(n, shape, b)| {
                TensorView::new(Dtype::F32, shape.clone(), b)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| Error::Model(e.to_string()))
            })
            .collect::<Result<_>>()?;
        let info = serde_json::to_string(&self.info).map_err(|e| Error::Model(e.to_string()))?;
        safetensors::serialize(views, Some(HashMap::from([(META.to_string(), info)])))
            .map_err(|e| Error::Model(e.to_string()))
    }

    /// Writes the profile to `path` through a temporary file, so a crash
    /// never leaves half a profile.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Reads a profile written by `save`, with what a manifest records of it.
    pub fn load(path: &Path) -> Result<(Profile, ProfileReport)> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let p = Profile::from_bytes(&bytes).map_err(|m| Error::input(path, format!("not a pixtape profile: {m}")))?;
        let report = ProfileReport {
            path: path.display().to_string(),
            sha256: sha256_hex(&bytes),
            adjusted_mood_head: Some(&p.head) != MoodHead::embedded().ok(),
            weights: p.weights,
            fitted_on: p.info.feedback.clone(),
            held_out: p.info.held_out.clone(),
        };
        Ok((p, report))
    }

    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Profile, String> {
        let head = MoodHead::from_safetensors(bytes)?;
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
        let info = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META))
            .ok_or_else(|| format!("no `{META}` metadata"))
            .and_then(|s| serde_json::from_str(s).map_err(|e| e.to_string()))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
        let floats = |name: &str, len: usize| f32_tensor(&st, name, &[len]);
        let weights =
            floats("profile.weights", 4)?.map(|w| Weights { affect: w[0], moods: w[1], styles: w[2], themes: w[3] });
        if let Some(w) = weights {
            w.check().map_err(|e| e.to_string())?;
        }
        let mut style_bias = [0.0; STYLES];
        if let Some(b) = floats("profile.style_bias", STYLES)? {
            style_bias.copy_from_slice(&b);
        }
        Ok(Profile { head, weights, style_bias, info })
    }

    /// The query-side shift that adds `style_bias` to every score: each
    /// style's component of a track's similarity vector is its unit style
    /// share times √w_styles over the weights present, so adding
    /// `bias / √w_styles` to the query's adds `bias · share` to the score.
    pub fn query_shift(&self, weights: &Weights) -> Option<[f32; STYLES]> {
        if self.style_bias.iter().all(|b| *b == 0.0) || weights.styles <= 0.0 {
            return None;
        }
        let k = weights.styles.sqrt();
        Some(self.style_bias.map(|b| b / k))
    }
}

/// sha256 of a file's bytes, as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
