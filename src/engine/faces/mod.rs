//! Faces: where the faces in a picture are and what they express.
//!
//! Two small networks from face-api (`models/faces.safetensors`, converted
//! by `models/convert_faces.py`, embedded in the binary): a Tiny-YOLOv2
//! face detector of separable convolutions (a grid of 32-pixel cells, five
//! anchor boxes a cell) and an expression classifier of four dense blocks on
//! a 112x112 face. `nets` holds their weights; `reference` is the plain
//! forward pass everything else is checked against; `cpu` is the fast CPU
//! engine and `gpu` the WGSL one; `find` turns a decoded frame into faces:
//! the detector's passes over it, box decoding, non-maximum suppression, the
//! face crops and their expressions. Both engines give the same numbers
//! within the tolerances `tests/faces.rs` states.
//!
//! Detection runs on the decoded frame (the image shrunk so its long side
//! is at most `FRAME_MAX`), not on the model's 224-pixel crop, in up to
//! three passes (`PASSES`): a face that fills the picture is found when the
//! frame is shrunk into three quarters of the detector's square, a face of
//! a group when the frame fills an 832-pixel square.

pub mod cpu;
pub mod find;
pub mod gpu;
pub mod nets;
pub mod reference;

use serde::Serialize;

use crate::error::Result;

pub use find::FaceFinder;

/// The seven expressions, in the order of every probability list pixtape
/// writes (the FER classes as the issue of record names them).
pub const EXPRESSIONS: [&str; 7] = ["neutral", "happy", "sad", "surprise", "fear", "disgust", "angry"];
/// Where each of `EXPRESSIONS` sits in the network's output (face-api's
/// order: neutral, happy, sad, angry, fearful, disgusted, surprised).
pub const NET_ORDER: [usize; 7] = [0, 1, 2, 6, 4, 5, 3];
/// Side of the square face crop the expression network reads.
pub const FACE_SIDE: usize = 112;
/// Bytes of one face crop: `FACE_SIDE x FACE_SIDE` RGB u8.
pub const FACE_BYTES: usize = FACE_SIDE * FACE_SIDE * 3;
/// Longest side of the frame faces are searched in.
pub const FRAME_MAX: usize = 832;
/// The detector's passes: the square's side, the share of it the frame's
/// long side fills, and the least size (long side of the box over the
/// frame's) a box of that pass needs. The shrunk pass is there for faces
/// too large for the others, so it keeps only large boxes: smaller ones
/// are the full pass's to find, and on the rated photos most of what the
/// shrunk pass alone finds at medium size is not a face (a flower's heart,
/// a stone). The 832 pass runs only on frames at least that large, where
/// it has detail to find, and only where the 416 passes found a face: it
/// costs twice both of them together, and on the 121 rated photos of 832
/// pixels or more, running it on every frame instead found faces in just
/// one photo more (two small ones, 85 faces in all against 87).
pub const PASSES: [(usize, f32, f32); 3] = [(416, 0.75, 0.2), (416, 1.0, 0.0), (832, 1.0, 0.0)];
/// Pixels of the input per output cell of the detector.
pub const CELL: usize = 32;
/// Values per detector cell: five anchors of (x, y, w, h, score).
pub const DETECTOR_OUT: usize = ANCHORS.len() * 5;
/// Anchor box sizes in cells (face-api's tiny face detector).
pub const ANCHORS: [(f32, f32); 5] =
    [(1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061), (4.266906, 5.178857), (9.041765, 10.66308)];
/// Mean RGB subtracted before the detector (then divided by 255).
pub const DETECTOR_MEAN: [f32; 3] = [117.001, 114.697, 97.404];
/// Mean RGB subtracted before the expression network (then divided by 255).
pub const EXPRESSION_MEAN: [f32; 3] = [122.782, 117.001, 104.298];
/// Overlap above which the weaker of two boxes is dropped.
pub const IOU_THRESHOLD: f32 = 0.4;
/// Default confidence a box needs to count as a face. face-api uses 0.5;
/// on the rated photos 0.6 halves the photos without people that show a
/// face (14 to 6 of 284) and loses 2 of the 54 photos of people it finds.
pub const DEFAULT_THRESHOLD: f32 = 0.6;
/// Faces kept per image, the largest first: a crowd of hundreds costs no
/// more than this many expression passes and rows.
pub const MAX_FACES: usize = 32;
/// The scene model's people cue (`cues::people_score`, the summed
/// probability of its person-like classes) a picture needs before its faces
/// are searched. The search costs about as much again as the scene model,
/// and the model's people cue already tells most pictures of nobody apart:
/// searched in every one of the 352 rated photos, faces were found in 50
/// of the 77 photos of people and in 2 of the 275 without; gated at 0.02,
/// the search ran on 89 photos and kept 47 of those 50 and neither of the
/// 2. `--face-gate 0` searches every picture.
pub const DEFAULT_GATE: f32 = 0.02;

/// Whether a picture whose scene model gave `logits` gets a face search
/// under `gate` (0 or less: every picture). `probs` is scratch space.
pub fn gate_passes(gate: f32, logits: &[f32], probs: &mut Vec<f32>) -> bool {
    if gate <= 0.0 {
        return true;
    }
    probs.clear();
    probs.extend_from_slice(logits);
    crate::engine::model::softmax(probs);
    crate::engine::cues::people_score(probs) >= gate
}

/// A face search's settings: the detector score a face needs and the
/// people cue a picture needs to be searched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Search {
    pub threshold: f32,
    pub gate: f32,
}

impl Search {
    /// Searches `frame` (`FaceFrame`) for faces when the scene model's
    /// `logits` pass the gate; no faces otherwise. `size` is the picture's.
    pub fn run(
        &self,
        finder: &mut FaceFinder,
        engine: &dyn FaceEngine,
        frame: (&[u8], (usize, usize)),
        size: (u32, u32),
        logits: &[f32],
        probs: &mut Vec<f32>,
    ) -> Result<Vec<Face>> {
        match gate_passes(self.gate, logits, probs) {
            true => finder.find(engine, frame.0, frame.1, size),
            false => Ok(Vec::new()),
        }
    }
}

/// The frame a face search reads, kept from decoding until the scene
/// model has said whether the picture shows people.
#[derive(Clone, Debug, Default)]
pub struct FaceFrame {
    pub rgb: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

impl FaceFrame {
    /// A copy of the decoder's face frame (`Decoder::face_frame`).
    pub fn copy_of((rgb, (width, height)): (&[u8], (usize, usize))) -> FaceFrame {
        FaceFrame { rgb: rgb[..width * height * 3].to_vec(), width, height }
    }
}

/// One face, in the original (EXIF-oriented) image's pixels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Face {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    /// The detector's score, in (0, 1].
    pub confidence: f32,
    /// Probabilities of `EXPRESSIONS`, summing to 1.
    pub probs: [f32; 7],
}

impl Face {
    /// The most probable expression.
    pub fn expression(&self) -> &'static str {
        let best = (0..7).max_by(|&a, &b| self.probs[a].total_cmp(&self.probs[b])).unwrap_or(0);
        EXPRESSIONS[best]
    }

    pub fn area(&self) -> f32 {
        self.width * self.height
    }
}

/// Faces whose expressions make up a picture's mix: the largest few, so a
/// crowd in the background does not outvote the people in front.
pub const MIX_FACES: usize = 5;

/// The expression mix of a picture: the area-weighted mean of the
/// probabilities of its `MIX_FACES` largest faces; `None` without faces.
pub fn mix(faces: &[Face]) -> Option<[f32; 7]> {
    let mut largest: Vec<&Face> = faces.iter().collect();
    largest.sort_by(|a, b| b.area().total_cmp(&a.area()));
    largest.truncate(MIX_FACES);
    let total: f32 = largest.iter().map(|f| f.area()).sum();
    if largest.is_empty() || total <= 0.0 {
        return None;
    }
    Some(std::array::from_fn(|i| largest.iter().map(|f| f.area() * f.probs[i]).sum::<f32>() / total))
}

/// Inputs of the mood head from a picture's faces: the expression mix
/// (zeros without faces), ln(1 + the face count), and the share of the
/// picture the faces cover.
pub const FACE_INPUTS: usize = 9;
/// Names of the face inputs, in order (as `models/fit_mood_head.py` reads them).
pub const FACE_INPUT_NAMES: [&str; FACE_INPUTS] = [
    "face_neutral",
    "face_happy",
    "face_sad",
    "face_surprise",
    "face_fear",
    "face_disgust",
    "face_angry",
    "face_count_log",
    "face_area",
];

/// The mood head's face inputs for the faces of a `width x height` picture.
pub fn head_inputs(faces: &[Face], width: u32, height: u32) -> [f32; FACE_INPUTS] {
    let mut x = [0.0; FACE_INPUTS];
    if let Some(m) = mix(faces) {
        x[..7].copy_from_slice(&m);
    }
    x[7] = (faces.len() as f32).ln_1p();
    x[8] = area_share(faces, width, height);
    x
}

/// The share of a `width x height` picture its faces cover (at most 1).
pub fn area_share(faces: &[Face], width: u32, height: u32) -> f32 {
    let area = (width as f32 * height as f32).max(1.0);
    (faces.iter().map(Face::area).sum::<f32>() / area).min(1.0)
}

/// The most probable of a mix's expressions.
pub fn top_expression(mix: &[f32; 7]) -> &'static str {
    EXPRESSIONS[(0..7).max_by(|&a, &b| mix[a].total_cmp(&mix[b])).unwrap_or(0)]
}

/// Runs the two networks over batches: the CPU engine or the GPU one.
/// Implementations are shared by the decode workers.
pub trait FaceEngine: Send + Sync {
    /// The detector's raw output for `n` square RGB inputs of `side`
    /// pixels: `n` blocks of `(side / CELL)^2` cells of `DETECTOR_OUT`.
    fn detect(&self, inputs: &[u8], side: usize, n: usize) -> Result<Vec<f32>>;
    /// Expression probabilities, in `EXPRESSIONS` order, of `n` face crops.
    fn express(&self, crops: &[u8], n: usize) -> Result<Vec<[f32; 7]>>;
}

/// Side of the detector's output grid for an input of `side`: the first
/// convolution drops a pixel each side, then five halvings round up.
pub fn grid_side(side: usize) -> usize {
    let mut s = side - 2;
    for _ in 0..5 {
        s = s.div_ceil(2);
    }
    s
}

/// Softmax of the network's seven outputs, reordered to `EXPRESSIONS`.
pub fn expression_probs(logits: &[f32]) -> [f32; 7] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    std::array::from_fn(|i| e[NET_ORDER[i]] / sum)
}
