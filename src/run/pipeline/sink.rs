//! The end of the pipeline: finished batches become analyses and playlists
//! (the match stage), and outcomes are written in input order (the sink).

use std::collections::BTreeMap;

use crossbeam_channel::{Receiver, Sender};

use super::faces::FaceSearch;
use super::workers::{Pending, Ready, send_failure};
use super::{Outcome, Progress};
use crate::engine::analysis::Analysis;
use crate::engine::model::ModelOutput;
use crate::engine::mood::head::MoodHead;
use crate::error::{Error, Failure, Result, Stage};
use crate::recommend::Recommender;
use crate::recommend::playlist::{Exposure, Pick};
use crate::run::ingest::{self, ImageSource};
use crate::run::output::Learning;
use crate::run::output::{ImageRecord, PartSink, PartTables, Severity};

/// Turns finished batches into analyses (top labels and mood) and, with a
/// recommender, playlists (one matcher call a batch).
pub(super) fn match_stage(
    head: &MoodHead,
    faces: Option<FaceSearch>,
    recommend: Option<&Recommender>,
    keep_features: bool,
    ready: Receiver<Ready>,
    spare: Sender<ModelOutput>,
    out: Sender<(u64, Outcome)>,
) {
    let mut probs = Vec::new();
    for Ready { items, output } in ready {
        let o = match output {
            Ok(o) => o,
            Err(e) => {
                if !fail_all(&out, items.into_iter().map(|d| (d.seq, d.source)), Stage::Model, &e) {
                    return;
                }
                continue;
            }
        };
        let mut items = items;
        let searched = faces.map(|f| f.run(&mut items, &o)).unwrap_or_default();
        let mut analysed: Vec<(u64, ImageSource, Analysis)> = Vec::with_capacity(items.len());
        let mut rows: Vec<usize> = Vec::with_capacity(items.len());
        for (i, Pending { seq, source, info, .. }) in items.into_iter().enumerate() {
            if let Some(Some(failure)) = searched.get(i) {
                if !send_failure(&out, seq, source, failure.clone()) {
                    return;
                }
                continue;
            }
            analysed.push((seq, source, Analysis::new(head, info, &o, i, &mut probs)));
            rows.push(i);
        }
        let learning: Vec<Box<Learning>> = match keep_features {
            true => rows
                .iter()
                .map(|&i| Box::new(Learning { features: o.features(i).to_vec(), semantic: o.semantic(i) }))
                .collect(),
            false => Vec::new(),
        };
        let _ = spare.try_send(o);
        let mut playlists: Vec<Vec<Pick>> = Vec::new();
        if let Some(r) = recommend {
            let images: Vec<&Analysis> = analysed.iter().map(|(_, _, a)| a).collect();
            match r.playlists(&images) {
                Ok(p) => playlists = p,
                Err(e) => {
                    if !fail_all(&out, analysed.into_iter().map(|(seq, source, _)| (seq, source)), Stage::Match, &e) {
                        return;
                    }
                    continue;
                }
            }
        }
        let (mut playlists, mut learning) = (playlists.into_iter(), learning.into_iter());
        for (seq, source, analysis) in analysed {
            let playlist = playlists.next().unwrap_or_default();
            let learning = learning.next();
            if out.send((seq, Outcome::Analysed { source, analysis: Box::new(analysis), playlist, learning })).is_err()
            {
                return;
            }
        }
    }
}

/// Reports every image of a batch the model or the matcher failed on.
fn fail_all(
    out: &Sender<(u64, Outcome)>,
    images: impl Iterator<Item = (u64, ImageSource)>,
    stage: Stage,
    e: &Error,
) -> bool {
    for (seq, source) in images {
        if !send_failure(out, seq, source, Failure::new(stage, format!("failed on this batch: {e}"))) {
            return false;
        }
    }
    true
}

/// Writes outcomes in input order.
/// Writes outcomes in input order into the current part, from sequence
/// number `first` (the inputs before it are in committed parts).
pub(super) fn sink(
    outcomes: Receiver<(u64, Outcome)>,
    first: u64,
    parts: &mut PartSink,
    recommend: Option<&Recommender>,
    progress: &dyn Progress,
) -> Result<()> {
    let catalog = recommend.map(Recommender::catalog);
    let mut exposure = recommend.and_then(|r| Exposure::new(r.settings()));
    if let (Some(e), Some(cat)) = (exposure.as_mut(), catalog)
        && first > 0
    {
        // A resumed run: what the committed parts picked counts.
        let ids = parts.committed_track_ids()?;
        let index = cat.positions();
        for id in &ids {
            if let Some(&t) = index.get(id.as_str()) {
                e.record(t as u32);
            }
        }
    }
    let mut pending: BTreeMap<u64, Outcome> = BTreeMap::new();
    let mut next = first;
    for (seq, outcome) in outcomes {
        pending.insert(seq, outcome);
        while let Some(outcome) = pending.remove(&next) {
            next += 1;
            let PartTables { images, errors, recommendations: recs, features: feature_table, faces } =
                parts.tables()?;
            match outcome {
                Outcome::Analysed { source, analysis, playlist, learning } => {
                    let playlist = match exposure.as_mut() {
                        Some(e) => e.apply(playlist),
                        None => playlist,
                    };
                    let path = source.path.to_string_lossy();
                    let raw = ingest::is_raw(&source.path).then(|| source.path.as_os_str().as_encoded_bytes());
                    let top = analysis.labels();
                    let info = &analysis.info;
                    images.push(&ImageRecord {
                        image_id: &source.id,
                        path: &path,
                        path_bytes: raw,
                        width: info.width,
                        height: info.height,
                        format: info.format,
                        file_bytes: info.file_bytes,
                        top5: &top,
                        colour: &info.colour,
                        cues: &analysis.cues,
                        mood: &analysis.mood,
                        mood_label: analysis.label,
                        faces: faces.is_some().then_some(info.faces.as_slice()),
                    })?;
                    if let Some(w) = faces.as_mut() {
                        w.push(&source.id, &info.faces)?;
                    }
                    if let (Some(w), Some(l)) = (feature_table.as_mut(), learning) {
                        w.push(&source.id, &l, &info.colour)?;
                    }
                    if let (Some(w), Some(cat)) = (recs.as_mut(), catalog) {
                        w.push_playlist(&source.id, &playlist, cat)?;
                    }
                    if let Some(w) = &info.warning {
                        errors.push(Some(&source.id), &path, Stage::Decode.as_str(), Severity::Warning, w)?;
                    }
                    if raw.is_some() {
                        let why = "the file name is not valid UTF-8: image_id is its escape (\\xNN for each \
                                   undecodable byte), and images.path_bytes holds the raw path";
                        errors.push(Some(&source.id), &path, Stage::Ingest.as_str(), Severity::Warning, why)?;
                    }
                    parts.input_done(&source.id)?;
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
                    parts.input_done(image_id.as_deref().unwrap_or(&path))?;
                    progress.finished_one(false);
                }
            }
        }
    }
    Ok(())
}
