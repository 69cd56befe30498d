//! Sequence: target moods in order in, one track for each out, chosen slot
//! by slot so that neighbours change smoothly. The album's photo stretches
//! and a video's scenes both end here.
//!
//! Slot by slot, the best candidate not used yet (no track twice, no
//! second version of a song, at most `per_artist` tracks by one artist in
//! the whole sequence) whose arousal is within `MAX_AROUSAL_STEP` of the
//! previous pick's, less a tempo penalty of `TEMPO_PENALTY` per unit of
//! |ln(tempo ratio)| beyond ±15 %. When no candidate is within the step,
//! the one closest in arousal is taken and its note says so.

use std::collections::{HashMap, HashSet};

use crate::catalog::Catalog;
use crate::engine::mood::{ANCHOR, MoodVector, SimVector};
use crate::error::Result;
use crate::recommend::Recommender;
use crate::recommend::{playlist, versions};

/// Largest change of arousal (on its −1..1 scale) between neighbours.
pub const MAX_AROUSAL_STEP: f32 = 0.3;
/// Score lost per unit of |ln(tempo ratio)| past ±15 % (about 0.14).
pub const TEMPO_PENALTY: f32 = 0.5;
const TEMPO_FREE: f32 = 0.14;
/// Score lost by a track whose catalog row says nothing of its arousal:
/// its transitions cannot be checked.
const UNKNOWN_AROUSAL_PENALTY: f32 = 0.05;

/// A track's arousal from its similarity vector: the affect group holds
/// (valence, arousal, 0.5) scaled together, so arousal = 0.5 · v₁ / v_anchor.
pub fn track_arousal(v: &SimVector) -> Option<f32> {
    (v[ANCHOR] > 0.0).then(|| (0.5 * v[1] / v[ANCHOR]).clamp(-1.0, 1.0))
}

/// The track chosen for one slot.
#[derive(Clone, Debug)]
pub struct Chosen {
    /// Its row in the catalog.
    pub track: u32,
    /// Its similarity to the slot's target.
    pub score: f32,
    pub arousal: Option<f32>,
    /// The arousal of the pick before (the last one known).
    pub prev_arousal: Option<f32>,
    /// No candidate was within `MAX_AROUSAL_STEP`: the closest was taken.
    pub bridged: bool,
    /// Versions of its song among the slot's candidates.
    pub versions: usize,
}

impl Chosen {
    /// What the pick adds to its slot's reason: the arousal step from the
    /// pick before, the tempo, a bridged step, how the catalog describes
    /// the track, its versions.
    pub fn note(&self, catalog: &Catalog) -> String {
        let t = catalog.track(self.track as usize);
        let mut s = match (self.arousal, self.prev_arousal) {
            (Some(a), Some(b)) => format!(" · track arousal {a:+.2} ({:+.2})", a - b),
            (Some(a), None) => format!(" · track arousal {a:+.2}"),
            (None, _) => " · arousal unknown".to_string(),
        };
        if let Some(tempo) = t.tempo.filter(|_| !t.descriptor.contains("BPM")) {
            s.push_str(&format!(" · {tempo:.0} BPM"));
        }
        if self.bridged {
            s.push_str(&format!(" · closest step available (over {MAX_AROUSAL_STEP})"));
        }
        if !t.descriptor.is_empty() {
            s.push_str(&format!(" ↔ {}", t.descriptor));
        }
        if self.versions > 1 {
            s.push_str(&playlist::versions_note(self.versions));
        }
        s
    }
}

/// One track per target, in order; it stops early only when the catalog
/// runs out of tracks the rules allow.
pub fn choose(recommender: &Recommender, targets: &[MoodVector]) -> Result<Vec<Chosen>> {
    let catalog = recommender.catalog();
    let queries: Vec<SimVector> = targets.iter().map(|t| recommender.query(t).vector).collect();
    let candidates = recommender.matcher().top_k(&queries, recommender.settings().candidates())?;
    let per_artist = recommender.settings().per_artist;
    let hub = |t: u32| recommender.hubness().map_or(0.0, |h| recommender.settings().hub_penalty * h[t as usize]);

    let mut used: HashSet<u32> = HashSet::new();
    let mut songs: HashSet<String> = HashSet::new();
    let mut artists: HashMap<String, usize> = HashMap::new();
    let mut chosen: Vec<Chosen> = Vec::with_capacity(targets.len());
    let mut prev: Option<(Option<f32>, Option<f32>)> = None;
    for hits in &candidates {
        // (pick, value, key) of the best within the step, and of the closest in arousal.
        let mut best: Option<(Chosen, f32, Option<String>)> = None;
        let mut closest: Option<(Chosen, f32, f32, Option<String>)> = None;
        // Versions of one song among this slot's candidates: the best stands for all.
        let (hits, counts) = versions::collapse(hits, |h| {
            let t = catalog.track(h.track as usize);
            (t.title.to_string(), t.artist.to_string())
        });
        let (prev_a, prev_t) = prev.unwrap_or((None, None));
        for (h, versions) in hits.iter().zip(counts) {
            let t = catalog.track(h.track as usize);
            if used.contains(&h.track) {
                continue;
            }
            let key = versions::version(t.title, t.artist).map(|v| v.key);
            if key.as_ref().is_some_and(|k| songs.contains(k)) {
                continue;
            }
            let artist = t.artist.to_lowercase();
            if per_artist > 0 && !artist.is_empty() && artists.get(&artist).copied().unwrap_or(0) >= per_artist {
                continue;
            }
            let arousal = track_arousal(&catalog.matrix().vector(h.track as usize));
            let step = match (arousal, prev_a) {
                (Some(a), Some(b)) => (a - b).abs(),
                _ => 0.0,
            };
            let tempo_cost = match (t.tempo, prev_t) {
                (Some(x), Some(y)) if x > 0.0 && y > 0.0 => TEMPO_PENALTY * ((x / y).ln().abs() - TEMPO_FREE).max(0.0),
                _ => 0.0,
            };
            let unknown = if arousal.is_none() { UNKNOWN_AROUSAL_PENALTY } else { 0.0 };
            let value = h.score - hub(h.track) - tempo_cost - unknown;
            let c = Chosen { track: h.track, score: h.score, arousal, prev_arousal: prev_a, bridged: false, versions };
            if step <= MAX_AROUSAL_STEP {
                if best.as_ref().is_none_or(|b| value > b.1) {
                    best = Some((c, value, key));
                }
            } else if closest.as_ref().is_none_or(|b| step < b.2 || (step == b.2 && value > b.1)) {
                closest = Some((c, value, step, key));
            }
        }
        let Some((c, key)) = best.map(|(c, _, k)| (c, k)).or(closest.map(|(mut c, _, _, k)| {
            c.bridged = true;
            (c, k)
        })) else {
            break;
        };
        used.insert(c.track);
        if let Some(k) = key {
            songs.insert(k);
        }
        let t = catalog.track(c.track as usize);
        if !t.artist.is_empty() {
            *artists.entry(t.artist.to_lowercase()).or_default() += 1;
        }
        prev = Some((c.arousal.or(prev_a), t.tempo.or(prev_t)));
        chosen.push(c);
    }
    Ok(chosen)
}
