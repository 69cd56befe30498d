//! Mood stage: the one mood space that images and tracks share, and the
//! mapping from an image's analysis into it.
//!
//! A mood vector has 37 named dimensions in four groups:
//!
//! * **affect**: `valence` (unpleasant -1 … +1 pleasant) and `arousal`
//!   (calm, sleepy -1 … +1 excited, intense), Russell's circumplex axes;
//! * **moods**: twelve labels, each an affinity in [0, 1];
//! * **styles**: thirteen musical families, affinities in [0, 1];
//! * **themes**: ten things a picture or a song can be about, in [0, 1].
//!
//! Similarity is a weighted cosine, group by group: for an image q and a
//! track t, `score = Σ_g W_g cos(q_g, t_g) / Σ_g W_g`, summed over the groups
//! the track carries (a catalog with only valence/arousal is compared on
//! affect and moods). Affect is compared as the 3-vector (valence, arousal,
//! 0.5), so near-neutral tracks sit between agreeing and opposing ones. Both
//! sides are turned into fixed-length vectors (`SimVector`) once, so a score
//! is a plain dot product: that is what the top-k kernels compute.

use std::sync::LazyLock;

use crate::colour::ColourFeatures;

pub const NUM_DIMS: usize = 37;

/// Dimension names, in vector order; they appear in outputs and explanations.
pub const DIM_NAMES: [&str; NUM_DIMS] = [
    "valence",
    "arousal", // affect
    "calm",
    "energetic",
    "happy",
    "melancholic",
    "romantic",
    "hopeful",
    "tense",
    "dreamy",
    "nostalgic",
    "epic",
    "playful",
    "mysterious", // moods
    "acoustic",
    "ambient",
    "classical",
    "electronic",
    "hiphop",
    "rock",
    "pop",
    "jazz",
    "folk",
    "soundtrack",
    "soul",
    "world",
    "metal", // styles
    "nature",
    "urban",
    "night",
    "water",
    "party",
    "summer",
    "winter",
    "love",
    "travel",
    "sport", // themes
];

/// A short definition of every dimension, for the README and `inspect`.
pub const DEFINITIONS: [(&str, &str); NUM_DIMS] = [
    ("valence", "how pleasant: -1 unpleasant, gloomy … +1 pleasant, joyful"),
    ("arousal", "how intense: -1 calm, sleepy … +1 excited, energetic"),
    ("calm", "peaceful, serene, relaxing"),
    ("energetic", "lively, fast, full of energy"),
    ("happy", "cheerful, joyful, bright"),
    ("melancholic", "sad, wistful, lonely"),
    ("romantic", "tender, loving, intimate"),
    ("hopeful", "uplifting, optimistic, inspiring"),
    ("tense", "tense or dark: anxious, menacing, aggressive"),
    ("dreamy", "ethereal, hazy, floating"),
    ("nostalgic", "bittersweet memories, vintage"),
    ("epic", "grand, heroic, majestic"),
    ("playful", "funny, whimsical, light-hearted"),
    ("mysterious", "enigmatic, eerie, shadowy"),
    ("acoustic", "unplugged guitar, piano and voice; singer-songwriter"),
    ("ambient", "ambient, new age, chill-out, atmospheric"),
    ("classical", "classical and orchestral: symphony, chamber, opera, choral"),
    ("electronic", "electronic and dance: house, techno, trance, synth-pop, drum and bass"),
    ("hiphop", "hip-hop and rap, trap, lo-fi beats"),
    ("rock", "rock: alternative, indie, punk, classic rock"),
    ("pop", "pop: radio hits, dance-pop, ballads"),
    ("jazz", "jazz: swing, bebop, cool, smooth, lounge"),
    ("folk", "folk, country, blues, americana, celtic"),
    ("soundtrack", "film and game scores, cinematic"),
    ("soul", "soul, funk, r&b, disco, gospel"),
    ("world", "latin, reggae, afrobeat and other traditions"),
    ("metal", "metal and the heaviest rock"),
    ("nature", "countryside, forests, mountains, animals"),
    ("urban", "the city: streets, buildings, traffic, crowds"),
    ("night", "night-time, darkness, city lights"),
    ("water", "sea, beach, lake, river, rain"),
    ("party", "festivals, concerts, dancing, celebrations"),
    ("summer", "sun, heat, holidays"),
    ("winter", "snow, ice, cold, Christmas"),
    ("love", "couples, weddings, romance"),
    ("travel", "journeys, roads, trains, far-away places"),
    ("sport", "games, athletes, workouts"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Affect,
    Moods,
    Styles,
    Themes,
}

pub const GROUPS: [Group; 4] = [Group::Affect, Group::Moods, Group::Styles, Group::Themes];

impl Group {
    /// Range of this group's dimensions in a mood vector.
    pub fn dims(self) -> std::ops::Range<usize> {
        match self {
            Group::Affect => 0..2,
            Group::Moods => 2..14,
            Group::Styles => 14..27,
            Group::Themes => 27..37,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Group::Affect => "affect",
            Group::Moods => "moods",
            Group::Styles => "styles",
            Group::Themes => "themes",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

pub type MoodVector = [f32; NUM_DIMS];

pub fn dim(name: &str) -> Option<usize> {
    DIM_NAMES.iter().position(|d| *d == name)
}

/// Which groups a vector actually carries (a track may lack some).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Groups(u8);

impl Groups {
    pub const ALL: Groups = Groups(0b1111);
    pub const NONE: Groups = Groups(0);
    pub fn with(self, g: Group) -> Groups {
        Groups(self.0 | 1 << g.index())
    }
    pub fn has(self, g: Group) -> bool {
        self.0 & (1 << g.index()) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn names(self) -> Vec<&'static str> {
        GROUPS.iter().filter(|g| self.has(**g)).map(|g| g.name()).collect()
    }
}

/// Group weights of the similarity (defaults documented in the README).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    pub affect: f32,
    pub moods: f32,
    pub styles: f32,
    pub themes: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { affect: 0.35, moods: 0.30, styles: 0.20, themes: 0.15 }
    }
}

impl Weights {
    pub fn of(&self, g: Group) -> f32 {
        match g {
            Group::Affect => self.affect,
            Group::Moods => self.moods,
            Group::Styles => self.styles,
            Group::Themes => self.themes,
        }
    }
}

/// Length of a similarity vector: the 37 dimensions plus the affect anchor.
pub const SIM_DIMS: usize = NUM_DIMS + 1;
/// Index of the constant affect anchor in a similarity vector.
pub const ANCHOR: usize = NUM_DIMS;
/// Third component of the affect vector (valence, arousal, ANCHOR_VALUE).
const ANCHOR_VALUE: f32 = 0.5;

pub type SimVector = [f32; SIM_DIMS];

/// Each group scaled to unit length times √W_g; divided by the weight of the
/// groups present when `normalise_presence` (the track side), so that the
/// dot product with an image vector is the weighted mean of group cosines.
pub fn sim_vector(v: &MoodVector, groups: Groups, w: &Weights, normalise_presence: bool) -> SimVector {
    let mut out = [0.0; SIM_DIMS];
    let mut present = 0.0;
    for g in GROUPS {
        if !groups.has(g) {
            continue;
        }
        let r = g.dims();
        let mut norm2: f32 = v[r.clone()].iter().map(|x| x * x).sum();
        if g == Group::Affect {
            norm2 += ANCHOR_VALUE * ANCHOR_VALUE;
        }
        present += w.of(g);
        if norm2 <= 0.0 {
            continue;
        }
        let scale = w.of(g).sqrt() / norm2.sqrt();
        for i in r {
            out[i] = v[i] * scale;
        }
        if g == Group::Affect {
            out[ANCHOR] = ANCHOR_VALUE * scale;
        }
    }
    if normalise_presence && present > 0.0 {
        out.iter_mut().for_each(|x| *x /= present);
    }
    out
}

/// Parsed derived tables (see models/derive_mood.py).
struct Tables {
    /// Per ImageNet class, its mood vector.
    classes: Vec<MoodVector>,
    /// Per mood and theme (rows in `LINK_SOURCES` order), its pull on each style.
    links: Vec<[f32; 13]>,
}

const LINK_SOURCES: std::ops::Range<usize> = 2..14;

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let classes = parse_table(include_str!("../models/mood/imagenet_mood.tsv"), 1)
        .into_iter()
        .map(|(_, v)| to_vector(&v))
        .collect();
    let links = parse_table(include_str!("../models/mood/style_links.tsv"), 1)
        .into_iter()
        .map(|(_, v)| {
            let mut row = [0.0; 13];
            row.copy_from_slice(&v[..13]);
            row
        })
        .collect();
    Tables { classes, links }
});

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

/// Circumplex positions (valence, arousal) of the mood labels, after
/// Russell (1980) and Posner, Russell & Peterson (2005).
pub const MOOD_VA: [(f32, f32); 12] = [
    (0.40, -0.70),  // calm
    (0.40, 0.80),   // energetic
    (0.85, 0.35),   // happy
    (-0.60, -0.45), // melancholic
    (0.60, -0.15),  // romantic
    (0.60, 0.20),   // hopeful
    (-0.55, 0.70),  // tense
    (0.30, -0.50),  // dreamy
    (0.05, -0.35),  // nostalgic
    (0.20, 0.75),   // epic
    (0.70, 0.55),   // playful
    (-0.25, -0.10), // mysterious
];

/// Mood label scores implied by a point in the valence/arousal plane: a
/// Gaussian kernel (σ = 0.45) around each label's circumplex position.
pub fn moods_from_affect(valence: f32, arousal: f32) -> [f32; 12] {
    MOOD_VA.map(|(v, a)| {
        let d2 = (valence - v).powi(2) + (arousal - a).powi(2);
        (-d2 / (2.0 * 0.45 * 0.45)).exp()
    })
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

/// The derived mood vector of every ImageNet class, in logit order.
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
    let links = styles_from_links(&v);
    for (i, l) in Group::Styles.dims().zip(links) {
        v[i] = 0.5 * sem[i] + 0.5 * l;
    }
    v
}

/// How the playlist relates to the picture's mood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoodMode {
    /// Match the picture's mood.
    Match,
    /// Lift it: valence halfway to +1, happy and hopeful up, melancholic and tense down.
    Uplift,
    /// Calm it: arousal halfway to -1, calm and dreamy up, energetic and tense down.
    Calm,
}

impl MoodMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MoodMode::Match => "match",
            MoodMode::Uplift => "uplift",
            MoodMode::Calm => "calm",
        }
    }

    /// The query an image's mood becomes under this mode.
    pub fn apply(self, v: &MoodVector) -> MoodVector {
        let mut q = *v;
        let shift = |q: &mut MoodVector, name: &str, by: f32| {
            if let Some(i) = dim(name) {
                q[i] = (q[i] + by).clamp(0.0, 1.0);
            }
        };
        match self {
            MoodMode::Match => {}
            MoodMode::Uplift => {
                q[0] += 0.5 * (1.0 - q[0]);
                shift(&mut q, "happy", 0.4);
                shift(&mut q, "hopeful", 0.4);
                shift(&mut q, "melancholic", -0.5);
                shift(&mut q, "tense", -0.5);
            }
            MoodMode::Calm => {
                q[1] -= 0.5 * (1.0 + q[1]);
                shift(&mut q, "calm", 0.4);
                shift(&mut q, "dreamy", 0.3);
                shift(&mut q, "energetic", -0.5);
                shift(&mut q, "tense", -0.5);
                shift(&mut q, "party", -0.4);
            }
        }
        q
    }
}

/// The strongest mood label of a vector.
pub fn top_mood(v: &MoodVector) -> &'static str {
    let r = Group::Moods.dims();
    let best = r.clone().max_by(|&a, &b| v[a].total_cmp(&v[b]).then(b.cmp(&a))).unwrap_or(r.start);
    DIM_NAMES[best]
}

/// Labels of a group sorted by strength, strongest first.
pub fn ranked(v: &MoodVector, g: Group) -> Vec<(&'static str, f32)> {
    let mut out: Vec<_> = g.dims().map(|i| (DIM_NAMES[i], v[i])).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}
