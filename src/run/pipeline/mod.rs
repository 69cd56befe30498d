//! Pipeline: the stages joined by bounded queues, so memory stays flat however
//! many images a run covers.
//!
//! ```text
//! ingest ──jobs──▶ decode workers ──decoded──▶ model ──batches──▶ match ──outcomes──▶ sink
//!  (1 thread)        (N threads)     ▲          (CPU, or GPU      (labels, mood,      (Parquet,
//!                                    │           2 in flight)      playlists)          in order)
//!                                    └── free crop slots ◀──┘
//! ```
//!
//! Every queue is bounded and the crop buffers circulate through a fixed pool,
//! so at most `jobs + slots` images are in flight. Each input gets a sequence
//! number and yields exactly one outcome; the sink restores input order, so
//! outputs are reproducible. A bad input becomes an errors-table row and the
//! run goes on; a panic inside a codec is caught and reported the same way.
//! If the sink fails (say, a full disk), dropping its receiver unwinds every
//! stage: each send fails and each thread returns.

mod sink;
mod workers;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use crossbeam_channel::bounded;
use serde::Serialize;

use crate::engine::analysis::Analysis;
use crate::engine::backend::Model;
use crate::engine::decode::{DecodeLimits, DecodedInfo};
use crate::engine::model::{CROP_BYTES, ModelOutput};
use crate::error::{Error, Failure, Result};
use crate::recommend::Recommender;
use crate::recommend::playlist::Pick;
use crate::run::ingest::{self, ImageSource, IngestItem, Skip};
use crate::run::manifest;
use crate::run::output::{
    DEFAULT_PART_INPUTS, Journal, Learning, MANIFEST_FILE, OrderedIds, OutputLock, PARTS_DIR, PartCounts, PartSink,
    Severity, compact, remove_parts,
};
use crate::run::shard::{InputDigest, Shard};
use sink::{match_stage, sink};
use workers::{Ready, decode_worker, model_stage};

/// Everything `analyze` needs besides the model; the CLI builds it, the
/// library never sees clap.
#[derive(Clone, Debug)]
pub struct AnalyzeSettings {
    pub images: PathBuf,
    pub out: PathBuf,
    pub decode_threads: usize,
    pub limits: DecodeLimits,
    /// Also write the model's pooled features (`features.parquet`), which
    /// learning reads; off by default, as they are 5 KB an image.
    pub features: bool,
    /// Analyse only this shard's inputs, into its own folder under `out`.
    pub shard: Option<Shard>,
    /// Inputs per committed part: what a kill can lose (see
    /// `output::parts`). It does not change the tables a run writes.
    pub part_inputs: u64,
}

impl AnalyzeSettings {
    /// Defaults: one decode worker per core, default limits.
    pub fn new(images: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        AnalyzeSettings {
            images: images.into(),
            out: out.into(),
            decode_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: DecodeLimits::default(),
            features: false,
            shard: None,
            part_inputs: DEFAULT_PART_INPUTS,
        }
    }

    /// The folder this run writes: `out`, or its shard's folder under it.
    pub fn out_dir(&self) -> PathBuf {
        match &self.shard {
            Some(s) => s.dir(&self.out),
            None => self.out.clone(),
        }
    }
}

/// Progress reporting, implemented by the caller (the CLI draws a bar).
pub trait Progress: Sync {
    /// `total` inputs found so far; `complete` once ingest has finished.
    fn discovered(&self, _total: u64, _complete: bool) {}
    /// One input finished, analysed (`ok`) or failed.
    fn finished_one(&self, _ok: bool) {}
    /// `done` inputs were finished by an earlier attempt (committed parts).
    fn resumed(&self, _done: u64) {}
    /// Something the user should know about the run's output folder.
    fn note(&self, _line: &str) {}
}

/// Reports nothing.
pub struct Silent;
impl Progress for Silent {}

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Inputs the run attempted (images and rejected entries).
    pub inputs: u64,
    pub images: u64,
    /// Rows of recommendations.parquet.
    pub recommendations: u64,
    pub errors: u64,
    pub warnings: u64,
    /// Files in a folder that are not images (or hidden), passed over.
    pub skipped_files: u64,
    /// Symbolic links to a folder above them, passed over.
    pub symlink_loops: u64,
    /// Folders named like images ("best.jpg/"): not inputs themselves.
    pub folders_named_like_images: u64,
    /// Inputs of the listing that belong to other shards.
    pub other_shards: u64,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub counts: Counts,
    pub wall_seconds: f64,
    pub out: PathBuf,
    pub engine: String,
    /// The run's fingerprint (see `shard`).
    pub fingerprint: String,
    /// A shard found its own complete run with the same fingerprint and did
    /// nothing; `counts` are that run's.
    pub already_complete: bool,
    /// What an earlier, interrupted attempt had committed, not redone.
    pub resumed: PartCounts,
    /// Parts the run's tables were assembled from.
    pub parts: u32,
}

pub(super) struct Job {
    seq: u64,
    item: IngestItem,
}

pub(super) struct Decoded {
    seq: u64,
    source: ImageSource,
    info: DecodedInfo,
    crop: Vec<u8>,
}

pub(super) enum Outcome {
    Analysed {
        source: ImageSource,
        analysis: Box<Analysis>,
        playlist: Vec<Pick>,
        /// What learning needs, when the run writes it.
        learning: Option<Box<Learning>>,
    },
    Failed {
        image_id: Option<String>,
        path: String,
        failure: Failure,
    },
}

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
    let engine = model.engine.as_ref();
    let started = Instant::now();
    let started_at = SystemTime::now();
    let out = settings.out_dir();
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    // Locked before anything in the folder is read or changed: a second run
    // must not resume parts that the first is still writing, nor remove the
    // manifest of a run that is finishing.
    let _lock = OutputLock::acquire(&out)?;
    let journal = Journal::read(&out)?;
    let committed = journal.as_ref().map_or(0, Journal::committed);
    // The whole listing, up front: the fingerprint needs it, and a resumed
    // run must check that its inputs still start with the committed ones.
    let listing = list(settings, committed)?;
    let fingerprint = manifest::fingerprint(settings, model, recommend, &listing.digest);
    if settings.shard.is_some()
        && let Some(done) = finished_shard(&out, &fingerprint)?
    {
        remove_parts(&out)?;
        return Ok(done);
    }
    let resume = match journal {
        None => None,
        Some(j) if j.fingerprint != fingerprint => {
            if settings.shard.is_some() {
                return Err(Error::input(
                    out.join(PARTS_DIR),
                    format!(
                        "holds committed parts of another run (fingerprint {}, this run's is {}): the inputs, \
                         catalog, settings, model or version differ; write to another folder, or remove this one \
                         to redo it",
                        short(&j.fingerprint),
                        short(&fingerprint)
                    ),
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
    };
    let resumed = resume.as_ref().map_or(0, |(j, _)| j.committed());
    let resumed_counts = resume.as_ref().map(|(j, _)| j.totals()).unwrap_or_default();
    prepare_out_dir(&out)?;
    let mut parts = PartSink::open(
        &out,
        &fingerprint,
        recommend.is_some(),
        settings.features,
        settings.part_inputs,
        settings.shard.as_ref().map_or(0, |s| s.index),
        resume,
    )?;
    progress.resumed(resumed);
    let (kind, sources) = ingest::open(&settings.images)?;

    let batch = model.batch;
    let workers = settings.decode_threads.max(1);
    let (job_tx, job_rx) = bounded::<Job>(batch * 2 + workers);
    let (dec_tx, dec_rx) = bounded::<Decoded>(batch * 2);
    let (free_tx, free_rx) = bounded::<Vec<u8>>(batch * 2 + workers);
    let (out_tx, out_rx) = bounded::<(u64, Outcome)>(batch * 4);
    for _ in 0..batch * 2 + workers {
        let _ = free_tx.send(vec![0u8; CROP_BYTES]);
    }
    let skipped: [AtomicU64; 3] = Default::default();
    let inputs = AtomicU64::new(0);
    let others = AtomicU64::new(0);
    let digest = std::sync::Mutex::new(InputDigest::default());

    let sink_result = std::thread::scope(|s| {
        let (skipped, inputs, others, digest) = (&skipped, &inputs, &others, &digest);
        let shard = settings.shard.as_ref();
        s.spawn(move || {
            let mut seq = 0u64;
            let mut all = InputDigest::default();
            for item in sources {
                if let IngestItem::Skipped(why) = item {
                    skipped[why as usize].fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let Some(id) = input_id(&item) else { continue };
                all.add(id);
                if shard.is_some_and(|s| !s.owns(id)) {
                    others.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // Inputs of committed parts are counted, not redone.
                if seq >= resumed && job_tx.send(Job { seq, item }).is_err() {
                    return;
                }
                seq += 1;
                inputs.store(seq, Ordering::Relaxed);
                progress.discovered(seq, false);
            }
            *digest.lock().unwrap_or_else(|p| p.into_inner()) = all;
            progress.discovered(seq, true);
        });
        for _ in 0..workers {
            let (job_rx, dec_tx, free_rx, out_tx) = (job_rx.clone(), dec_tx.clone(), free_rx.clone(), out_tx.clone());
            let limits = settings.limits;
            s.spawn(move || decode_worker(limits, job_rx, dec_tx, free_rx, out_tx));
        }
        drop((job_rx, dec_tx, free_rx));
        let (ready_tx, ready_rx) = bounded::<Ready>(1);
        let (spare_tx, spare_rx) = bounded::<ModelOutput>(engine.depth() + 2);
        s.spawn(move || model_stage(engine, batch, dec_rx, free_tx, ready_tx, spare_rx));
        {
            let out_tx = out_tx.clone();
            let keep_features = settings.features;
            let head = &model.head;
            s.spawn(move || match_stage(head, recommend, keep_features, ready_rx, spare_tx, out_tx));
        }
        drop(out_tx);
        // On error `out_rx` is dropped inside `sink`, so every stage unwinds.
        sink(out_rx, resumed, &mut parts, recommend, progress)
    });
    sink_result?;
    let journal = parts.finish()?;
    let digest = digest.into_inner().unwrap_or_else(|p| p.into_inner());
    if digest != listing.digest {
        return Err(Error::input(
            &settings.images,
            "the inputs changed while the run was under way (files added, removed or renamed); rerun once they \
             are settled: committed parts of inputs that are still listed first are kept",
        ));
    }

    // The run's tables: the catalog's issues first, then the parts in order.
    let catalog_issues = recommend.map_or(&[][..], |r| &r.catalog().issues[..]);
    let written = compact(&out, &journal, |errors| {
        for issue in catalog_issues {
            let severity = if issue.is_error { Severity::Error } else { Severity::Warning };
            errors.push(None, &issue.locator, "catalog", severity, &issue.reason)?;
        }
        Ok(())
    })?;
    let totals = journal.totals();
    let counts = Counts {
        inputs: inputs.load(Ordering::Relaxed),
        images: written.images,
        recommendations: written.recommendations,
        // Catalog rows are reported, but only failed images fail a run.
        errors: totals.errors,
        warnings: totals.warnings + catalog_issues.iter().filter(|i| !i.is_error).count() as u64,
        skipped_files: skipped[Skip::NotImage as usize].load(Ordering::Relaxed),
        symlink_loops: skipped[Skip::SymlinkLoop as usize].load(Ordering::Relaxed),
        folders_named_like_images: skipped[Skip::FolderNamedLikeImage as usize].load(Ordering::Relaxed),
        other_shards: others.load(Ordering::Relaxed),
    };
    let summary = RunSummary {
        counts,
        wall_seconds: started.elapsed().as_secs_f64(),
        out: out.clone(),
        engine: engine.describe(),
        fingerprint,
        already_complete: false,
        resumed: resumed_counts,
        parts: journal.parts.len() as u32,
    };
    let run = manifest::Run {
        settings,
        input_kind: kind,
        summary: &summary,
        model,
        recommender: recommend,
        started_at,
        inputs: digest,
    };
    manifest::write(&out, &run)?;
    // The manifest is in place, so the parts are no longer needed; a kill
    // before this line leaves them, and the next run removes them.
    remove_parts(&out)?;
    Ok(summary)
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

/// The id an input is sharded and fingerprinted by: its `image_id`, or
/// for an entry that cannot become an image, its path. `None` for files
/// the walk passes over.
fn input_id(item: &IngestItem) -> Option<&str> {
    match item {
        IngestItem::Image(s) => Some(&s.id),
        IngestItem::Rejected { path, .. } => Some(path),
        IngestItem::Skipped(_) => None,
    }
}

/// A shard's earlier complete run in `out`: the same fingerprint means
/// there is nothing to do; another is an error, never an overwrite.
fn finished_shard(out: &Path, fingerprint: &str) -> Result<Option<RunSummary>> {
    let Some(previous) = manifest::read(out)? else { return Ok(None) };
    if previous.fingerprint != fingerprint {
        return Err(Error::input(
            out,
            format!(
                "holds a complete run with another fingerprint ({}, this run's is {}): the inputs, catalog, \
                 settings, model or version differ; write to another folder, or remove this one to redo it",
                short(&previous.fingerprint),
                short(fingerprint)
            ),
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

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(12)]
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
