//! Image ratings → the mood head: the residuals of the bundled head's
//! valence and arousal (and labels, where given) fitted on its own
//! standardised inputs, with as much correction as cross-validation on the
//! ratings supports (see `fit`).

use super::{FOLDS, MIN_RATINGS, fold_of, known_image};
use crate::engine::mood;
use crate::engine::mood::head::{INPUTS, MoodHead, OUTPUTS};
use crate::error::{Error, Result};
use crate::learn::feedback::ImageRating;
use crate::learn::linalg::ridge;
use crate::learn::run::{Run, RunImage};

/// The bundled head's own ridge penalty, the middle of the ones the
/// correction chooses from.
pub const HEAD_LAMBDA: f64 = 1000.0;
/// The bias change is the mean residual shrunk as if this many ratings of
/// "no change" were added.
pub const BIAS_PRIOR: f64 = 5.0;

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
        let x = MoodHead::inputs(&image.features, &image.colour, &image.cues, &image.faces, &image.prior);
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
