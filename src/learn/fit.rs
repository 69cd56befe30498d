//! The fits behind a profile, each regularised toward "no change", so that
//! little or noisy feedback moves little.
//!
//! **Image ratings → the mood head.** For each rated image the bundled head
//! predicts valence and arousal (and, when the ratings carry labels, the
//! twelve moods and ten themes); the residuals `rating − prediction` are
//! fitted on the head's own standardised inputs (pooled features, colour,
//! prior) by ridge regression, and the mean residual, shrunk by
//! `BIAS_PRIOR` ratings' worth toward zero, becomes a change of the head's
//! bias. How much of that the ratings support (no change, the shift only,
//! or the shift and a ridge correction with a penalty from `HEAD_LAMBDAS`)
//! is chosen by cross-validation on the ratings themselves, so ratings
//! that say nothing new change nothing. A person who always reads pictures
//! calmer than pixtape moves the bias; one who reads some kinds of picture
//! differently moves the weights.
//!
//! **Reactions → group weights and style preferences.** For a reaction to
//! track t picked for image i, the run's score is `s = Σ_g w_g c_g` where
//! `c_g` is the group's cosine (over the groups the track carries, as the
//! matcher computes it). The fit is a generalised linear model
//!
//! ```text
//! η = α + τ (s + Σ_g ρ_g c_g + Σ_k φ_k u_k)
//! ```
//!
//! with `u_k` the track's unit style share, logistic for `liked` and
//! Gaussian (one rating point of noise) for `rating`. It is fitted as
//! `η = α + β s + Σ_g ρ'_g c_g + Σ_k φ'_k u_k` with a ridge penalty
//! `MATCH_LAMBDA` on ρ' and φ' only (the run's own score, β, is free), then
//! read back in score units by dividing by `τ = max(β, SCORE_SCALE)`: a
//! person whose reactions follow the score closely (large β) moves the
//! weights by what the extra terms add to it, and one whose reactions do
//! not follow it at all (β near zero, random feedback) is divided by the
//! floor, so noise moves little. The profile's weights are `w + ρ` (at
//! least 0) and its style preferences φ.
//!
//! Held-out figures come from 5 folds by image (a hash of `image_id`, so no
//! image is in the fold it is scored on and the folds do not depend on the
//! feedback): the change is fitted without the fold and scored on it.

use super::feedback::{ImageRating, Reaction, Response};
use super::linalg::{Square, ridge};
use super::run::{Run, RunImage};
use crate::catalog::Catalog;
use crate::engine::mood::head::{INPUTS, MoodHead, OUTPUTS};
use crate::engine::mood::{self, GROUPS, Group, Groups, MoodVector, SIM_DIMS, SimVector, Weights};
use crate::error::{Error, Result};
use crate::recommend::profile::STYLES;

/// The bundled head's own ridge penalty, the middle of the ones the
/// correction chooses from.
pub const HEAD_LAMBDA: f64 = 1000.0;
/// The bias change is the mean residual shrunk as if this many ratings of
/// "no change" were added.
pub const BIAS_PRIOR: f64 = 5.0;
/// The least log-odds (or rating points) per unit of score that a change
/// is divided by: a 0.1 difference in score is worth at least one unit.
pub const SCORE_SCALE: f64 = 10.0;
/// Ridge penalty on the extra terms' coefficients, in log-odds (or rating
/// points) per unit of term.
pub const MATCH_LAMBDA: f64 = 5.0;
/// Fewest rows each kind of feedback needs.
pub const MIN_RATINGS: usize = 10;
pub const MIN_REACTIONS: usize = 20;
const FOLDS: u64 = 5;

/// The fold an image belongs to: the shard its id hashes to among `FOLDS`.
pub fn fold_of(image_id: &str) -> u64 {
    crate::run::shard::shard_of(image_id, FOLDS as u32) as u64
}

/// The head's standardised inputs, current outputs and targets of one rating.
struct Rated {
    fold: u64,
    z: Vec<f64>,
    current: [f32; OUTPUTS],
    /// Valence and arousal in [−1, 1]; then 22 labels in {0, 1} when given.
    target: Vec<f64>,
}

/// The mood head adjusted to `ratings` of images of `run`, and a line on
/// how it did on held-out images.
pub fn fit_head(head: &MoodHead, run: &Run, ratings: &[ImageRating]) -> Result<(MoodHead, String)> {
    let images: Vec<&RunImage> =
        ratings.iter().map(|r| known_image(run, &r.image_id, &r.locator)).collect::<Result<_>>()?;
    if ratings.len() < MIN_RATINGS {
        return Err(Error::setting(
            "feedback",
            format!("{} image ratings are too few to learn from (at least {MIN_RATINGS})", ratings.len()),
        ));
    }
    let mut rows = Vec::with_capacity(ratings.len());
    for (r, image) in ratings.iter().zip(images) {
        let x = MoodHead::inputs(&image.features, &image.colour, &image.prior);
        let mut target = vec![(r.valence as f64 - 5.0) / 4.0, (r.arousal as f64 - 5.0) / 4.0];
        if let Some(labels) = &r.labels {
            target.extend(mood::head::output_dims().skip(2).map(|d| if labels.contains(&d) { 1.0 } else { 0.0 }));
        }
        rows.push(Rated {
            fold: fold_of(&r.image_id),
            z: head.standardise(&x),
            current: head.outputs(&x, &image.prior),
            target,
        });
    }
    let all: Vec<&Rated> = rows.iter().collect();
    let choice = choose(&all)?;
    let (dw, db) = head_correction(&all, choice)?;
    let adjusted = head.adjusted(&dw, &db);

    // Held out: mean absolute error on the 1–9 scales, before and after,
    // with the correction (and its choice) made without the fold.
    let mut err = [[0.0f64; 2]; 2];
    let mut scored = 0usize;
    for f in 0..FOLDS {
        let train: Vec<&Rated> = rows.iter().filter(|r| r.fold != f).collect();
        let test: Vec<&Rated> = rows.iter().filter(|r| r.fold == f).collect();
        if test.is_empty() || train.len() < MIN_RATINGS {
            continue;
        }
        let (dw, db) = head_correction(&train, choose(&train)?)?;
        for r in test {
            for (o, [before, after]) in affect_predictions(r, &dw, &db).into_iter().enumerate() {
                err[0][o] += 4.0 * (before - r.target[o]).abs();
                err[1][o] += 4.0 * (after - r.target[o]).abs();
            }
            scored += 1;
        }
    }
    let line = if scored == 0 {
        format!("image ratings ({}): too few images for a held-out figure", choice.describe())
    } else {
        let n = scored as f64;
        format!(
            "image ratings, {scored} held out over {FOLDS} folds: mean absolute error (1–9) valence {:.2} → {:.2}, \
             arousal {:.2} → {:.2}; on all ratings the folds chose {}",
            err[0][0] / n,
            err[1][0] / n,
            err[0][1] / n,
            err[1][1] / n,
            choice.describe()
        )
    };
    Ok((adjusted, line))
}

/// How much correction the ratings support, chosen by cross-validation.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Correction {
    /// The bundled head as it is.
    None,
    /// Only a shift of each output.
    Bias,
    /// A shift and a ridge correction with this penalty.
    Ridge(f64),
}

impl Correction {
    fn describe(self) -> String {
        match self {
            Correction::None => "no change".into(),
            Correction::Bias => "a shift of the outputs only".into(),
            Correction::Ridge(l) => format!("a shift and a ridge correction (penalty {l:.0})"),
        }
    }
}

/// Penalties the choice considers, around the bundled head's own.
const HEAD_LAMBDAS: [f64; 4] = [HEAD_LAMBDA / 10.0, HEAD_LAMBDA, HEAD_LAMBDA * 10.0, HEAD_LAMBDA * 100.0];

/// The correction with the least cross-validated error of valence and
/// arousal on `rows` (folds by image), preferring less correction on ties:
/// feedback that says nothing new chooses `None`.
fn choose(rows: &[&Rated]) -> Result<Correction> {
    let mut candidates = vec![Correction::None, Correction::Bias];
    candidates.extend(HEAD_LAMBDAS.iter().rev().map(|l| Correction::Ridge(*l)));
    let folds: Vec<u64> = (0..FOLDS).filter(|f| rows.iter().any(|r| r.fold == *f)).collect();
    if folds.len() < 2 {
        return Ok(Correction::Bias);
    }
    let mut best = (f64::INFINITY, Correction::None);
    for c in candidates {
        let mut err = 0.0;
        for &f in &folds {
            let train: Vec<&Rated> = rows.iter().copied().filter(|r| r.fold != f).collect();
            let (dw, db) = head_correction(&train, c)?;
            for r in rows.iter().filter(|r| r.fold == f) {
                for (o, [_, after]) in affect_predictions(r, &dw, &db).into_iter().enumerate() {
                    err += (after - r.target[o]).abs();
                }
            }
        }
        // A more complex correction must do better by more than rounding.
        if err < best.0 * (1.0 - 1e-3) {
            best = (err, c);
        }
    }
    Ok(best.1)
}

/// Valence and arousal of a rated image before and after a correction.
fn affect_predictions(r: &Rated, dw: &[f64], db: &[f64]) -> [[f64; 2]; 2] {
    std::array::from_fn(|o| {
        let delta: f64 = db[o] + (0..INPUTS).map(|i| r.z[i] * dw[i * OUTPUTS + o]).sum::<f64>();
        let before = r.current[o] as f64;
        [before, (before + delta).clamp(-1.0, 1.0)]
    })
}

/// ΔW (`INPUTS x OUTPUTS`) and Δb (`OUTPUTS`) fitted on `rows`: affect on
/// every row, labels on the rows that carry them.
fn head_correction(rows: &[&Rated], choice: Correction) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut dw = vec![0.0; INPUTS * OUTPUTS];
    let mut db = vec![0.0; OUTPUTS];
    let lambda = match choice {
        Correction::None => return Ok((dw, db)),
        Correction::Bias => None,
        Correction::Ridge(l) => Some(l),
    };
    for (outputs, subset) in [
        (0..2, rows.to_vec()),
        (2..OUTPUTS, rows.iter().copied().filter(|r| r.target.len() == OUTPUTS).collect::<Vec<_>>()),
    ] {
        let n = subset.len();
        if n == 0 {
            continue;
        }
        let m = outputs.len();
        let mut resid = vec![0.0; n * m];
        for (i, r) in subset.iter().enumerate() {
            for (c, o) in outputs.clone().enumerate() {
                resid[i * m + c] = r.target[o] - r.current[o] as f64;
            }
        }
        for (c, o) in outputs.clone().enumerate() {
            let sum: f64 = (0..n).map(|i| resid[i * m + c]).sum();
            db[o] = sum / (n as f64 + BIAS_PRIOR);
            for i in 0..n {
                resid[i * m + c] -= db[o];
            }
        }
        let Some(lambda) = lambda else { continue };
        let z: Vec<f64> = subset.iter().flat_map(|r| r.z.iter().copied()).collect();
        let w = ridge(&z, n, INPUTS, &resid, m, lambda).map_err(Error::Model)?;
        for i in 0..INPUTS {
            for (c, o) in outputs.clone().enumerate() {
                dw[i * OUTPUTS + o] = w[i * m + c];
            }
        }
    }
    Ok((dw, db))
}

fn known_image<'r>(run: &'r Run, id: &str, locator: &str) -> Result<&'r RunImage> {
    run.image(id).ok_or_else(|| {
        Error::setting("feedback", format!("{locator}: image {id:?} is not in the run ({})", run.dir.display()))
    })
}

/// Per-group terms of one (query, track) pair.
pub const TERMS: usize = 4 + STYLES;

/// `c_g` for the four groups (the group's share of the score divided by
/// its weight, so `Σ_g w_g c_g` is the score), then the track's style
/// shares `u_k` (its style component over √w_styles).
pub fn terms(query: &SimVector, track: &SimVector, w: &Weights) -> [f64; TERMS] {
    let mut t = [0.0; TERMS];
    for (k, g) in GROUPS.iter().enumerate() {
        let wg = w.of(*g) as f64;
        if wg <= 0.0 {
            continue;
        }
        let mut dot: f64 = g.dims().map(|d| query[d] as f64 * track[d] as f64).sum();
        if *g == Group::Affect {
            dot += query[mood::ANCHOR] as f64 * track[mood::ANCHOR] as f64;
        }
        t[k] = dot / wg;
    }
    if w.styles > 0.0 {
        let k = (w.styles as f64).sqrt();
        for (j, d) in Group::Styles.dims().enumerate() {
            t[4 + j] = track[d] as f64 / k;
        }
    }
    t
}

/// One reaction, ready to fit.
struct Reacted {
    fold: u64,
    score: f64,
    terms: [f64; TERMS],
    y: f64,
}

/// Learned matching: new group weights and style preferences.
#[derive(Clone, Debug, PartialEq)]
pub struct Matching {
    pub weights: Weights,
    pub style_bias: [f32; STYLES],
}

/// Weights and style preferences fitted on `reactions` to picks for images
/// of `run` from `catalog` (whose weights the run used), and a line on how
/// they did on held-out images.
pub fn fit_matching(run: &Run, catalog: &Catalog, reactions: &[Reaction]) -> Result<(Matching, String)> {
    let index = catalog.positions();
    for r in reactions {
        known_image(run, &r.image_id, &r.locator)?;
        if !index.contains_key(r.track_id.as_str()) {
            return Err(Error::setting(
                "feedback",
                format!("{}: track {:?} is not in the catalog", r.locator, r.track_id),
            ));
        }
    }
    if reactions.len() < MIN_REACTIONS {
        return Err(Error::setting(
            "feedback",
            format!("{} reactions are too few to learn from (at least {MIN_REACTIONS})", reactions.len()),
        ));
    }
    let w = catalog.weights();
    let liked = matches!(reactions[0].response, Response::Liked(_));
    let mut rows = Vec::with_capacity(reactions.len());
    for r in reactions {
        let image = known_image(run, &r.image_id, &r.locator)?;
        let Some(&t) = index.get(r.track_id.as_str()) else {
            return Err(Error::setting(
                "feedback",
                format!("{}: track {:?} is not in the catalog", r.locator, r.track_id),
            ));
        };
        let q = query(&image.mood, &w);
        let tv = catalog.matrix().vector(t);
        let score: f64 = (0..SIM_DIMS).map(|d| q[d] as f64 * tv[d] as f64).sum();
        let y = match r.response {
            Response::Liked(b) => f64::from(u8::from(b)),
            Response::Rating(x) => x as f64,
        };
        rows.push(Reacted { fold: fold_of(&r.image_id), score, terms: terms(&q, &tv, &w), y });
    }
    if liked && rows.iter().all(|r| r.y == rows[0].y) {
        return Err(Error::setting("feedback", "every reaction is the same: nothing to learn which picks are better"));
    }
    let all: Vec<&Reacted> = rows.iter().collect();
    let theta = glm(&all, liked)?;
    let matching = to_matching(&w, &theta);

    // Held out: how well the score orders the reactions, before and after.
    let (mut before, mut after, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    for f in 0..FOLDS {
        let train: Vec<&Reacted> = rows.iter().filter(|r| r.fold != f).collect();
        let test: Vec<&Reacted> = rows.iter().filter(|r| r.fold == f).collect();
        if test.is_empty() || train.len() < MIN_REACTIONS || (liked && train.iter().all(|r| r.y == train[0].y)) {
            continue;
        }
        let theta = glm(&train, liked)?;
        for r in test {
            before.push(r.score);
            after.push(r.score + (0..TERMS).map(|k| theta[1 + k] * r.terms[k]).sum::<f64>());
            ys.push(r.y);
        }
    }
    let line = if ys.is_empty() {
        "reactions: too few images for a held-out figure".to_string()
    } else if liked {
        format!(
            "reactions, {} held out over {FOLDS} folds: AUC of the score for liked vs not {:.3} → {:.3}",
            ys.len(),
            auc(&before, &ys),
            auc(&after, &ys)
        )
    } else {
        format!(
            "reactions, {} held out over {FOLDS} folds: Spearman ρ of the score with the rating {:.3} → {:.3}",
            ys.len(),
            spearman(&before, &ys),
            spearman(&after, &ys)
        )
    };
    Ok((matching, line))
}

/// The query vector of an image of mood `mood` (match mode).
pub fn query(mood: &MoodVector, w: &Weights) -> SimVector {
    mood::sim_vector(mood, Groups::ALL, w, false)
}

fn to_matching(w: &Weights, theta: &[f64]) -> Matching {
    let old = [w.affect, w.moods, w.styles, w.themes];
    let new: Vec<f32> = old.iter().zip(&theta[1..5]).map(|(w, r)| (*w as f64 + r).max(0.0) as f32).collect();
    let weights = if new.iter().all(|x| *x == 0.0) {
        *w
    } else {
        Weights { affect: new[0], moods: new[1], styles: new[2], themes: new[3] }
    };
    let mut style_bias = [0.0f32; STYLES];
    for (b, t) in style_bias.iter_mut().zip(&theta[5..]) {
        *b = *t as f32;
    }
    Matching { weights, style_bias }
}

/// Penalised Newton fit of (α, β, ρ', φ'); `liked` picks the logistic
/// link, otherwise Gaussian. Returns (α, ρ, φ) in score units, divided by
/// `max(β, SCORE_SCALE)`. Steps are halved until the objective falls, and α
/// starts where the mean response is matched, so the first step is sane.
fn glm(rows: &[&Reacted], liked: bool) -> Result<Vec<f64>> {
    const P: usize = 2 + TERMS;
    let design = |r: &Reacted| {
        let mut x = [0.0; P];
        x[0] = 1.0;
        x[1] = r.score;
        x[2..].copy_from_slice(&r.terms);
        x
    };
    let eta = |r: &Reacted, theta: &[f64]| design(r).iter().zip(theta).map(|(a, b)| a * b).sum::<f64>();
    // Negative log-likelihood plus the penalty.
    let objective = |theta: &[f64]| -> f64 {
        let loss: f64 = rows
            .iter()
            .map(|r| {
                let e = eta(r, theta);
                if liked { e.max(0.0) + (-e.abs()).exp().ln_1p() - r.y * e } else { 0.5 * (r.y - e).powi(2) }
            })
            .sum();
        loss + 0.5 * MATCH_LAMBDA * theta[2..].iter().map(|t| t * t).sum::<f64>()
    };
    let n = rows.len() as f64;
    let mean_y = rows.iter().map(|r| r.y).sum::<f64>() / n;
    let mut theta = vec![0.0; P];
    theta[0] = if liked {
        let m = mean_y.clamp(1e-3, 1.0 - 1e-3);
        (m / (1.0 - m)).ln()
    } else {
        mean_y
    };
    let mut current = objective(&theta);
    for _ in 0..100 {
        let mut grad = vec![0.0; P];
        let mut hess = Square::zeros(P);
        for r in rows {
            let x = design(r);
            let e = eta(r, &theta);
            let (mean, weight) = if liked {
                let m = 1.0 / (1.0 + (-e).exp());
                (m, (m * (1.0 - m)).max(1e-9))
            } else {
                (e, 1.0)
            };
            for a in 0..P {
                grad[a] += (mean - r.y) * x[a];
                for b in 0..=a {
                    hess.a[a * P + b] += weight * x[a] * x[b];
                }
            }
        }
        for a in 0..P {
            for b in 0..a {
                hess.a[b * P + a] = hess.a[a * P + b];
            }
        }
        for k in 2..P {
            grad[k] += MATCH_LAMBDA * theta[k];
            hess.a[k * P + k] += MATCH_LAMBDA;
        }
        // The intercept and the score's slope are free; a whisker keeps
        // the system definite when every score is the same.
        hess.a[0] += 1e-9;
        hess.a[P + 1] += 1e-9;
        let mut step = grad;
        hess.solve(&mut step, 1).map_err(Error::Model)?;
        let mut scale = 1.0;
        let converged = loop {
            let next: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t - scale * s).collect();
            let value = objective(&next);
            if value <= current {
                let gain = current - value;
                (theta, current) = (next, value);
                break gain < 1e-10 * (1.0 + current.abs());
            }
            scale *= 0.5;
            if scale < 1e-6 {
                // No step lowers the objective: at its minimum.
                break true;
            }
        };
        if converged {
            break;
        }
    }
    let tau = theta[1].max(SCORE_SCALE);
    let mut out = vec![theta[0]];
    out.extend(theta[2..].iter().map(|t| t / tau));
    Ok(out)
}

/// Area under the ROC curve of `score` for `y = 1` against `y = 0`, ties half.
pub fn auc(score: &[f64], y: &[f64]) -> f64 {
    let r = ranks(score);
    let pos = y.iter().filter(|v| **v > 0.5).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.5;
    }
    let sum: f64 = r.iter().zip(y).filter(|(_, v)| **v > 0.5).map(|(r, _)| r).sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Spearman's ρ (Pearson's on average ranks).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 { 0.0 } else { cov / (va * vb).sqrt() }
}

/// 1-based average ranks.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        for k in i..=j {
            r[order[k]] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    r
}
