//! Keyframe stage: the frames of the scene under way are kept in a small
//! reservoir, a scene's keyframes are picked from it once it ends, and they
//! go through the same analysis as photos (model, colour, cues, faces, the
//! mood head). A scene's mood is the mean of its keyframes' moods.
//!
//! A scene's length is known only at its end, so the reservoir keeps every
//! `stride`-th frame and doubles the stride whenever it is full: it holds
//! at most `RESERVOIR` frames, evenly spread over the scene, whatever its
//! length, and memory stays flat over a long take.

use crate::engine::analysis::Analysis;
use crate::engine::backend::Model;
use crate::engine::decode::{DecodeLimits, Decoder};
use crate::engine::faces::{FaceFinder, FaceFrame, Search};
use crate::engine::model::{CROP_BYTES, ModelOutput};
use crate::engine::mood::{MoodVector, NUM_DIMS};
use crate::error::{Failure, Stage};
use crate::video::decode::Frame;

/// Frames kept per scene under way.
pub const RESERVOIR: usize = 24;

/// The frames of one scene under way, evenly spread.
#[derive(Default)]
pub struct Reservoir {
    first: u64,
    stride: u64,
    frames: Vec<Frame>,
}

impl Reservoir {
    pub fn new(first: u64) -> Reservoir {
        Reservoir { first, stride: 1, frames: Vec::new() }
    }

    pub fn push(&mut self, frame: Frame) {
        if !(frame.index - self.first).is_multiple_of(self.stride) {
            return;
        }
        self.frames.push(frame);
        if self.frames.len() > RESERVOIR {
            self.stride *= 2;
            let (first, stride) = (self.first, self.stride);
            self.frames.retain(|f| (f.index - first) % stride == 0);
        }
    }

    /// Ends the scene at `cut`: the frames from `cut` on start the next
    /// scene's reservoir, which is returned; this one keeps the rest.
    pub fn split(&mut self, cut: u64) -> Reservoir {
        let mut next = Reservoir::new(cut);
        let later: Vec<Frame> = self.frames.iter().filter(|f| f.index >= cut).cloned().collect();
        self.frames.retain(|f| f.index < cut);
        for f in later {
            next.push(f);
        }
        next
    }

    /// `k` keyframes at the middles of `k` equal parts of the scene (fewer
    /// when it holds fewer frames).
    pub fn keyframes(&self, k: usize) -> Vec<&Frame> {
        let n = self.frames.len();
        let mut picked: Vec<usize> =
            (0..k.max(1)).map(|i| ((2 * i + 1) * n / (2 * k.max(1))).min(n.max(1) - 1)).collect();
        picked.dedup();
        picked.iter().filter_map(|&i| self.frames.get(i)).collect()
    }
}

/// A scene's reading: its keyframes' times and the analysis that stands
/// for the scene (its middle keyframe's, with the mean mood and its label).
pub struct SceneMood {
    pub keyframe_times: Vec<f64>,
    pub analysis: Analysis,
    /// The middle keyframe as a small JPEG (`THUMB_HEIGHT` pixels high),
    /// for the report's strip; empty if it would not encode.
    pub thumb: Vec<u8>,
}

/// Height of a scene's thumbnail in pixels.
pub const THUMB_HEIGHT: u32 = 90;

/// `f` scaled to `THUMB_HEIGHT` pixels high, as a JPEG (about 3 KB).
pub fn thumbnail(f: &Frame) -> Vec<u8> {
    let Some(img) = image::RgbImage::from_raw(f.width as u32, f.height as u32, f.rgb.clone()) else {
        return Vec::new();
    };
    let w = ((f.width as f64 * THUMB_HEIGHT as f64 / f.height.max(1) as f64).round() as u32).clamp(1, 4 * THUMB_HEIGHT);
    let small = image::imageops::resize(&img, w, THUMB_HEIGHT, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    match image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 75).encode_image(&small) {
        Ok(()) => jpeg,
        Err(_) => Vec::new(),
    }
}

/// Analyses frames as photos; one per video run, its buffers reused.
pub struct FrameAnalyser<'a, 'g> {
    model: &'a Model<'g>,
    decoder: Decoder,
    faces: Option<(Search, FaceFinder)>,
    crops: Vec<u8>,
    out: ModelOutput,
    probs: Vec<f32>,
}

impl<'a, 'g> FrameAnalyser<'a, 'g> {
    /// `faces`: how faces are searched, `None` to skip them.
    pub fn new(model: &'a Model<'g>, limits: DecodeLimits, faces: Option<Search>) -> Self {
        let decoder = match faces {
            Some(_) => Decoder::new(limits).with_face_frame(),
            None => Decoder::new(limits),
        };
        FrameAnalyser {
            model,
            decoder,
            faces: faces.map(|s| (s, FaceFinder::new(s.threshold))),
            crops: Vec::new(),
            out: ModelOutput::default(),
            probs: Vec::new(),
        }
    }

    /// Analyses `frames` (one model batch at most `model.batch`) and
    /// returns the scene's mood.
    pub fn scene(&mut self, frames: &[&Frame]) -> Result<SceneMood, Failure> {
        if frames.is_empty() {
            return Err(Failure::new(Stage::Decode, "a scene without frames"));
        }
        let mut analyses = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.model.batch.max(1)) {
            self.crops.clear();
            self.crops.resize(chunk.len() * CROP_BYTES, 0);
            let mut infos = Vec::with_capacity(chunk.len());
            let mut frames: Vec<Option<FaceFrame>> = Vec::with_capacity(chunk.len());
            for (i, f) in chunk.iter().enumerate() {
                let crop = &mut self.crops[i * CROP_BYTES..(i + 1) * CROP_BYTES];
                infos.push(self.decoder.decode_rgb(&f.rgb, f.width, f.height, crop)?);
                frames.push(self.faces.as_ref().and(self.decoder.face_frame()).map(FaceFrame::copy_of));
            }
            self.model
                .engine
                .forward(&self.crops, chunk.len(), &mut self.out)
                .map_err(|e| Failure::new(Stage::Model, e.to_string()))?;
            for (i, (mut info, frame)) in infos.into_iter().zip(frames).enumerate() {
                // As in a photo run: faces are searched once the model sees people.
                if let (Some((search, finder)), Some(fr)) = (self.faces.as_mut(), frame) {
                    let (engine, size) = (self.model.faces.as_ref(), (info.width, info.height));
                    let frame = (&fr.rgb[..], (fr.width, fr.height));
                    info.faces = search
                        .run(finder, engine, frame, size, self.out.logits(i), &mut self.probs)
                        .map_err(|e| Failure::new(Stage::Model, format!("faces: {e}")))?;
                }
                analyses.push(Analysis::new(&self.model.head, info, &self.out, i, &mut self.probs));
            }
        }
        let mut mean: MoodVector = [0.0; NUM_DIMS];
        for a in &analyses {
            for (m, x) in mean.iter_mut().zip(&a.mood) {
                *m += x / analyses.len() as f32;
            }
        }
        let keyframe_times = frames.iter().map(|f| f.time).collect();
        let middle = analyses.len() / 2;
        let thumb = thumbnail(frames[middle]);
        let mut analysis = analyses.swap_remove(middle);
        analysis.mood = mean;
        analysis.label = self.model.head.top_mood(&mean);
        Ok(SceneMood { keyframe_times, analysis, thumb })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: u64) -> Frame {
        Frame { index, time: index as f64 / 4.0, width: 1, height: 1, rgb: vec![0; 3] }
    }

    #[test]
    fn reservoir_stays_small_and_even() {
        let mut r = Reservoir::new(10);
        for i in 10..1010 {
            r.push(frame(i));
        }
        assert!(r.frames.len() <= RESERVOIR);
        let gaps: Vec<u64> = r.frames.windows(2).map(|w| w[1].index - w[0].index).collect();
        assert!(gaps.iter().all(|&g| g == gaps[0]), "{gaps:?}");
        let k: Vec<u64> = r.keyframes(3).iter().map(|f| f.index).collect();
        assert_eq!(k.len(), 3);
        assert!(k[0] > 100 && k[0] < 300 && k[1] > 400 && k[1] < 600 && k[2] > 750 && k[2] < 950, "{k:?}");
    }

    #[test]
    fn split_hands_later_frames_on() {
        let mut r = Reservoir::new(0);
        for i in 0..10 {
            r.push(frame(i));
        }
        let next = r.split(7);
        assert_eq!(r.frames.iter().map(|f| f.index).max(), Some(6));
        assert_eq!(next.frames.iter().map(|f| f.index).collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(Reservoir::new(0).keyframes(3).len(), 0);
    }
}
