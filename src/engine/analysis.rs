//! Analysis: what one image becomes once decoded and seen by the model: its
//! top ImageNet labels and its place in the mood space. The pipeline and
//! `inspect` both build it here, so a picture reads the same either way.

use crate::engine::cues::{self, CUES};
use crate::engine::decode::DecodedInfo;
use crate::engine::faces;
use crate::engine::model::{self, ModelOutput};
use crate::engine::mood::{self, MoodVector, head::MoodHead};

/// ImageNet labels kept per image.
pub const TOP_LABELS: usize = 5;

/// One analysed image.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub info: DecodedInfo,
    /// (class index, probability), most probable first.
    pub top: Vec<(usize, f32)>,
    pub mood: MoodVector,
    /// The intensity cues the head read: the frame's, then `people`.
    pub cues: [f32; CUES],
    /// The top mood (see `MoodHead::top_mood`).
    pub label: &'static str,
    /// How far the faces moved the mood: the largest change they make to
    /// valence, arousal or the top mood's score (0 without faces).
    pub face_effect: f32,
}

/// A face effect at least this large is named in the picture's reasons.
pub const FACE_EFFECT_NAMED: f32 = 0.05;

impl Analysis {
    /// The analysis of image `i` of a finished batch, its mood corrected by
    /// the learned `head`. `probs` is scratch space, reused across images to
    /// spare an allocation each.
    pub fn new(head: &MoodHead, info: DecodedInfo, output: &ModelOutput, i: usize, probs: &mut Vec<f32>) -> Analysis {
        probs.clear();
        probs.extend_from_slice(output.logits(i));
        model::softmax(probs);
        let top = model::top_k(probs, TOP_LABELS).into_iter().map(|c| (c, probs[c])).collect();
        let cues = info.cues.with_people(cues::people_score(probs));
        let face_inputs = faces::head_inputs(&info.faces, info.width, info.height);
        let mood_with = |faces: &[f32; faces::FACE_INPUTS]| {
            mood::learned_mood(
                head,
                &output.semantic(i),
                output.feature_term(i),
                output.features(i),
                &info.colour,
                &cues,
                faces,
            )
        };
        let mood = mood_with(&face_inputs);
        let label = head.top_mood(&mood);
        let face_effect = match info.faces.is_empty() {
            true => 0.0,
            false => {
                let without = mood_with(&[0.0; faces::FACE_INPUTS]);
                let top = mood::dim(label).unwrap_or(0);
                [0, 1, top].iter().map(|&d| (mood[d] - without[d]).abs()).fold(0.0, f32::max)
            }
        };
        Analysis { info, top, mood, cues, label, face_effect }
    }

    /// The most probable ImageNet class: what the picture shows.
    pub fn scene(&self) -> &'static str {
        self.top.first().and_then(|&(c, _)| model::class_names().get(c).copied()).unwrap_or("?")
    }

    /// The top labels with their class names.
    pub fn labels(&self) -> Vec<(usize, &'static str, f32)> {
        let classes = model::class_names();
        self.top.iter().map(|&(c, p)| (c, classes.get(c).copied().unwrap_or("?"), p)).collect()
    }
}
