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

mod ratings;
mod reactions;

pub use ratings::{BIAS_PRIOR, HEAD_LAMBDA, fit_head};
pub use reactions::{MATCH_LAMBDA, Matching, SCORE_SCALE, TERMS, fit_matching, query, terms};

use super::run::{Run, RunImage};
use crate::error::{Error, Result};

/// Fewest rows each kind of feedback needs.
pub const MIN_RATINGS: usize = 10;
pub const MIN_REACTIONS: usize = 20;
pub(super) const FOLDS: u64 = 5;

/// The fold an image belongs to: the shard its id hashes to among `FOLDS`.
pub fn fold_of(image_id: &str) -> u64 {
    crate::run::shard::shard_of(image_id, FOLDS as u32) as u64
}

pub(super) fn known_image<'r>(run: &'r Run, id: &str, locator: &str) -> Result<&'r RunImage> {
    run.image(id).ok_or_else(|| {
        Error::setting("feedback", format!("{locator}: image {id:?} is not in the run ({})", run.dir.display()))
    })
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
