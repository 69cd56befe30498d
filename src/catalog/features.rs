//! From what a catalog row carries to a point in the mood space. Each source
//! has its formula here (the README repeats them):
//!
//! * **valence/arousal** columns, normalised to [-1, 1] by their declared or
//!   detected range (`VaRange`); moods follow from the circumplex kernel
//!   (`mood::moods_from_affect`).
//! * **audio features** in the style of Spotify's export (values in [0, 1]
//!   except tempo in BPM and loudness in dB): valence as above; arousal =
//!   2·(0.5·energy + 0.2·loud + 0.15·fast + 0.15·danceability) − 1 with
//!   loud = (loudness + 60)/60 and fast = (tempo − 60)/120, both clipped to
//!   [0, 1] (louder and faster is more arousing: Gomez & Danuser 2007);
//!   styles: acoustic = acousticness; ambient = instrumentalness·(1 −
//!   energy); classical = instrumentalness·acousticness·(1 − danceability);
//!   electronic = (1 − acousticness)·danceability; hiphop =
//!   clip(3·speechiness − 0.33); rock = energy·(1 − acousticness)·(1 −
//!   danceability); a major `mode` adds 0.1 to happy, a minor one to
//!   melancholic.
//! * **tags** through the derived vocabulary (`models/mood/tags.tsv`): a
//!   label dimension is the probabilistic OR of its tags' affinities,
//!   1 − Π(1 − aᵢ); valence/arousal is the mean over tags that carry affect,
//!   else the circumplex mean of the mood labels. A tempo column pulls
//!   arousal: 0.7·tags + 0.3·clip((bpm − 100)/50, −1, 1).
//! * **embedding**: a list of 37 numbers in the mood space's order, used as
//!   given (clipped to each dimension's range).
//!
//! When several sources are present, explicit valence/arousal wins for
//! affect; tags and features add moods, styles and themes.

use foldhash::HashMap;
use std::sync::LazyLock;

use crate::engine::mood::{self, Group, Groups, MOOD_VA, MoodVector, NUM_DIMS};

/// A tag of the vocabulary.
pub struct TagInfo {
    pub name: String,
    pub vector: MoodVector,
    /// Whether valence/arousal are meaningful for this tag.
    pub has_affect: bool,
    /// 1 − the label affinities clipped to [0, 1]: the tag's factor in the
    /// probabilistic OR (see `track_mood`), worked out once.
    miss: MoodVector,
}

/// The tag vocabulary: its tags, and each one's place by `tag_key`.
pub struct Vocabulary {
    pub tags: Vec<TagInfo>,
    index: HashMap<String, u16>,
}

impl Vocabulary {
    /// The place of the tag whose key is `key`.
    pub fn find(&self, key: &str) -> Option<u16> {
        self.index.get(key).copied()
    }
}

pub static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| {
    let mut tags = Vec::new();
    let mut index = HashMap::default();
    for (keys, values) in mood::parse_table(include_str!("../../models/mood/tags.tsv"), 2) {
        let has_affect = !values[0].is_nan();
        let mut vector = [0.0; NUM_DIMS];
        for (o, x) in vector.iter_mut().zip(&values) {
            *o = if x.is_nan() { 0.0 } else { *x };
        }
        // A later row of the same key replaces the earlier, as a map would.
        let place = *index.entry(tag_key(&keys[0])).or_insert(tags.len() as u16);
        let miss = vector.map(|x| 1.0 - x.clamp(0.0, 1.0));
        let info = TagInfo { name: keys[0].clone(), vector, has_affect, miss };
        if place as usize == tags.len() { tags.push(info) } else { tags[place as usize] = info }
    }
    Vocabulary { tags, index }
});

/// The dimensions the formulas name, looked up once: by name, for every
/// row, the lookups were a tenth of placing a catalog.
struct Dims {
    acoustic: Option<usize>,
    ambient: Option<usize>,
    classical: Option<usize>,
    electronic: Option<usize>,
    hiphop: Option<usize>,
    rock: Option<usize>,
    happy: Option<usize>,
    melancholic: Option<usize>,
}

static DIMS: LazyLock<Dims> = LazyLock::new(|| Dims {
    acoustic: mood::dim("acoustic"),
    ambient: mood::dim("ambient"),
    classical: mood::dim("classical"),
    electronic: mood::dim("electronic"),
    hiphop: mood::dim("hiphop"),
    rock: mood::dim("rock"),
    happy: mood::dim("happy"),
    melancholic: mood::dim("melancholic"),
});

/// Lower case, letters and digits only: "Hip-Hop" and "hip hop" are one tag.
pub fn tag_key(tag: &str) -> String {
    tag.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Splits a tags cell: `,`, `|`, `;` separate; MTG-Jamendo's
/// `genre---ambient` and `mood/theme---relaxing` lose their prefixes.
pub fn split_tags(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([',', '|', ';']).map(|t| t.rsplit("---").next().unwrap_or(t).trim()).filter(|t| !t.is_empty())
}

/// Declared or detected scale of valence/arousal columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaRange {
    /// [0, 1]
    Unit,
    /// [-1, 1]
    Signed,
    /// 1 … 9 (SAM ratings)
    Likert9,
    /// 0 … 100
    Percent,
    /// z-scores: mapped with tanh(z / 1.5)
    ZScore,
}

impl VaRange {
    pub fn parse(s: &str) -> Option<VaRange> {
        Some(match s {
            "unit" | "0-1" | "0..1" => VaRange::Unit,
            "signed" | "-1-1" | "-1..1" => VaRange::Signed,
            "1-9" | "1..9" | "likert" => VaRange::Likert9,
            "0-100" | "0..100" | "percent" => VaRange::Percent,
            "z" | "zscore" | "z-score" => VaRange::ZScore,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            VaRange::Unit => "0..1",
            VaRange::Signed => "-1..1",
            VaRange::Likert9 => "1..9",
            VaRange::Percent => "0..100",
            VaRange::ZScore => "z-scores",
        }
    }

    /// The smallest range that holds every value seen; z-scores when values
    /// leave [-1, 1] on both sides around a mean near 0.
    pub fn detect(min: f64, max: f64, mean: f64, sd: f64) -> Option<VaRange> {
        if min >= 0.0 && max <= 1.0 {
            Some(VaRange::Unit)
        } else if min >= -1.0 && max <= 1.0 {
            Some(VaRange::Signed)
        } else if min >= 1.0 && max <= 9.0 {
            Some(VaRange::Likert9)
        } else if min >= 0.0 && max <= 100.0 && max > 9.0 {
            Some(VaRange::Percent)
        } else if mean.abs() < 0.5 && (0.3..3.0).contains(&sd) {
            Some(VaRange::ZScore)
        } else {
            None
        }
    }

    /// Whether a value may occur on this scale.
    pub fn admits(self, x: f64) -> bool {
        match self {
            VaRange::Unit => (0.0..=1.0).contains(&x),
            VaRange::Signed => (-1.0..=1.0).contains(&x),
            VaRange::Likert9 => (1.0..=9.0).contains(&x),
            VaRange::Percent => (0.0..=100.0).contains(&x),
            VaRange::ZScore => x.abs() <= 10.0,
        }
    }

    /// To [-1, 1].
    pub fn normalise(self, x: f64) -> f32 {
        let y = match self {
            VaRange::Unit => 2.0 * x - 1.0,
            VaRange::Signed => x,
            VaRange::Likert9 => (x - 5.0) / 4.0,
            VaRange::Percent => x / 50.0 - 1.0,
            VaRange::ZScore => (x / 1.5).tanh(),
        };
        y.clamp(-1.0, 1.0) as f32
    }
}

/// Audio features of one row, each optional.
#[derive(Clone, Copy, Debug, Default)]
pub struct AudioFeatures {
    pub energy: Option<f32>,
    pub danceability: Option<f32>,
    pub tempo: Option<f32>,
    pub acousticness: Option<f32>,
    pub instrumentalness: Option<f32>,
    pub loudness: Option<f32>,
    pub mode: Option<f32>,
    pub speechiness: Option<f32>,
}

impl AudioFeatures {
    /// Enough to say something about arousal or style.
    pub fn any_beyond_tempo(&self) -> bool {
        self.energy.is_some()
            || self.danceability.is_some()
            || self.acousticness.is_some()
            || self.instrumentalness.is_some()
            || self.speechiness.is_some()
    }

    fn arousal(&self) -> Option<f32> {
        let energy = self.energy?;
        let loud = self.loudness.map_or(0.5, |l| ((l + 60.0) / 60.0).clamp(0.0, 1.0));
        let fast = self.tempo.map_or(0.5, |t| ((t - 60.0) / 120.0).clamp(0.0, 1.0));
        let dance = self.danceability.unwrap_or(0.5);
        Some((2.0 * (0.5 * energy + 0.2 * loud + 0.15 * fast + 0.15 * dance) - 1.0).clamp(-1.0, 1.0))
    }
}

/// Everything one row says about its mood, gathered before the formulas.
#[derive(Debug, Default)]
pub struct Evidence {
    /// Normalised explicit valence/arousal.
    pub valence: Option<f32>,
    pub arousal: Option<f32>,
    pub features: AudioFeatures,
    /// Known tags (places in `VOCABULARY`), each once, in file order.
    pub tags: Vec<u16>,
    pub embedding: Option<MoodVector>,
    /// The genre the row names (not mood evidence, but read from the same
    /// tags cells): "" when it names none.
    pub genre: String,
}

/// The mood vector a row's evidence implies, and which groups it carries.
pub fn track_mood(e: &Evidence) -> (MoodVector, Groups) {
    if let Some(v) = e.embedding {
        let mut groups = Groups::NONE;
        for g in mood::GROUPS {
            if v[g.dims()].iter().any(|x| *x != 0.0) {
                groups = groups.with(g);
            }
        }
        return (v, groups);
    }
    let mut v = [0.0f32; NUM_DIMS];
    let mut groups = Groups::NONE;

    // Tags: probabilistic OR per label dimension, mean affect.
    let vocab = &*VOCABULARY;
    let mut miss = [1.0f32; NUM_DIMS];
    let (mut tv, mut ta, mut n_aff) = (0.0f32, 0.0f32, 0);
    for &t in &e.tags {
        let info = &vocab.tags[t as usize];
        for (m, x) in miss[2..].iter_mut().zip(&info.miss[2..]) {
            *m *= x;
        }
        if info.has_affect {
            tv += info.vector[0];
            ta += info.vector[1];
            n_aff += 1;
        }
    }
    for i in 2..NUM_DIMS {
        v[i] = 1.0 - miss[i];
    }
    let f = &e.features;
    // Features: styles and a mode nudge.
    if f.any_beyond_tempo() {
        let acoustic = f.acousticness.unwrap_or(0.0);
        let instr = f.instrumentalness.unwrap_or(0.0);
        let energy = f.energy.unwrap_or(0.5);
        let dance = f.danceability.unwrap_or(0.5);
        let speech = f.speechiness.unwrap_or(0.0);
        let d = &*DIMS;
        let style = |v: &mut MoodVector, i: Option<usize>, x: f32| {
            if let Some(i) = i {
                v[i] = v[i].max(x.clamp(0.0, 1.0));
            }
        };
        style(&mut v, d.acoustic, acoustic);
        style(&mut v, d.ambient, instr * (1.0 - energy));
        style(&mut v, d.classical, instr * acoustic * (1.0 - dance));
        style(&mut v, d.electronic, (1.0 - acoustic) * dance);
        style(&mut v, d.hiphop, 3.0 * speech - 0.33);
        style(&mut v, d.rock, energy * (1.0 - acoustic) * (1.0 - dance));
    }

    // Affect: explicit columns, else features, else tags, else mood labels.
    let mut valence = e.valence;
    let mut arousal = e.arousal.or_else(|| f.arousal());
    if n_aff > 0 {
        valence = valence.or(Some(tv / n_aff as f32));
        arousal = arousal.or(Some(ta / n_aff as f32));
    }
    let moods = Group::Moods.dims();
    let mood_total: f32 = v[moods.clone()].iter().sum();
    if (valence.is_none() || arousal.is_none()) && mood_total > 0.0 {
        let (mut mv, mut ma) = (0.0, 0.0);
        for (i, (va, aa)) in moods.clone().zip(MOOD_VA) {
            mv += v[i] * va;
            ma += v[i] * aa;
        }
        valence = valence.or(Some(mv / mood_total));
        arousal = arousal.or(Some(ma / mood_total));
    }
    if let (Some(t), Some(a)) = (f.tempo, arousal)
        && e.arousal.is_none()
        && f.energy.is_none()
    {
        arousal = Some(0.7 * a + 0.3 * ((t - 100.0) / 50.0).clamp(-1.0, 1.0));
    }
    if let (Some(val), Some(aro)) = (valence, arousal) {
        v[0] = val.clamp(-1.0, 1.0);
        v[1] = aro.clamp(-1.0, 1.0);
        groups = groups.with(Group::Affect);
        // Moods implied by affect, where the row has no mood words.
        let kernel = mood::moods_from_affect(v[0], v[1]);
        let weight = if mood_total > 0.0 { 0.5 } else { 1.0 };
        for (i, k) in moods.clone().zip(kernel) {
            v[i] = v[i].max(weight * k);
        }
    }
    if let Some(m) = f.mode
        && let Some(i) = if m >= 0.5 { DIMS.happy } else { DIMS.melancholic }
    {
        v[i] = (v[i] + 0.1).min(1.0);
    }
    for g in [Group::Moods, Group::Styles, Group::Themes] {
        if v[g.dims()].iter().any(|x| *x > 0.0) {
            groups = groups.with(g);
        }
    }
    (v, groups)
}
