//! The face search, between the model and the match stage: a picture's
//! faces are searched only once the scene model's people cue passes the
//! gate (`faces::DEFAULT_GATE`), since the search costs about as much as the
//! model and most pictures show nobody. The decode workers keep each
//! picture's face frame; this stage searches the batch's gated frames on
//! every core and drops the rest.

use rayon::prelude::*;

use super::workers::Pending;
use crate::engine::faces::{FaceEngine, FaceFinder, gate_passes};
use crate::engine::model::ModelOutput;
use crate::error::{Failure, Stage};

/// What the face search needs.
#[derive(Clone, Copy)]
pub(super) struct FaceSearch<'a> {
    pub engine: &'a dyn FaceEngine,
    /// The detector score a face needs.
    pub threshold: f32,
    /// The people cue a picture needs to be searched (0: every picture).
    pub gate: f32,
}

impl FaceSearch<'_> {
    /// Sets the faces of the gated pictures of a finished batch (`output`
    /// holds their logits, in order); every frame is dropped. Returns, per
    /// item, why its search failed, if it did.
    pub fn run(&self, items: &mut [Pending], output: &ModelOutput) -> Vec<Option<Failure>> {
        let mut probs = Vec::new();
        let wanted: Vec<bool> =
            (0..items.len()).map(|i| gate_passes(self.gate, output.logits(i), &mut probs)).collect();
        items
            .par_iter_mut()
            .zip(wanted)
            .map_init(
                || FaceFinder::new(self.threshold),
                |finder, (item, wanted)| {
                    let frame = item.face.take().filter(|_| wanted)?;
                    let size = (item.info.width, item.info.height);
                    match finder.find(self.engine, &frame.rgb, (frame.width, frame.height), size) {
                        Ok(faces) => {
                            item.info.faces = faces;
                            None
                        }
                        Err(e) => Some(Failure::new(Stage::Model, format!("faces: {e}"))),
                    }
                },
            )
            .collect()
    }
}
