//! Pipeline: the stages joined by bounded queues, so memory stays flat however
//! many images a run covers.
//!
//! ```text
//! ingest ──jobs──▶ decode workers ──decoded──▶ model ──batches──▶ match ──outcomes──▶ sink
//!  (1 thread)        (N threads)     ▲          (CPU, or GPU      (faces of gated     (Parquet,
//!                                    │           2 in flight)      pictures, labels,   in order)
//!                                    └── free crop slots ◀──┘      mood, playlists)
//! ```
//!
//! Every queue is bounded and the crop buffers circulate through a fixed pool,
//! so at most `jobs + slots` images are in flight. Each input gets a sequence
//! number and yields exactly one outcome; the sink restores input order, so
//! outputs are reproducible. A bad input becomes an errors-table row and the
//! run goes on; a panic inside a codec is caught and reported the same way.
//! If the sink fails (say, a full disk), dropping its receiver unwinds every
//! stage: each send fails and each thread returns.

mod faces;
mod sink;
mod workers;

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::bounded;

use crate::engine::analysis::Analysis;
use crate::engine::backend::Model;
use crate::engine::decode::DecodedInfo;
use crate::engine::faces::FaceFrame;
use crate::engine::model::{CROP_BYTES, ModelOutput};
use crate::error::{Failure, Result};
use crate::recommend::Recommender;
use crate::recommend::playlist::Pick;
use crate::run::ingest::{ImageSource, IngestItem, InputKind, Skip, Sources, input_id};
use crate::run::output::{Learning, PartSink};
use crate::run::settings::{AnalyzeSettings, Progress};
use crate::run::shard::InputDigest;
use faces::FaceSearch;
use sink::{match_stage, sink};
use workers::{Ready, decode_worker, model_stage};

pub(super) struct Job {
    seq: u64,
    item: IngestItem,
}

pub(super) struct Decoded {
    seq: u64,
    source: ImageSource,
    info: DecodedInfo,
    crop: Vec<u8>,
    face: Option<FaceFrame>,
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

/// What the stages saw of the inputs while they ran.
pub(in crate::run) struct Staged {
    pub kind: InputKind,
    /// Inputs the run owns, resumed ones included.
    pub inputs: u64,
    /// Entries the walk passed over, by `Skip`.
    pub skipped: [u64; 3],
    pub other_shards: u64,
    /// Every input's id (every shard's), as ingest listed them this time.
    pub digest: InputDigest,
}

impl Staged {
    pub fn skipped(&self, why: Skip) -> u64 {
        self.skipped[why as usize]
    }
}

/// Runs the stages over the inputs (`ingest::open`'s) after the first
/// `resumed` this run owns, committing their rows to `parts` in input order.
pub(in crate::run) fn stages(
    settings: &AnalyzeSettings,
    (kind, sources): (InputKind, Sources),
    model: &Model,
    recommend: Option<&Recommender>,
    resumed: u64,
    parts: &mut PartSink,
    progress: &dyn Progress,
) -> Result<Staged> {
    let engine = model.engine.as_ref();
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
            let faces = settings.faces.is_some();
            s.spawn(move || decode_worker(limits, faces, job_rx, dec_tx, free_rx, out_tx));
        }
        drop((job_rx, dec_tx, free_rx));
        let (ready_tx, ready_rx) = bounded::<Ready>(1);
        let (spare_tx, spare_rx) = bounded::<ModelOutput>(engine.depth() + 2);
        s.spawn(move || model_stage(engine, batch, dec_rx, free_tx, ready_tx, spare_rx));
        {
            let out_tx = out_tx.clone();
            let keep_features = settings.features;
            let head = &model.head;
            let faces = settings.faces.map(|threshold| FaceSearch {
                engine: model.faces.as_ref(),
                threshold,
                gate: settings.face_gate,
            });
            s.spawn(move || match_stage(head, faces, recommend, keep_features, ready_rx, spare_tx, out_tx));
        }
        drop(out_tx);
        // On error `out_rx` is dropped inside `sink`, so every stage unwinds.
        sink(out_rx, resumed, parts, recommend, progress)
    });
    sink_result?;
    Ok(Staged {
        kind,
        inputs: inputs.into_inner(),
        skipped: skipped.map(AtomicU64::into_inner),
        other_shards: others.into_inner(),
        digest: digest.into_inner().unwrap_or_else(|p| p.into_inner()),
    })
}
