//! The threads that feed the engine: decode workers turn files into crops,
//! and the model stage gathers crops into batches and keeps the engine busy.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::{Decoded, Job, Outcome};
use crate::engine::decode::{DecodeLimits, DecodedInfo, Decoder};
use crate::engine::faces::FaceFrame;
use crate::engine::model::{CROP_BYTES, Engine, ModelOutput};
use crate::error::{Failure, Result, Stage};
use crate::run::ingest::{ImageSource, IngestItem};

/// How long the model waits to fill a batch once it has one image.
const BATCH_WAIT: Duration = Duration::from_millis(50);

/// Decodes inputs into crops; with `faces`, each picture's face frame is
/// kept for the face search, which waits for the model (`faces`).
pub(super) fn decode_worker(
    limits: DecodeLimits,
    faces: bool,
    jobs: Receiver<Job>,
    decoded: Sender<Decoded>,
    free: Receiver<Vec<u8>>,
    out: Sender<(u64, Outcome)>,
) {
    let new_decoder = || match faces {
        true => Decoder::new(limits).with_face_frame(),
        false => Decoder::new(limits),
    };
    let mut decoder = new_decoder();
    // A worker keeps its slot across failed images and only asks the pool
    // for a new one after handing a crop to the model.
    let mut slot: Option<Vec<u8>> = None;
    for Job { seq, item } in jobs {
        let source = match item {
            IngestItem::Image(source) => source,
            IngestItem::Rejected { path, reason } => {
                let failure = Failure::new(Stage::Ingest, reason);
                if out.send((seq, Outcome::Failed { image_id: None, path, failure })).is_err() {
                    return;
                }
                continue;
            }
            IngestItem::Skipped(_) => continue,
        };
        let mut crop = match slot.take() {
            Some(c) => c,
            None => match free.recv() {
                Ok(c) => c,
                Err(_) => return,
            },
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let info = decoder.decode_file(&source.path, &mut crop)?;
            Ok((info, decoder.face_frame().map(FaceFrame::copy_of)))
        }));
        let sent = match result {
            Ok(Ok((info, face))) => decoded.send(Decoded { seq, source, info, crop, face }).is_ok(),
            Ok(Err(failure)) => {
                slot = Some(crop);
                send_failure(&out, seq, source, failure)
            }
            Err(panic) => {
                // The codec's state is unknown after a panic: start afresh.
                decoder = new_decoder();
                slot = Some(crop);
                let msg = panic_message(&panic);
                send_failure(&out, seq, source, Failure::new(Stage::Decode, format!("decoder crashed: {msg}")))
            }
        };
        if !sent {
            return;
        }
    }
}

pub(super) fn send_failure(out: &Sender<(u64, Outcome)>, seq: u64, source: ImageSource, failure: Failure) -> bool {
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
pub(super) struct Pending {
    pub seq: u64,
    pub source: ImageSource,
    pub info: DecodedInfo,
    /// Its face frame, until the face search has run.
    pub face: Option<FaceFrame>,
}

/// A batch the engine has finished (or failed).
pub(super) struct Ready {
    pub items: Vec<Pending>,
    pub output: Result<ModelOutput>,
}

/// Gathers decoded crops into batches and keeps the engine busy: with an
/// engine of depth 2 (the GPU), batch i+1 is gathered and queued while
/// batch i computes. Crop slots go back to the decoders once their batch
/// has started.
pub(super) fn model_stage(
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
                    Ok(Decoded { seq, source, info, crop, face }) => {
                        let i = items.len();
                        crops[i * CROP_BYTES..(i + 1) * CROP_BYTES].copy_from_slice(&crop);
                        slots.push(crop);
                        items.push(Pending { seq, source, info, face });
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
