//! Reactions to picks → group weights and style preferences: a penalised
//! generalised linear model of each reaction on the run's score and each
//! group's term, read back in score units (see `fit`).

use super::{FOLDS, MIN_REACTIONS, auc, fold_of, known_image, spearman};
use crate::catalog::Catalog;
use crate::engine::mood::{self, GROUPS, Group, Groups, MoodVector, SIM_DIMS, SimVector, Weights};
use crate::error::{Error, Result};
use crate::learn::feedback::{Reaction, Response};
use crate::learn::linalg::Square;
use crate::learn::run::Run;
use crate::recommend::profile::STYLES;

/// The least log-odds (or rating points) per unit of score that a change
/// is divided by: a 0.1 difference in score is worth at least one unit.
pub const SCORE_SCALE: f64 = 10.0;
/// Ridge penalty on the extra terms' coefficients, in log-odds (or rating
/// points) per unit of term.
pub const MATCH_LAMBDA: f64 = 5.0;

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
