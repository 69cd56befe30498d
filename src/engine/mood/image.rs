//! From an image's analysis into the mood space: the probability-weighted
//! semantic vector of its ImageNet classes (tables derived offline, see
//! `models/derive_mood.py`), blended with what its colour and light say.

use std::sync::LazyLock;

use super::{DIM_NAMES, Group, MoodVector, NUM_DIMS, dim, moods_from_affect};
use crate::engine::colour::ColourFeatures;

/// Parsed derived tables (see models/derive_mood.py).
struct Tables {
    /// Per ImageNet class, its mood vector.
    classes: Vec<MoodVector>,
    /// Per mood and theme (rows in `LINK_SOURCES` order), its pull on each style.
    links: Vec<[f32; 13]>,
}

const LINK_SOURCES: std::ops::Range<usize> = 2..14;

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let rows = parse_table(include_str!("../../../models/mood/imagenet_mood.tsv"), 1);
    let names: Vec<String> = rows.iter().map(|(k, _)| k[0].clone()).collect();
    let mut classes: Vec<MoodVector> = rows.into_iter().map(|(_, v)| to_vector(&v)).collect();
    for fix in class_fixes() {
        let c = names.iter().position(|n| *n == fix.class).expect("class_fixes.tsv names an ImageNet class");
        classes[c][fix.dim] = fix.value;
    }
    let links = parse_table(include_str!("../../../models/mood/style_links.tsv"), 1)
        .into_iter()
        .map(|(_, v)| {
            let mut row = [0.0; 13];
            row.copy_from_slice(&v[..13]);
            row
        })
        .collect();
    Tables { classes, links }
});

/// One hand fix of the derived class table (`models/mood/class_fixes.tsv`).
#[derive(Clone, Debug, PartialEq)]
pub struct ClassFix {
    pub class: String,
    pub dim: usize,
    pub value: f32,
    /// The documented rule it follows (models/README.md, "Hand fixes").
    pub rule: String,
}

/// The hand fixes, in file order. The derived table reads class names as
/// text, so for scene-bearing classes it makes mistakes a person sees at
/// once (a promontory is not urban, a restaurant not sleepy); each fix
/// follows a written rule rather than a case.
pub fn class_fixes() -> Vec<ClassFix> {
    include_str!("../../../models/mood/class_fixes.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            assert_eq!(cells.len(), 4, "class_fixes.tsv: {l:?} is not class, dimension, value, rule");
            ClassFix {
                class: cells[0].to_string(),
                dim: dim(cells[1]).expect("class_fixes.tsv names a mood dimension"),
                value: cells[2].parse().expect("class_fixes.tsv values are numbers"),
                rule: cells[3].to_string(),
            }
        })
        .collect()
}

/// Header-checked rows of a derived TSV: (key columns, values; NaN for empty cells).
pub(crate) fn parse_table(text: &str, keys: usize) -> Vec<(Vec<String>, Vec<f32>)> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let names = &header[keys.min(header.len())..];
    let expected: Vec<&str> =
        if names.first() == Some(&"acoustic") { DIM_NAMES[Group::Styles.dims()].to_vec() } else { DIM_NAMES.to_vec() };
    assert_eq!(names, expected.as_slice(), "derived table header does not match the mood space");
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            let values = cells[keys..].iter().map(|c| c.parse::<f32>().unwrap_or(f32::NAN)).collect();
            (cells[..keys].iter().map(|s| s.to_string()).collect(), values)
        })
        .collect()
}

fn to_vector(v: &[f32]) -> MoodVector {
    let mut out = [0.0; NUM_DIMS];
    for (o, x) in out.iter_mut().zip(v) {
        *o = if x.is_nan() { 0.0 } else { *x };
    }
    out
}

/// Style pull of moods and themes through the derived links: for each
/// style, the strongest single pull (source score x link), so one clear cue
/// ("night" -> electronic) is not averaged away by many faint ones.
fn styles_from_links(v: &MoodVector) -> [f32; 13] {
    let tables = &*TABLES;
    let sources = LINK_SOURCES.chain(Group::Themes.dims());
    let mut out = [0.0f32; 13];
    for (row, d) in tables.links.iter().zip(sources) {
        for (o, l) in out.iter_mut().zip(row) {
            *o = o.max(v[d] * l);
        }
    }
    out
}

/// Reference statistics of photos for standardising colour measures.
const BRIGHTNESS_MEAN: f32 = 0.45;
const BRIGHTNESS_SD: f32 = 0.17;
const SATURATION_MEAN: f32 = 0.40;
const SATURATION_SD: f32 = 0.18;
const CONTRAST_MEAN: f32 = 0.22;
const CONTRAST_SD: f32 = 0.07;

/// An image's place in the mood space, from its class probabilities (all
/// 1,000) and its colour measures.
///
/// * Semantic part: the probability-weighted mean of the derived per-class
///   vectors (valence, arousal, moods, styles, themes).
/// * Colour part, after Valdez & Mehrabian (1994), "Effects of color on
///   emotions" (standardised brightness B and saturation S):
///   pleasure ∝ 0.69 B + 0.22 S and arousal ∝ -0.31 B + 0.60 S; we add RMS
///   contrast to arousal (+0.3, Wilms & Oberfeld 2018 found arousal rising
///   with chroma and contrast) and squash with tanh(x / 2).
/// * Affect = 0.6 semantic + 0.4 colour, and night life (below) adds up to
///   0.35 arousal.
/// * Moods = ½ semantic + ½ the circumplex kernel of the affect point.
/// * Darkness (brightness below 0.40) votes for `night` and `mysterious`;
///   darkness with colourful light (night life: neon, lamps, stages) for
///   `party`, `energetic` and `urban`; a warm, softly lit frame for
///   `romantic` (warm hues read as warm and intimate, Ou et al. 2004).
/// * Styles = ½ semantic + ½ the strongest style link of any mood or theme.
pub fn image_mood(probs: &[f32], colour: &ColourFeatures) -> MoodVector {
    image_mood_from(&semantic(probs), colour)
}

/// Probabilities below this do not count in `semantic`: a thousand faint
/// classes would otherwise blur every picture toward the table's mean.
pub const SEMANTIC_MIN_PROB: f32 = 1e-4;

/// The mood vector of every ImageNet class, in logit order: the derived
/// table with the hand fixes applied.
pub fn class_table() -> &'static [MoodVector] {
    &TABLES.classes
}

/// The semantic part of a picture's mood: the probability-weighted sum of
/// the per-class vectors over classes with probability ≥ `SEMANTIC_MIN_PROB`.
/// This is the plain reference of the GPU mood head (`shaders/mood_head.wgsl`).
pub fn semantic(probs: &[f32]) -> MoodVector {
    let mut sem = [0.0f32; NUM_DIMS];
    for (p, row) in probs.iter().zip(class_table()) {
        if *p < SEMANTIC_MIN_PROB {
            continue;
        }
        for (s, r) in sem.iter_mut().zip(row) {
            *s += p * r;
        }
    }
    sem
}

/// `image_mood` from a semantic part already computed (by `semantic` or
/// the GPU mood head).
pub fn image_mood_from(semantic: &MoodVector, colour: &ColourFeatures) -> MoodVector {
    let sem = *semantic;
    let zb = (colour.brightness - BRIGHTNESS_MEAN) / BRIGHTNESS_SD;
    let zs = (colour.saturation - SATURATION_MEAN) / SATURATION_SD;
    let zc = (colour.contrast - CONTRAST_MEAN) / CONTRAST_SD;
    let v_col = (0.5 * (0.69 * zb + 0.22 * zs)).tanh();
    let a_col = (0.5 * (-0.31 * zb + 0.60 * zs + 0.3 * zc)).tanh();
    let darkness = ((0.40 - colour.brightness) / 0.25).clamp(0.0, 1.0);
    let lights = ((colour.colourfulness - 40.0) / 40.0).clamp(0.0, 1.0);
    let nightlife = darkness * lights;
    let valence = (0.6 * sem[0] + 0.4 * v_col).clamp(-1.0, 1.0);
    let arousal = (0.6 * sem[1] + 0.4 * a_col + 0.35 * nightlife).clamp(-1.0, 1.0);

    let mut v = sem;
    v[0] = valence;
    v[1] = arousal;
    let kernel = moods_from_affect(valence, arousal);
    for (i, k) in Group::Moods.dims().zip(kernel) {
        v[i] = 0.5 * sem[i] + 0.5 * k;
    }
    let glow = colour.warmth.max(0.0) * (1.0 - (zc / 3.0).clamp(0.0, 1.0));
    let bump = |v: &mut MoodVector, name: &str, x: f32| {
        if let Some(i) = dim(name) {
            v[i] = (v[i] + x).min(1.0);
        }
    };
    if let Some(i) = dim("night") {
        v[i] = v[i].max(darkness);
    }
    bump(&mut v, "mysterious", 0.3 * darkness * (1.0 - colour.saturation));
    bump(&mut v, "party", 0.4 * nightlife);
    bump(&mut v, "energetic", 0.3 * nightlife);
    bump(&mut v, "urban", 0.2 * nightlife);
    bump(&mut v, "romantic", 0.25 * glow);
    restyle(&sem, &mut v);
    v
}

/// Styles = ½ semantic + ½ the strongest style link of the moods and themes.
fn restyle(sem: &MoodVector, v: &mut MoodVector) {
    let links = styles_from_links(v);
    for (i, l) in Group::Styles.dims().zip(links) {
        v[i] = 0.5 * sem[i] + 0.5 * l;
    }
}

/// A picture's mood as pixtape reports it: `image_mood_from`, corrected by
/// the learned head (`head`) from the pooled features (through
/// `feature_term`, which the model engine computed: `MoodHead::feature_term`
/// on the CPU), the colour, the intensity cues, the faces' inputs
/// (`faces::head_inputs`) and the uncorrected values, with the styles
/// re-derived from the corrected moods.
pub fn learned_mood(
    head: &super::head::MoodHead,
    semantic: &MoodVector,
    feature_term: &[f32],
    features: &[f32],
    colour: &ColourFeatures,
    cues: &[f32; crate::engine::cues::CUES],
    faces: &[f32; crate::engine::faces::FACE_INPUTS],
) -> MoodVector {
    let prior = image_mood_from(semantic, colour);
    let mut v = prior;
    let corrected = head.outputs_from(feature_term, features, colour, cues, faces, &prior);
    for (d, y) in super::head::output_dims().zip(corrected) {
        v[d] = y;
    }
    restyle(semantic, &mut v);
    v
}
