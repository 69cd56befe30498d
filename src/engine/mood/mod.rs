//! Mood stage: the one mood space that images and tracks share. How an
//! image's analysis maps into it is `image`.
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

pub mod head;
mod image;
pub mod kernel;

pub(crate) use image::parse_table;
pub use image::{
    ClassFix, SEMANTIC_MIN_PROB, class_fixes, class_table, image_mood, image_mood_from, learned_mood, semantic,
};

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
    /// The groups as bits (affect 1, moods 2, styles 4, themes 8), for files.
    pub fn bits(self) -> u8 {
        self.0
    }
    pub fn from_bits(bits: u8) -> Groups {
        Groups(bits & 0b1111)
    }
    pub fn names(self) -> Vec<&'static str> {
        GROUPS.iter().filter(|g| self.has(**g)).map(|g| g.name()).collect()
    }
}

/// Group weights of the similarity (defaults documented in the README).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
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
    /// Fails unless every weight is a non-negative number and one is positive.
    pub fn check(&self) -> crate::Result<()> {
        for g in GROUPS {
            let w = self.of(g);
            if !(w >= 0.0 && w.is_finite()) {
                return Err(crate::Error::setting(
                    "weights",
                    format!("{} must be a non-negative number, not {w}", g.name()),
                ));
            }
        }
        if GROUPS.iter().all(|&g| self.of(g) == 0.0) {
            return Err(crate::Error::setting("weights", "at least one weight must be positive"));
        }
        Ok(())
    }

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
