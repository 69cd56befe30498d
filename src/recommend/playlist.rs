//! Playlist stage: from an image's exact top candidates to a short, diverse,
//! explained playlist.
//!
//! Candidates (the best `candidates` tracks by similarity) are re-ranked by
//! maximal marginal relevance (Carbonell & Goldstein 1998): each next pick
//! maximises `λ·score − (1 − λ)·max cos(track, already picked)`, with
//! λ = `relevance` (default 0.7: mostly relevance, enough variety that a
//! playlist is not ten near-identical tracks), and no artist appears more
//! than `per_artist` times. Versions of one song (live, remastered, radio
//! edit, "feat.": see `versions`) are collapsed before re-ranking: the
//! best-scoring version stays, and its explanation says how many it stands
//! for. Each pick says which dimensions contributed most to its score and
//! how the catalog describes it.

use crate::catalog::Catalog;
use crate::engine::colour::ColourFeatures;
use crate::engine::mood::{ANCHOR, DIM_NAMES, MoodVector, SimVector};
use crate::engine::similarity::Hit;

/// Changes when the same settings would pick differently (runs made
/// before and after do not share a fingerprint): 2 collapses versions.
pub const ALGORITHM: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlaylistSettings {
    /// Tracks per playlist.
    pub length: usize,
    /// Most tracks by one artist (0: no limit).
    pub per_artist: usize,
    /// λ of maximal marginal relevance, in [0, 1]; 1 ignores diversity.
    pub relevance: f32,
    /// β of the hub counter: a track's score is lowered by β times its
    /// hubness (see `recommend::hubness`) when re-ranking; 0 turns it off.
    pub hub_penalty: f32,
    /// Most playlists of a run (of a shard) one track may be in; 0: no cap
    /// (see `Exposure`).
    pub max_exposure: u32,
}

impl Default for PlaylistSettings {
    fn default() -> Self {
        PlaylistSettings { length: 20, per_artist: 2, relevance: 0.7, hub_penalty: 0.0, max_exposure: 0 }
    }
}

impl PlaylistSettings {
    /// How many exact top tracks to re-rank.
    pub fn candidates(&self) -> usize {
        (self.length * 10).max(200)
    }

    /// Picks to rank per image: with an exposure cap, every candidate, so
    /// that the cap has replacements to take from.
    pub fn ranked(&self) -> usize {
        if self.max_exposure > 0 { self.candidates() } else { self.length }
    }
}

/// The per-run exposure cap: no track in more than `cap` playlists. Images
/// are capped in input order (the sink's), each keeping the first of its
/// ranked picks (`PlaylistSettings::ranked`) that are still under the cap;
/// when fewer than a playlist's length are, the most relevant capped ones
/// fill it. Input order, not the order batches finish in, decides, so a
/// run gives the same playlists however it is scheduled, and a resumed run
/// restores the counts from its committed parts (`record`). In a sharded
/// run the cap holds per shard.
pub struct Exposure {
    cap: u32,
    length: usize,
    counts: std::collections::HashMap<u32, u32>,
}

impl Exposure {
    /// The cap of `s`, if it has one.
    pub fn new(s: &PlaylistSettings) -> Option<Exposure> {
        (s.max_exposure > 0).then(|| Exposure { cap: s.max_exposure, length: s.length, counts: Default::default() })
    }

    /// Counts a pick made before (in a committed part).
    pub fn record(&mut self, track: u32) {
        *self.counts.entry(track).or_default() += 1;
    }

    /// One image's playlist from its ranked picks, in input order.
    pub fn apply(&mut self, ranked: Vec<Pick>) -> Vec<Pick> {
        let (mut kept, mut capped): (Vec<Pick>, Vec<Pick>) = (Vec::new(), Vec::new());
        for p in ranked {
            if kept.len() < self.length && self.counts.get(&p.track).copied().unwrap_or(0) < self.cap {
                kept.push(p);
            } else {
                capped.push(p);
            }
        }
        let short = self.length.saturating_sub(kept.len());
        kept.extend(capped.into_iter().take(short));
        for p in &kept {
            self.record(p.track);
        }
        kept
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pick {
    pub track: u32,
    pub score: f32,
    /// The dimensions that contributed most (name, contribution), largest first.
    pub contributions: Vec<(&'static str, f32)>,
    pub explanation: String,
}

fn norm(v: &SimVector) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn cosine(a: &SimVector, an: f32, b: &SimVector, bn: f32) -> f32 {
    if an == 0.0 || bn == 0.0 {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (an * bn)
}

/// Builds one image's playlist from its candidates (best first). `why`
/// says what drove the image's mood (see `mood_drivers`); every pick's
/// explanation starts with it. `hubness`, one value per catalog track,
/// lowers the re-ranking score of hubs by `hub_penalty` times it; the
/// picks keep their similarity as their score.
pub fn build(
    query: &SimVector,
    image: &MoodVector,
    why: &str,
    candidates: &[Hit],
    catalog: &Catalog,
    s: &PlaylistSettings,
    hubness: Option<&[f32]>,
) -> Vec<Pick> {
    let (candidates, versions) = crate::recommend::versions::collapse(candidates, |h| {
        let t = catalog.track(h.track as usize);
        (t.title.to_string(), t.artist.to_string())
    });
    let candidates = &candidates[..];
    let vectors: Vec<SimVector> = candidates.iter().map(|h| catalog.matrix().vector(h.track as usize)).collect();
    let norms: Vec<f32> = vectors.iter().map(norm).collect();
    let mut chosen: Vec<usize> = Vec::with_capacity(s.length);
    let mut max_sim = vec![f32::NEG_INFINITY; candidates.len()];
    let mut used = vec![false; candidates.len()];
    let mut per_artist: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    while chosen.len() < s.length {
        let mut best: Option<(usize, f32)> = None;
        for (i, h) in candidates.iter().enumerate() {
            if used[i] {
                continue;
            }
            let artist = catalog.track(h.track as usize).artist.to_lowercase();
            if s.per_artist > 0 && !artist.is_empty() && per_artist.get(&artist).copied().unwrap_or(0) >= s.per_artist {
                continue;
            }
            let redundancy = if chosen.is_empty() { 0.0 } else { max_sim[i] };
            let hub = hubness.map_or(0.0, |hb| s.hub_penalty * hb[h.track as usize]);
            let mmr = s.relevance * (h.score - hub) - (1.0 - s.relevance) * redundancy;
            if best.is_none_or(|(_, b)| mmr > b) {
                best = Some((i, mmr));
            }
        }
        let Some((i, _)) = best else { break };
        used[i] = true;
        chosen.push(i);
        let artist = catalog.track(candidates[i].track as usize).artist.to_lowercase();
        if !artist.is_empty() {
            *per_artist.entry(artist).or_default() += 1;
        }
        for j in 0..candidates.len() {
            if !used[j] {
                max_sim[j] = max_sim[j].max(cosine(&vectors[i], norms[i], &vectors[j], norms[j]));
            }
        }
    }
    chosen
        .into_iter()
        .map(|i| {
            let h = candidates[i];
            let contributions = contributions(query, &vectors[i]);
            let descriptor = catalog.track(h.track as usize).descriptor;
            let mut explanation = explain(&contributions, image, why, descriptor);
            if versions[i] > 1 {
                explanation.push_str(&versions_note(versions[i]));
            }
            Pick { track: h.track, score: h.score, explanation, contributions }
        })
        .collect()
}

/// What an explanation adds when a pick stands for several versions.
pub fn versions_note(n: usize) -> String {
    format!(" · best-scoring of {n} versions")
}

/// Per-dimension shares of a score (the affect anchor is folded into
/// neither valence nor arousal: it only says both sides have an affect).
pub fn contributions(query: &SimVector, track: &SimVector) -> Vec<(&'static str, f32)> {
    let mut c: Vec<(&'static str, f32)> =
        (0..ANCHOR).map(|i| (DIM_NAMES[i], query[i] * track[i])).filter(|(_, x)| *x > 1e-4).collect();
    c.sort_by(|a, b| b.1.total_cmp(&a.1));
    c.truncate(3);
    c
}

/// Light and colour in a few words: "warm low light", "cool bright light".
pub fn light_phrase(c: &ColourFeatures) -> String {
    let tone = if c.warmth > 0.15 {
        "warm "
    } else if c.warmth < -0.1 {
        "cool "
    } else {
        ""
    };
    let level = if c.brightness < 0.3 {
        "low light"
    } else if c.brightness > 0.6 {
        "bright light"
    } else {
        "soft light"
    };
    let vivid = if c.colourfulness > 70.0 { "vivid " } else { "" };
    format!("{vivid}{tone}{level}")
}

/// What drove a picture's mood, in a few words: its light, what is in it
/// (or its faces, when they moved the mood), and the mood they add up to,
/// e.g. "warm low light, lakeside → calm 0.71", "two smiling faces, warm
/// soft light → happy 0.82".
pub fn mood_drivers(colour: &ColourFeatures, scene: &str, faces: Option<&str>, label: &str, score: f32) -> String {
    match faces {
        Some(f) => format!("{f}, {} → {label} {score:.2}", light_phrase(colour)),
        None => format!("{}, {scene} → {label} {score:.2}", light_phrase(colour)),
    }
}

/// Faces in a few words, by their count and the mix's top expression:
/// "a smiling face", "three angry faces".
pub fn faces_phrase(count: usize, expression: &str) -> String {
    let adjective = match expression {
        "happy" => "smiling",
        "surprise" => "surprised",
        "fear" => "frightened",
        "disgust" => "disgusted",
        "neutral" => "straight",
        other => other,
    };
    const WORDS: [&str; 9] = ["no", "a", "two", "three", "four", "five", "six", "seven", "eight"];
    match count {
        1 => format!("a {adjective} face"),
        n if n < WORDS.len() => format!("{} {adjective} faces", WORDS[n]),
        n => format!("{n} faces, mostly {adjective}"),
    }
}

fn explain(contributions: &[(&'static str, f32)], image: &MoodVector, why: &str, descriptor: &str) -> String {
    let parts: Vec<String> = contributions
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            let i = DIM_NAMES.iter().position(|d| d == name).unwrap_or(0);
            match (*name, k) {
                ("valence", _) => {
                    format!("{} mood {:+.2}", if image[0] >= 0.0 { "bright" } else { "sombre" }, image[0])
                }
                ("arousal", _) => format!("{} {:+.2}", if image[1] >= 0.0 { "lively" } else { "quiet" }, image[1]),
                (_, 0) => format!("{name} {:.2}", image[i]),
                _ => name.to_string(),
            }
        })
        .collect();
    // "→ calm 0.86" already says what a first "calm 0.86" part would.
    let parts: Vec<String> = parts.into_iter().filter(|p| !why.ends_with(p.as_str())).collect();
    let track = if descriptor.is_empty() { "no description" } else { descriptor };
    match parts.is_empty() {
        true => format!("{why} ↔ {track}"),
        false => format!("{why} · {} ↔ {track}", parts.join(" · ")),
    }
}
