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

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::decode::{CROP_BYTES, DecodeLimits, DecodedInfo, Decoder, Failure, Stage};
use crate::error::{Error, Result};
use crate::ingest::{self, ImageSource, IngestItem, InputKind};
use crate::model::{self, Engine, ModelOutput, NUM_CLASSES};
use crate::mood::{self, MoodMode, MoodVector, Weights};
use crate::output::{
    self, ErrorsWriter, ImageRecord, ImagesWriter, MANIFEST_FILE, RecommendationRecord, RecommendationsWriter, Severity,
};
use crate::playlist::{self, Pick, PlaylistSettings};
use crate::similarity::Matcher;

pub const RECOMMENDATIONS_FILE: &str = "recommendations.parquet";

/// How long the model waits to fill a batch once it has one image.
const BATCH_WAIT: Duration = Duration::from_millis(50);
pub const TOP_K_LABELS: usize = 5;

/// Everything `analyze` needs; the CLI builds it, the engine never sees clap.
#[derive(Clone, Debug)]
pub struct AnalyzeSettings {
    pub images: PathBuf,
    pub out: PathBuf,
    /// Images per model batch; clamped to what the engine takes.
    pub batch_size: usize,
    pub decode_threads: usize,
    pub limits: DecodeLimits,
    /// `--device` as asked (`auto`, `gpu`, `cpu`), and what came of it.
    pub device_requested: &'static str,
    pub device_notice: String,
}

impl AnalyzeSettings {
    /// Defaults: batch 32, one decode worker per core, default limits.
    pub fn new(images: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        AnalyzeSettings {
            images: images.into(),
            out: out.into(),
            batch_size: 32,
            decode_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: DecodeLimits::default(),
            device_requested: "cpu",
            device_notice: String::new(),
        }
    }
}

/// What `recommend` adds to an analysis run: a catalog to match against.
pub struct Recommend<'a> {
    pub catalog: &'a Catalog,
    pub matcher: &'a dyn Matcher,
    pub mode: MoodMode,
    pub weights: Weights,
    pub playlist: PlaylistSettings,
}

/// Progress reporting, implemented by the caller (the CLI draws a bar).
pub trait Progress: Sync {
    /// `total` inputs found so far; `complete` once ingest has finished.
    fn discovered(&self, _total: u64, _complete: bool) {}
    /// One input finished, analysed (`ok`) or failed.
    fn finished_one(&self, _ok: bool) {}
}

/// Reports nothing.
pub struct Silent;
impl Progress for Silent {}

#[derive(Clone, Debug, Default, Serialize)]
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
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub counts: Counts,
    pub wall_seconds: f64,
    pub out: PathBuf,
    pub engine: String,
}

/// Analysis of one image, as it flows from the model to the sink.
pub struct Analysis {
    pub info: DecodedInfo,
    /// (class index, probability), most probable first.
    pub top: Vec<(usize, f32)>,
    pub mood: MoodVector,
    /// Empty unless recommending.
    pub playlist: Vec<Pick>,
}

struct Job {
    seq: u64,
    item: IngestItem,
}

struct Decoded {
    seq: u64,
    source: ImageSource,
    info: DecodedInfo,
    crop: Vec<u8>,
}

enum Outcome {
    Analysed { source: ImageSource, analysis: Box<Analysis> },
    Failed { image_id: Option<String>, path: String, failure: Failure },
}

/// Analyses every image under `settings.images`, writing `images.parquet`,
/// `errors.parquet` and `manifest.json` into `settings.out`.
pub fn analyze(settings: &AnalyzeSettings, engine: &dyn Engine, progress: &dyn Progress) -> Result<RunSummary> {
    run(settings, engine, None, progress)
}

/// `analyze`, plus a playlist per image written to `recommendations.parquet`
/// when `recommend` is given.
pub fn run(
    settings: &AnalyzeSettings,
    engine: &dyn Engine,
    recommend: Option<&Recommend>,
    progress: &dyn Progress,
) -> Result<RunSummary> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let (kind, sources) = ingest::open(&settings.images)?;
    prepare_out_dir(&settings.out)?;
    let mut images = ImagesWriter::create(&settings.out.join("images.parquet"))?;
    let mut errors = ErrorsWriter::create(&settings.out.join("errors.parquet"))?;
    let mut recs = match recommend {
        Some(r) => {
            for issue in &r.catalog.issues {
                let severity = if issue.is_error { Severity::Error } else { Severity::Warning };
                errors.push(None, &issue.locator, "catalog", severity, &issue.reason)?;
            }
            Some(RecommendationsWriter::create(&settings.out.join(RECOMMENDATIONS_FILE))?)
        }
        None => {
            // A stale table from an earlier `recommend` run would mislead.
            let _ = std::fs::remove_file(settings.out.join(RECOMMENDATIONS_FILE));
            None
        }
    };
    let catalog_errors = errors.counts().0;

    let batch = settings.batch_size.clamp(1, engine.max_batch());
    let workers = settings.decode_threads.max(1);
    let (job_tx, job_rx) = bounded::<Job>(batch * 2 + workers);
    let (dec_tx, dec_rx) = bounded::<Decoded>(batch * 2);
    let (free_tx, free_rx) = bounded::<Vec<u8>>(batch * 2 + workers);
    let (out_tx, out_rx) = bounded::<(u64, Outcome)>(batch * 4);
    for _ in 0..batch * 2 + workers {
        let _ = free_tx.send(vec![0u8; CROP_BYTES]);
    }
    let skipped = AtomicU64::new(0);
    let inputs = AtomicU64::new(0);

    let sink_result = std::thread::scope(|s| {
        let (skipped, inputs) = (&skipped, &inputs);
        s.spawn(move || {
            let mut seq = 0u64;
            for item in sources {
                if item == IngestItem::Skipped {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if job_tx.send(Job { seq, item }).is_err() {
                    return;
                }
                seq += 1;
                inputs.store(seq, Ordering::Relaxed);
                progress.discovered(seq, false);
            }
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
            s.spawn(move || match_stage(recommend, ready_rx, spare_tx, out_tx));
        }
        drop(out_tx);
        // On error `out_rx` is dropped inside `sink`, so every stage unwinds.
        sink(out_rx, &mut images, &mut errors, recs.as_mut(), recommend.map(|r| r.catalog), progress)
    });
    sink_result?;

    let (error_rows, warnings) = errors.counts();
    let counts = Counts {
        inputs: inputs.load(Ordering::Relaxed),
        images: images.finish()?,
        recommendations: match recs {
            Some(r) => r.finish()?,
            None => 0,
        },
        // Catalog rows are reported, but only failed images fail a run.
        errors: error_rows - catalog_errors,
        warnings,
        skipped_files: skipped.load(Ordering::Relaxed),
    };
    errors.finish()?;
    let summary = RunSummary {
        counts,
        wall_seconds: started.elapsed().as_secs_f64(),
        out: settings.out.clone(),
        engine: engine.describe(),
    };
    write_manifest(settings, kind, &summary, recommend, started_at)?;
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

fn decode_worker(
    limits: DecodeLimits,
    jobs: Receiver<Job>,
    decoded: Sender<Decoded>,
    free: Receiver<Vec<u8>>,
    out: Sender<(u64, Outcome)>,
) {
    let mut decoder = Decoder::new(limits);
    // A worker keeps its slot across failed images and only asks the pool
    // for a new one after handing a crop to the model.
    let mut slot: Option<Vec<u8>> = None;
    for Job { seq, item } in jobs {
        let source = match item {
            IngestItem::Image(source) => source,
            IngestItem::Rejected { path, reason } => {
                let failure = Failure { stage: Stage::Ingest, reason };
                if out.send((seq, Outcome::Failed { image_id: None, path, failure })).is_err() {
                    return;
                }
                continue;
            }
            IngestItem::Skipped => continue,
        };
        let mut crop = match slot.take() {
            Some(c) => c,
            None => match free.recv() {
                Ok(c) => c,
                Err(_) => return,
            },
        };
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decoder.decode_file(&source.path, &mut crop)));
        let sent = match result {
            Ok(Ok(info)) => decoded.send(Decoded { seq, source, info, crop }).is_ok(),
            Ok(Err(failure)) => {
                slot = Some(crop);
                send_failure(&out, seq, source, failure)
            }
            Err(panic) => {
                // The codec's state is unknown after a panic: start afresh.
                decoder = Decoder::new(limits);
                slot = Some(crop);
                let msg = panic_message(&panic);
                send_failure(
                    &out,
                    seq,
                    source,
                    Failure { stage: Stage::Decode, reason: format!("decoder crashed: {msg}") },
                )
            }
        };
        if !sent {
            return;
        }
    }
}

fn send_failure(out: &Sender<(u64, Outcome)>, seq: u64, source: ImageSource, failure: Failure) -> bool {
    let path = source.path.to_string_lossy().into_owned();
    out.send((seq, Outcome::Failed { image_id: Some(source.id), path, failure })).is_ok()
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// An image between decode and the sink, its crop already handed to the engine.
struct Pending {
    seq: u64,
    source: ImageSource,
    info: DecodedInfo,
}

/// A batch the engine has finished (or failed).
struct Ready {
    items: Vec<Pending>,
    output: Result<ModelOutput>,
}

/// Gathers decoded crops into batches and keeps the engine busy: with an
/// engine of depth 2 (the GPU), batch i+1 is gathered and queued while
/// batch i computes. Crop slots go back to the decoders once their batch
/// has started.
fn model_stage(
    engine: &dyn Engine,
    batch: usize,
    decoded: Receiver<Decoded>,
    free: Sender<Vec<u8>>,
    ready: Sender<Ready>,
    spare: Receiver<ModelOutput>,
) {
    let depth = engine.depth().max(1);
    let mut crops = vec![0u8; batch * CROP_BYTES];
    let mut in_flight: VecDeque<Vec<Pending>> = VecDeque::with_capacity(depth);
    let mut slots: Vec<Vec<u8>> = Vec::with_capacity(batch);
    let mut done = false;
    let finish = |items: Vec<Pending>| {
        let mut out = spare.try_recv().unwrap_or_default();
        let output = engine.finish(&mut out).map(|()| out);
        ready.send(Ready { items, output }).is_ok()
    };
    while !done || !in_flight.is_empty() {
        // A full engine finishes its oldest batch before taking another.
        if in_flight.len() >= depth
            && let Some(oldest) = in_flight.pop_front()
            && !finish(oldest)
        {
            return;
        }
        let mut items: Vec<Pending> = Vec::with_capacity(batch);
        if !done {
            // Block for input only when the engine has nothing to finish.
            let mut next = if in_flight.is_empty() {
                decoded.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                decoded.recv_timeout(BATCH_WAIT)
            };
            let deadline = Instant::now() + BATCH_WAIT;
            loop {
                match next {
                    Ok(Decoded { seq, source, info, crop }) => {
                        let i = items.len();
                        crops[i * CROP_BYTES..(i + 1) * CROP_BYTES].copy_from_slice(&crop);
                        slots.push(crop);
                        items.push(Pending { seq, source, info });
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        done = true;
                        break;
                    }
                }
                if items.len() == batch {
                    break;
                }
                next = decoded.recv_deadline(deadline);
            }
        }
        if items.is_empty() {
            // No input for now (or none left): finish what is in flight.
            if let Some(oldest) = in_flight.pop_front()
                && !finish(oldest)
            {
                return;
            }
            continue;
        }
        let started = engine.start(&crops[..items.len() * CROP_BYTES], items.len());
        // The slots go back only now: decoders that run ahead while a CPU
        // forward pass holds every core only slow it down.
        for slot in slots.drain(..) {
            let _ = free.send(slot);
        }
        match started {
            Ok(()) => in_flight.push_back(items),
            Err(e) => {
                if ready.send(Ready { items, output: Err(e) }).is_err() {
                    return;
                }
            }
        }
    }
}

/// Turns finished batches into analyses: top labels, the mood, and with a
/// catalog the playlists (one matcher call a batch).
fn match_stage(
    recommend: Option<&Recommend>,
    ready: Receiver<Ready>,
    spare: Sender<ModelOutput>,
    out: Sender<(u64, Outcome)>,
) {
    let mut probs = vec![0.0f32; NUM_CLASSES];
    for Ready { items, output } in ready {
        let o = match output {
            Ok(o) => o,
            Err(e) => {
                if !fail_all(&out, items.into_iter().map(|d| (d.seq, d.source)), &e) {
                    return;
                }
                continue;
            }
        };
        let mut analysed: Vec<(u64, ImageSource, Analysis)> = Vec::with_capacity(items.len());
        for (i, Pending { seq, source, info }) in items.into_iter().enumerate() {
            probs.copy_from_slice(o.logits(i));
            model::softmax(&mut probs);
            let top = model::top_k(&probs, TOP_K_LABELS).into_iter().map(|c| (c, probs[c])).collect();
            let mood = mood::image_mood_from(&o.semantic(i), &info.colour);
            analysed.push((seq, source, Analysis { info, top, mood, playlist: Vec::new() }));
        }
        let _ = spare.try_send(o);
        if let Some(r) = recommend
            && let Err(e) = match_batch(r, &mut analysed)
        {
            if !fail_all(&out, analysed.into_iter().map(|(seq, source, _)| (seq, source)), &e) {
                return;
            }
            continue;
        }
        for (seq, source, analysis) in analysed {
            if out.send((seq, Outcome::Analysed { source, analysis: Box::new(analysis) })).is_err() {
                return;
            }
        }
    }
}

/// Reports every image of a batch the model or the matcher failed on.
fn fail_all(out: &Sender<(u64, Outcome)>, images: impl Iterator<Item = (u64, ImageSource)>, e: &Error) -> bool {
    for (seq, source) in images {
        let failure = Failure { stage: Stage::Model, reason: format!("failed on this batch: {e}") };
        if !send_failure(out, seq, source, failure) {
            return false;
        }
    }
    true
}

/// Top candidates for the whole batch in one matcher call, then a playlist each.
fn match_batch(r: &Recommend, analysed: &mut [(u64, ImageSource, Analysis)]) -> Result<()> {
    let queries: Vec<mood::SimVector> = analysed
        .iter()
        .map(|(_, _, a)| mood::sim_vector(&r.mode.apply(&a.mood), mood::Groups::ALL, &r.weights, false))
        .collect();
    let hits = r.matcher.top_k(&queries, r.playlist.candidates())?;
    for (((_, _, a), q), h) in analysed.iter_mut().zip(&queries).zip(&hits) {
        let target = r.mode.apply(&a.mood);
        a.playlist = playlist::build(q, &target, &a.info.colour, h, r.catalog, &r.playlist);
    }
    Ok(())
}

/// Writes outcomes in input order.
fn sink(
    outcomes: Receiver<(u64, Outcome)>,
    images: &mut ImagesWriter,
    errors: &mut ErrorsWriter,
    mut recs: Option<&mut RecommendationsWriter>,
    catalog: Option<&Catalog>,
    progress: &dyn Progress,
) -> Result<()> {
    let classes = model::class_names();
    let mut pending: BTreeMap<u64, Outcome> = BTreeMap::new();
    let mut next = 0u64;
    for (seq, outcome) in outcomes {
        pending.insert(seq, outcome);
        while let Some(outcome) = pending.remove(&next) {
            next += 1;
            match outcome {
                Outcome::Analysed { source, analysis } => {
                    let path = source.path.to_string_lossy();
                    let top: Vec<(usize, &str, f32)> =
                        analysis.top.iter().map(|&(c, p)| (c, classes.get(c).copied().unwrap_or("?"), p)).collect();
                    let info = &analysis.info;
                    images.push(&ImageRecord {
                        image_id: &source.id,
                        path: &path,
                        width: info.width,
                        height: info.height,
                        format: info.format,
                        file_bytes: info.file_bytes,
                        top5: &top,
                        colour: &info.colour,
                        mood: &analysis.mood,
                    })?;
                    if let (Some(w), Some(cat)) = (recs.as_deref_mut(), catalog) {
                        for (rank, pick) in analysis.playlist.iter().enumerate() {
                            let t = cat.track(pick.track as usize);
                            w.push(&RecommendationRecord {
                                image_id: &source.id,
                                rank: rank as u16 + 1,
                                track_id: t.id,
                                title: t.title,
                                artist: t.artist,
                                score: pick.score,
                                contributions: &pick.contributions,
                                explanation: &pick.explanation,
                            })?;
                        }
                    }
                    if let Some(w) = &info.warning {
                        errors.push(Some(&source.id), &path, Stage::Decode.as_str(), Severity::Warning, w)?;
                    }
                    progress.finished_one(true);
                }
                Outcome::Failed { image_id, path, failure } => {
                    errors.push(
                        image_id.as_deref(),
                        &path,
                        failure.stage.as_str(),
                        Severity::Error,
                        &failure.reason,
                    )?;
                    progress.finished_one(false);
                }
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Manifest<'a> {
    pixtape_version: &'a str,
    command: &'a str,
    started_at: String,
    finished_at: String,
    wall_seconds: f64,
    images_per_second: f64,
    input: InputInfo<'a>,
    model: ModelInfo<'a>,
    engine: &'a str,
    device: DeviceInfo<'a>,
    parameters: Parameters,
    counts: &'a Counts,
    outputs: Outputs<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommend: Option<RecommendInfo<'a>>,
    mood_space: MoodSpaceInfo,
}

#[derive(Serialize)]
struct RecommendInfo<'a> {
    catalog: &'a crate::catalog::CatalogReport,
    matcher: String,
    mood_mode: &'a str,
    weights: WeightsInfo,
    playlist_length: usize,
    per_artist: usize,
    relevance_lambda: f32,
    candidates: usize,
}

#[derive(Serialize)]
struct WeightsInfo {
    affect: f32,
    moods: f32,
    styles: f32,
    themes: f32,
}

#[derive(Serialize)]
struct MoodSpaceInfo {
    dimensions: Vec<&'static str>,
    groups: Vec<(&'static str, Vec<&'static str>)>,
}

#[derive(Serialize)]
struct DeviceInfo<'a> {
    /// `--device` as asked.
    requested: &'a str,
    /// What came of it, as printed at start.
    notice: &'a str,
}

#[derive(Serialize)]
struct InputInfo<'a> {
    path: String,
    kind: &'a str,
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    name: &'a str,
    weights_sha256: &'a str,
    input_size: usize,
    preprocessing: &'a str,
}

#[derive(Serialize)]
struct Parameters {
    batch_size: usize,
    decode_threads: usize,
    max_megapixels: u64,
    max_file_megabytes: u64,
    top_labels: usize,
}

#[derive(Serialize)]
struct Outputs<'a> {
    images: &'a str,
    errors: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommendations: Option<&'a str>,
}

fn write_manifest(
    settings: &AnalyzeSettings,
    kind: InputKind,
    summary: &RunSummary,
    recommend: Option<&Recommend>,
    started_at: SystemTime,
) -> Result<()> {
    let manifest = Manifest {
        pixtape_version: env!("CARGO_PKG_VERSION"),
        command: if recommend.is_some() { "recommend" } else { "analyze" },
        started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
        finished_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        wall_seconds: summary.wall_seconds,
        images_per_second: summary.counts.images as f64 / summary.wall_seconds.max(1e-9),
        input: InputInfo { path: settings.images.display().to_string(), kind: kind.as_str() },
        model: ModelInfo {
            name: model::MODEL_NAME,
            weights_sha256: model::weights_sha256(),
            input_size: model::INPUT_SIZE,
            preprocessing: "EXIF orientation; resize short side to 256 (bilinear, antialiased); centre crop 224; ImageNet mean/std",
        },
        engine: &summary.engine,
        device: DeviceInfo { requested: settings.device_requested, notice: &settings.device_notice },
        parameters: Parameters {
            batch_size: settings.batch_size,
            decode_threads: settings.decode_threads,
            max_megapixels: settings.limits.max_pixels / 1_000_000,
            max_file_megabytes: settings.limits.max_file_bytes >> 20,
            top_labels: TOP_K_LABELS,
        },
        counts: &summary.counts,
        outputs: Outputs {
            images: "images.parquet",
            errors: "errors.parquet",
            recommendations: recommend.map(|_| RECOMMENDATIONS_FILE),
        },
        recommend: recommend.map(|r| RecommendInfo {
            catalog: &r.catalog.report,
            matcher: r.matcher.describe(),
            mood_mode: r.mode.as_str(),
            weights: WeightsInfo {
                affect: r.weights.affect,
                moods: r.weights.moods,
                styles: r.weights.styles,
                themes: r.weights.themes,
            },
            playlist_length: r.playlist.length,
            per_artist: r.playlist.per_artist,
            relevance_lambda: r.playlist.relevance,
            candidates: r.playlist.candidates(),
        }),
        mood_space: MoodSpaceInfo {
            dimensions: mood::DIM_NAMES.to_vec(),
            groups: mood::GROUPS.iter().map(|g| (g.name(), mood::DIM_NAMES[g.dims()].to_vec())).collect(),
        },
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::output(&settings.out, e))?;
    output::write_atomic(&settings.out.join(MANIFEST_FILE), &json)
}
