//! Learn: a profile from people's feedback, offline and reproducibly.
//!
//! `pixtape learn` reads feedback (`feedback`) about a finished run (`run`:
//! its features, moods and picks, so nothing is recomputed), fits the
//! changes it asks for (`fit`), reports how they do on held-out images,
//! and writes a profile (`profile`) that `--profile` applies: the adjusted
//! mood head in the engine, the learned weights in the catalog's vectors,
//! the style preferences in the queries. `simulate` measures the whole loop
//! with synthetic users whose preferences are known.

pub mod feedback;
pub mod fit;
mod linalg;
pub mod run;
pub mod simulate;

use std::path::PathBuf;

pub use crate::recommend::profile::{FeedbackInfo, Profile, ProfileInfo};
pub use feedback::{Feedback, ImageRating, Reaction, Response};
pub use run::{Run, RunImage};

use crate::catalog::{self, Catalog, CatalogOptions};
use crate::error::{Error, Result};

/// What `learn` is asked to do.
#[derive(Clone, Debug)]
pub struct LearnSettings {
    /// The run the feedback is about.
    pub run: PathBuf,
    /// Feedback files, of either kind, in any order.
    pub feedback: Vec<PathBuf>,
    /// The catalog the run matched against, for reactions; the run's
    /// manifest names it when this is `None`.
    pub catalog: Option<CatalogOptions>,
}

/// Reads the run and the feedback and fits a profile.
pub fn learn(settings: &LearnSettings) -> Result<Profile> {
    let run = Run::read(&settings.run)?;
    let mut ratings: Vec<ImageRating> = Vec::new();
    let mut reactions: Vec<Reaction> = Vec::new();
    let mut profile = Profile::neutral()?;
    profile.info.pixtape_version = env!("CARGO_PKG_VERSION").to_string();
    profile.info.run = settings.run.display().to_string();
    for path in &settings.feedback {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let feedback = feedback::read(path)?;
        profile.info.feedback.push(FeedbackInfo {
            path: path.display().to_string(),
            sha256: crate::recommend::profile::sha256_hex(&bytes),
            kind: feedback.kind().to_string(),
            rows: feedback.len(),
        });
        match feedback {
            Feedback::Ratings(r) => ratings.extend(r),
            Feedback::Reactions(r) => reactions.extend(r),
        }
    }
    if settings.feedback.is_empty() {
        return Err(Error::setting("feedback", "no feedback to learn from"));
    }
    if !ratings.is_empty() {
        let (head, line) = fit::fit_head(&profile.head, &run, &ratings)?;
        profile.head = head;
        profile.info.held_out.push(line);
        profile.info.settings.push(("head_lambda".into(), fit::HEAD_LAMBDA));
        profile.info.settings.push(("bias_prior".into(), fit::BIAS_PRIOR));
    }
    if !reactions.is_empty() {
        let kinds = reactions.iter().map(|r| matches!(r.response, Response::Liked(_)));
        if kinds.clone().any(|l| l) && kinds.clone().any(|l| !l) {
            return Err(Error::setting("feedback", "reactions mix `liked` and `rating` files: learn from one kind"));
        }
        let catalog = run_catalog(&run, settings.catalog.as_ref())?;
        let (matching, line) = fit::fit_matching(&run, &catalog, &reactions)?;
        profile.weights = Some(matching.weights);
        profile.style_bias = matching.style_bias;
        profile.info.held_out.push(line);
        profile.info.settings.push(("score_scale".into(), fit::SCORE_SCALE));
        profile.info.settings.push(("match_lambda".into(), fit::MATCH_LAMBDA));
    }
    Ok(profile)
}

/// The catalog the run matched against, loaded with the run's weights.
fn run_catalog(run: &Run, given: Option<&CatalogOptions>) -> Result<Catalog> {
    let mut opts = match (given, &run.catalog_path) {
        (Some(o), _) => o.clone(),
        (None, Some(p)) => CatalogOptions::new(p),
        (None, None) => {
            return Err(Error::setting(
                "catalog",
                "reactions need the catalog the run matched against, and the run's manifest names none",
            ));
        }
    };
    if let Some(w) = run.weights {
        opts.weights = w;
    }
    let catalog = catalog::load(&opts)?;
    if let Some(sha) = &run.catalog_sha256
        && *sha != catalog.report.sha256
    {
        return Err(Error::setting(
            "catalog",
            format!("{} is not the catalog the run matched against (its sha256 differs)", opts.path.display()),
        ));
    }
    Ok(catalog)
}
