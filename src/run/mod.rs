//! A run: a folder or manifest of images in (and a catalog, when it
//! recommends), a run folder out: `images.parquet`, `errors.parquet`,
//! `recommendations.parquet`, optionally `features.parquet`, and
//! `manifest.json` written last, so a folder holds a complete run exactly
//! when its manifest exists.
//!
//! `ingest` lists the inputs, `pipeline` joins the stages by bounded
//! queues, `output` writes the tables in committed parts that a killed run
//! resumes from, `manifest` records the run and its fingerprint, `shard`
//! splits a run's inputs across processes, and `settings` is the plain data
//! they all share. `run` below calls the steps in the order they happen:
//! lock, list, check for a finished shard, resume, stages, commit.

pub mod ingest;
pub mod manifest;
pub mod memory;
pub mod output;
mod pipeline;
pub mod settings;
pub mod shard;

use std::path::Path;
use std::time::{Instant, SystemTime};

pub use settings::{AnalyzeSettings, Counts, Progress, RunSummary, Silent};

use crate::engine::backend::Model;
use crate::error::{Error, Result};
use crate::recommend::Recommender;
use ingest::{Skip, input_id};
use output::{
    Journal, MANIFEST_FILE, Optional, OrderedIds, OutputLock, PARTS_DIR, PartCounts, PartSink, Severity, compact,
    remove_parts,
};
use pipeline::Staged;
use shard::InputDigest;

/// Analyses every image under `settings.images`, writing `images.parquet`,
/// `errors.parquet` and `manifest.json` into `settings.out`.
pub fn analyze(settings: &AnalyzeSettings, model: &Model, progress: &dyn Progress) -> Result<RunSummary> {
    run(settings, model, None, progress)
}

/// `analyze`, plus a playlist per image written to `recommendations.parquet`
/// when `recommend` is given.
///
/// The run commits its rows in parts as it goes (see `output::parts`); a run
/// that was killed, or failed on a full disk, resumes from its last
/// committed part when it is started again with the same inputs, catalog
/// and settings.
pub fn run(
    settings: &AnalyzeSettings,
    model: &Model,
    recommend: Option<&Recommender>,
    progress: &dyn Progress,
) -> Result<RunSummary> {
    let started = (Instant::now(), SystemTime::now());
    let out = settings.out_dir();
    let _lock = lock(&out)?;
    let journal = Journal::read(&out)?;
    let listing = list(settings, journal.as_ref().map_or(0, Journal::committed))?;
    let fingerprint = manifest::fingerprint(settings, recommend, &listing.digest);
    if settings.shard.is_some()
        && let Some(done) = finished_shard(&out, &fingerprint)?
    {
        remove_parts(&out)?;
        return Ok(done);
    }
    let resume = resume(settings, &out, journal, &listing, &fingerprint, progress)?;
    let resumed = resume.as_ref().map_or(0, |(j, _)| j.committed());
    let resumed_counts = resume.as_ref().map(|(j, _)| j.totals()).unwrap_or_default();
    prepare_out_dir(&out)?;
    let mut parts = PartSink::open(
        &out,
        &fingerprint,
        Optional { recommendations: recommend.is_some(), features: settings.features, faces: settings.faces.is_some() },
        settings.part_inputs,
        settings.shard.as_ref().map_or(0, |s| s.index),
        resume,
    )?;
    progress.resumed(resumed);
    let input = ingest::open(&settings.images)?;
    let staged = pipeline::stages(settings, input, model, recommend, resumed, &mut parts, progress)?;
    let journal = parts.finish()?;
    if staged.digest != listing.digest {
        return Err(Error::input(
            &settings.images,
            "the inputs changed while the run was under way (files added, removed or renamed); rerun once they \
             are settled: committed parts of inputs that are still listed first are kept",
        ));
    }
    let done = Done { staged, journal, fingerprint, resumed: resumed_counts, started };
    commit(settings, model, recommend, &out, done)
}

/// Locks the run's folder before anything in it is read or changed: a
/// second run must not resume parts that the first is still writing, nor
/// remove the manifest of a run that is finishing.
fn lock(out: &Path) -> Result<OutputLock> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    OutputLock::acquire(out)
}

/// The input listing as a run sees it, taken before the run starts.
struct Listing {
    /// Every input's id (every shard's), digested in any order.
    digest: InputDigest,
    /// Inputs this run (or shard) owns.
    owned: u64,
    /// The ordered digest of the first `committed` owned inputs' ids.
    committed_ids: OrderedIds,
}

/// The whole listing, up front: the fingerprint needs it, and a resumed run
/// must check that its inputs still start with the `committed` ones.
fn list(settings: &AnalyzeSettings, committed: u64) -> Result<Listing> {
    let (_, sources) = ingest::open(&settings.images)?;
    let mut listing = Listing { digest: InputDigest::default(), owned: 0, committed_ids: OrderedIds::default() };
    for item in sources {
        let Some(id) = input_id(&item) else { continue };
        listing.digest.add(id);
        if settings.shard.as_ref().is_some_and(|s| !s.owns(id)) {
            continue;
        }
        if listing.owned < committed {
            listing.committed_ids.add(id);
        }
        listing.owned += 1;
    }
    Ok(listing)
}

/// A shard's earlier complete run in `out`: the same fingerprint means
/// there is nothing to do; another is an error, never an overwrite.
fn finished_shard(out: &Path, fingerprint: &str) -> Result<Option<RunSummary>> {
    let Some(previous) = manifest::read(out)? else { return Ok(None) };
    if previous.fingerprint != fingerprint {
        return Err(shard::another_run(
            out,
            "a complete run with another fingerprint",
            &previous.fingerprint,
            fingerprint,
            "inputs",
        ));
    }
    Ok(Some(RunSummary {
        counts: previous.counts,
        wall_seconds: 0.0,
        out: out.to_path_buf(),
        engine: previous.engine,
        fingerprint: fingerprint.to_string(),
        already_complete: true,
        resumed: PartCounts::default(),
        parts: 0,
    }))
}

/// The committed parts this run goes on from: an earlier attempt's, when it
/// was the same run over inputs that still start the same way; none
/// otherwise (a shard refuses another run's parts rather than drop them).
fn resume(
    settings: &AnalyzeSettings,
    out: &Path,
    journal: Option<Journal>,
    listing: &Listing,
    fingerprint: &str,
    progress: &dyn Progress,
) -> Result<Option<(Journal, OrderedIds)>> {
    Ok(match journal {
        None => None,
        Some(j) if j.fingerprint != fingerprint => {
            if settings.shard.is_some() {
                let parts = out.join(PARTS_DIR);
                return Err(shard::another_run(
                    &parts,
                    "committed parts of another run",
                    &j.fingerprint,
                    fingerprint,
                    "inputs",
                ));
            }
            progress.note(&format!(
                "{}: discarding {} committed parts of an earlier run with other inputs, catalog or settings",
                out.display(),
                j.parts.len()
            ));
            None
        }
        Some(j) if j.committed_ids() != listing.committed_ids.hex() => {
            progress.note(&format!(
                "{}: the inputs no longer start with the {} committed ones in the same order; starting over",
                out.display(),
                j.committed()
            ));
            None
        }
        Some(j) => {
            if j.committed() > 0 {
                progress.note(&format!(
                    "resuming: {} of {} inputs are committed in {} parts",
                    j.committed(),
                    listing.owned,
                    j.parts.len()
                ));
            }
            Some((j, listing.committed_ids.clone()))
        }
    })
}

/// What the stages leave for `commit`.
struct Done {
    staged: Staged,
    journal: Journal,
    fingerprint: String,
    /// What an earlier attempt had committed.
    resumed: PartCounts,
    started: (Instant, SystemTime),
}

/// Assembles the run's tables from its parts (the catalog's issues first,
/// then the parts in order), writes the manifest, and only then removes the
/// parts: a kill before that leaves them, and the next run removes them.
fn commit(
    settings: &AnalyzeSettings,
    model: &Model,
    recommend: Option<&Recommender>,
    out: &Path,
    done: Done,
) -> Result<RunSummary> {
    let Done { staged, journal, fingerprint, resumed, started } = done;
    let catalog_issues = recommend.map_or(&[][..], |r| &r.catalog().issues[..]);
    let written = compact(out, &journal, |errors| {
        for issue in catalog_issues {
            let severity = if issue.is_error { Severity::Error } else { Severity::Warning };
            errors.push(None, &issue.locator, "catalog", severity, &issue.reason)?;
        }
        Ok(())
    })?;
    let totals = journal.totals();
    let counts = Counts {
        inputs: staged.inputs,
        images: written.images,
        recommendations: written.recommendations,
        // Catalog rows are reported, but only failed images fail a run.
        errors: totals.errors,
        warnings: totals.warnings + catalog_issues.iter().filter(|i| !i.is_error).count() as u64,
        skipped_files: staged.skipped(Skip::NotImage),
        symlink_loops: staged.skipped(Skip::SymlinkLoop),
        folders_named_like_images: staged.skipped(Skip::FolderNamedLikeImage),
        other_shards: staged.other_shards,
    };
    let summary = RunSummary {
        counts,
        wall_seconds: started.0.elapsed().as_secs_f64(),
        out: out.to_path_buf(),
        engine: model.engine.describe(),
        fingerprint,
        already_complete: false,
        resumed,
        parts: journal.parts.len() as u32,
    };
    let run = manifest::Run {
        settings,
        input_kind: staged.kind,
        summary: &summary,
        model,
        recommender: recommend,
        started_at: started.1,
        inputs: staged.digest,
    };
    manifest::write(out, &run)?;
    remove_parts(out)?;
    Ok(summary)
}

/// Creates the output folder and removes a previous run's manifest, so the
/// folder never claims completeness while this run is under way.
pub fn prepare_out_dir(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    match std::fs::remove_file(out.join(MANIFEST_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(out.join(MANIFEST_FILE), e)),
        _ => Ok(()),
    }
}
