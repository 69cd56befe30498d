//! Synthetic users whose true preferences are known, to measure what
//! learning from feedback gains (and that random feedback gains nothing).
//!
//! For a run and a catalog, the images are split by `fit::fold_of`: fold 0
//! is held out, the rest give feedback. A user has a true utility for every
//! (image, track): the run's score with their own mood reading, weights and
//! style tastes. On the training images the user gives the feedback a real
//! person would: reactions to the run's top picks (liked with probability
//! rising with utility), or 1–9 ratings of each picture's valence and
//! arousal as they see it. The profile fitted from that feedback by
//! `learn::fit` (the code `pixtape learn` runs) then ranks the whole
//! catalog for each held-out image, as `recommend --profile` does (head in
//! the image's mood, weights in the catalog's vectors, style preferences in
//! the query), and NDCG@k measures that ranking against the user's truth.
//! The control replaces the feedback with random feedback of the same kind
//! and size: likes at a coin toss, or ratings at pixtape's own reading with
//! zero-mean noise, so that it carries nothing pixtape does not know.

use super::feedback::{ImageRating, Reaction, Response};
use super::fit::{self, Matching};
use super::run::{Run, RunImage};
use crate::catalog::Catalog;
use crate::engine::mood::head::MoodHead;
use crate::engine::mood::{self, Group, SimVector, Weights};
use crate::engine::similarity;
use crate::error::Result;
use crate::recommend::profile::Profile;
use crate::rng::Rng;

/// What a synthetic user truly wants.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    /// Added to pixtape's arousal (in [−1, 1]) when the user reads a picture.
    pub arousal_shift: f32,
    /// Added to pixtape's valence.
    pub valence_shift: f32,
    /// The group weights the user's own judgement has.
    pub weights: Option<Weights>,
    /// Score added per unit share of each style (by style name).
    pub tastes: Vec<(&'static str, f32)>,
    /// How the user gives feedback.
    pub gives: Gives,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gives {
    /// Likes or dislikes the run's picks.
    Reactions,
    /// Rates each picture's valence and arousal (1–9).
    Ratings,
}

/// What one simulation measured on the held-out images.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub user: String,
    pub feedback_rows: usize,
    pub held_out_images: usize,
    pub ndcg_before: f64,
    pub ndcg_after: f64,
    /// After learning from random feedback of the same kind and size.
    pub ndcg_random: f64,
}

/// Picks each user reacts to per training image.
const PICKS: usize = 20;

/// The user's true utility of every track of `catalog` for `image`.
fn utility(user: &User, image: &RunImage, catalog: &Catalog) -> Vec<f64> {
    let w = catalog.weights();
    let mut seen = image.mood;
    seen[0] = (seen[0] + user.valence_shift).clamp(-1.0, 1.0);
    seen[1] = (seen[1] + user.arousal_shift).clamp(-1.0, 1.0);
    let q = fit::query(&seen, &w);
    let tw = user.weights.unwrap_or(w);
    let tastes: Vec<(usize, f64)> = user
        .tastes
        .iter()
        .filter_map(|(s, v)| mood::dim(s).map(|d| (d - Group::Styles.dims().start, *v as f64)))
        .collect();
    (0..catalog.len())
        .map(|t| {
            let terms = fit::terms(&q, &catalog.matrix().vector(t), &w);
            let groups = [tw.affect, tw.moods, tw.styles, tw.themes];
            let base: f64 = groups.iter().zip(&terms[..4]).map(|(g, c)| *g as f64 * c).sum();
            base + tastes.iter().map(|(k, v)| v * terms[4 + k]).sum::<f64>()
        })
        .collect()
}

/// Feedback of `user` on the training images: real, or random of the same
/// kind and size.
fn feedback(user: &User, train: &[&RunImage], catalog: &Catalog, rng: &mut Rng, random: bool) -> Data {
    match user.gives {
        Gives::Ratings => Data::Ratings(
            train
                .iter()
                .map(|m| {
                    // Random ratings know nothing pixtape does not: its own
                    // reading with zero-mean noise of up to ±3 points (less
                    // near the ends of the scale, so clamping adds no bias).
                    let sam = |x: f32, rng: &mut Rng| {
                        let centre = 5.0 + 4.0 * x as f64;
                        let noise = if random {
                            let h = 3.0f64.min(9.0 - centre).min(centre - 1.0).max(0.0);
                            h * (2.0 * rng.uniform() - 1.0)
                        } else {
                            0.6 * rng.normal() as f64
                        };
                        (centre + noise).round().clamp(1.0, 9.0) as f32
                    };
                    let (dv, da) = if random { (0.0, 0.0) } else { (user.valence_shift, user.arousal_shift) };
                    let v = (m.mood[0] + dv).clamp(-1.0, 1.0);
                    let a = (m.mood[1] + da).clamp(-1.0, 1.0);
                    ImageRating {
                        image_id: m.id.clone(),
                        valence: sam(v, rng),
                        arousal: sam(a, rng),
                        labels: None,
                        locator: format!("simulated:{}", m.id),
                    }
                })
                .collect(),
        ),
        Gives::Reactions => {
            let w = catalog.weights();
            let queries: Vec<SimVector> = train.iter().map(|m| fit::query(&m.mood, &w)).collect();
            let hits = similarity::top_k(&queries, catalog.matrix(), PICKS);
            let mut out = Vec::new();
            for (m, h) in train.iter().zip(&hits) {
                let u = utility(user, m, catalog);
                let picked: Vec<f64> = h.iter().map(|x| u[x.track as usize]).collect();
                let mut sorted = picked.clone();
                sorted.sort_by(f64::total_cmp);
                let median = sorted[sorted.len() / 2];
                for (x, ux) in h.iter().zip(&picked) {
                    let p = if random { 0.5 } else { 1.0 / (1.0 + (-40.0 * (ux - median)).exp()) };
                    out.push(Reaction {
                        image_id: m.id.clone(),
                        track_id: catalog.track(x.track as usize).id.to_string(),
                        response: Response::Liked(rng.uniform() < p),
                        locator: format!("simulated:{}", m.id),
                    });
                }
            }
            Data::Reactions(out)
        }
    }
}

enum Data {
    Ratings(Vec<ImageRating>),
    Reactions(Vec<Reaction>),
}

/// The profile `learn` fits from `data`.
fn learn(run: &Run, catalog: &Catalog, data: &Data) -> Result<Profile> {
    let mut profile = Profile::neutral()?;
    match data {
        Data::Ratings(r) => profile.head = fit::fit_head(&profile.head, run, r)?.0,
        Data::Reactions(r) => {
            let (Matching { weights, style_bias }, _) = fit::fit_matching(run, catalog, r)?;
            profile.weights = Some(weights);
            profile.style_bias = style_bias;
        }
    }
    Ok(profile)
}

/// The top `k` tracks for `image` under `profile`, as `recommend --profile`
/// ranks them: the image's mood through the profile's head, the query with
/// the profile's weights and style preferences, against `catalog` built
/// with those weights.
fn ranking(profile: &Profile, image: &RunImage, catalog: &Catalog, k: usize) -> Vec<usize> {
    let mood = mood_with(&profile.head, image);
    let w = catalog.weights();
    let mut q = fit::query(&mood, &w);
    if let Some(shift) = profile.query_shift(&w) {
        for (d, s) in Group::Styles.dims().zip(shift) {
            q[d] += s;
        }
    }
    similarity::top_k(&[q], catalog.matrix(), k)[0].iter().map(|h| h.track as usize).collect()
}

/// An image's mood under `head`, from what the run stored.
pub fn mood_with(head: &MoodHead, image: &RunImage) -> mood::MoodVector {
    mood::learned_mood(
        head,
        &image.semantic,
        &head.feature_term(&image.features),
        &image.features,
        &image.colour,
        &image.cues,
        &image.faces,
    )
}

/// NDCG@k of `ranked` against graded relevance from `utility`: 3 for the
/// user's own top k tracks, 2 for their next 4k, 1 for the next 20k, so a
/// ranking earns full marks only with the tracks this user would pick.
pub fn ndcg(ranked: &[usize], utility: &[f64], k: usize) -> f64 {
    let mut order: Vec<usize> = (0..utility.len()).collect();
    order.sort_by(|&a, &b| utility[b].total_cmp(&utility[a]));
    let mut rel = vec![0.0f64; utility.len()];
    for (pos, &t) in order.iter().enumerate() {
        rel[t] = if pos < k {
            3.0
        } else if pos < 5 * k {
            2.0
        } else if pos < 25 * k {
            1.0
        } else {
            0.0
        };
    }
    let dcg = |items: &mut dyn Iterator<Item = usize>| -> f64 {
        items.take(k).enumerate().map(|(i, t)| (2f64.powf(rel[t]) - 1.0) / ((i + 2) as f64).log2()).sum()
    };
    let ideal = dcg(&mut order.iter().copied());
    if ideal == 0.0 { 0.0 } else { dcg(&mut ranked.iter().copied()) / ideal }
}

/// Runs the simulation for `user`. `catalog_for` builds the catalog with
/// given weights (a profile's weights change the tracks' vectors).
pub fn simulate(
    run: &Run,
    catalog: &Catalog,
    catalog_for: &dyn Fn(Weights) -> Result<Catalog>,
    user: &User,
    k: usize,
    seed: u64,
) -> Result<Outcome> {
    let train: Vec<&RunImage> = run.images.iter().filter(|m| fit::fold_of(&m.id) != 0).collect();
    let held: Vec<&RunImage> = run.images.iter().filter(|m| fit::fold_of(&m.id) == 0).collect();
    let mut rng = Rng(seed);
    let real = feedback(user, &train, catalog, &mut rng, false);
    let random = feedback(user, &train, catalog, &mut rng, true);
    let rows = match &real {
        Data::Ratings(r) => r.len(),
        Data::Reactions(r) => r.len(),
    };
    // The user's truth on each held-out image, computed once for the three
    // rankings it judges.
    let truth: Vec<Vec<f64>> = held.iter().map(|m| utility(user, m, catalog)).collect();
    let score = |profile: &Profile| -> Result<f64> {
        let reweighted;
        let cat = match profile.weights {
            Some(w) if w != catalog.weights() => {
                reweighted = catalog_for(w)?;
                &reweighted
            }
            _ => catalog,
        };
        let ndcgs: Vec<f64> = held.iter().zip(&truth).map(|(m, u)| ndcg(&ranking(profile, m, cat, k), u, k)).collect();
        Ok(mean(&ndcgs))
    };
    Ok(Outcome {
        user: user.name.clone(),
        feedback_rows: rows,
        held_out_images: held.len(),
        ndcg_before: score(&Profile::neutral()?)?,
        ndcg_after: score(&learn(run, catalog, &real)?)?,
        ndcg_random: score(&learn(run, catalog, &random)?)?,
    })
}

pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

/// A user's simulation over several draws of the feedback (seeds): the
/// changes in mean held-out NDCG, with their spread across draws. One
/// profile serves every held-out image, so images are not independent
/// evidence of what a kind of feedback does; draws are.
#[derive(Clone, Debug)]
pub struct Replicated {
    pub user: String,
    pub feedback_rows: usize,
    pub held_out_images: usize,
    pub draws: usize,
    pub ndcg_before: f64,
    /// Per draw, mean NDCG after learning from the user's feedback, and
    /// after learning from random feedback.
    pub after: Vec<f64>,
    pub random: Vec<f64>,
}

impl Replicated {
    /// Mean change and its t statistic across draws (`draws − 1` degrees
    /// of freedom): the mean over its standard error.
    pub fn change(&self, of: &[f64]) -> (f64, f64) {
        let d: Vec<f64> = of.iter().map(|x| x - self.ndcg_before).collect();
        let m = mean(&d);
        let sd = (d.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (d.len().max(2) - 1) as f64).sqrt();
        (m, if sd == 0.0 { 0.0 } else { m / (sd / (d.len() as f64).sqrt()) })
    }
}

/// `simulate` for seeds `seed .. seed + draws`.
pub fn replicate(
    run: &Run,
    catalog: &Catalog,
    catalog_for: &dyn Fn(Weights) -> Result<Catalog>,
    user: &User,
    k: usize,
    seed: u64,
    draws: usize,
) -> Result<Replicated> {
    let mut r = Replicated {
        user: user.name.clone(),
        feedback_rows: 0,
        held_out_images: 0,
        draws,
        ndcg_before: 0.0,
        after: Vec::new(),
        random: Vec::new(),
    };
    for s in seed..seed + draws as u64 {
        let o = simulate(run, catalog, catalog_for, user, k, s)?;
        (r.feedback_rows, r.held_out_images, r.ndcg_before) = (o.feedback_rows, o.held_out_images, o.ndcg_before);
        r.after.push(o.ndcg_after);
        r.random.push(o.ndcg_random);
    }
    Ok(r)
}

impl User {
    /// A user who reads pictures and weighs the groups as pixtape does and
    /// has no style tastes; the fields say how they differ.
    pub fn new(name: &str, gives: Gives) -> User {
        User { name: name.into(), arousal_shift: 0.0, valence_shift: 0.0, weights: None, tastes: Vec::new(), gives }
    }
}

/// The synthetic users the README's table reports.
pub fn users() -> Vec<User> {
    vec![
        User {
            tastes: vec![("jazz", 0.3), ("metal", -0.3)],
            ..User::new("likes jazz, dislikes metal", Gives::Reactions)
        },
        User {
            weights: Some(Weights { affect: 0.6, moods: 0.3, styles: 0.0, themes: 0.1 }),
            ..User::new("cares for affect, not styles", Gives::Reactions)
        },
        User { arousal_shift: -0.5, ..User::new("calmer than pixtape thinks", Gives::Ratings) },
        User { valence_shift: -0.4, ..User::new("gloomier than pixtape thinks", Gives::Ratings) },
    ]
}
