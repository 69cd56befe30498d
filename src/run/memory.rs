//! A run whose tables stay in memory: the same stages, decode workers,
//! ordering and table writers as `run`, with the rows collected as Arrow
//! record batches instead of part files, and no output folder, journal or
//! manifest. For callers inside another process (the Python module), which
//! want the tables themselves; a crash there loses nothing on disk.

use std::path::PathBuf;

use arrow_array::RecordBatch;

use super::ingest::{self, ImageSource, IngestItem, InputKind, Sources};
use super::output::{MemoryTables, Optional, PartSink};
use super::{AnalyzeSettings, Progress, pipeline};
use crate::engine::backend::Model;
use crate::error::Result;
use crate::recommend::Recommender;

/// What a run takes its images from.
pub enum Inputs {
    /// A folder, a manifest or one image, as `--images` takes them.
    Path(PathBuf),
    /// These images, in this order, with these ids.
    List(Vec<ImageSource>),
}

/// A finished in-memory run's tables: the batches the files would hold,
/// in input order (empty lists for tables the run does not make).
pub struct MemoryRun {
    pub images: Vec<RecordBatch>,
    pub errors: Vec<RecordBatch>,
    pub recommendations: Vec<RecordBatch>,
    pub faces: Vec<RecordBatch>,
    pub features: Vec<RecordBatch>,
    /// Inputs seen (images and failures).
    pub inputs: u64,
}

/// Runs `settings` over `inputs` (its `images` and `out` are not read), with
/// a playlist per image when `recommend` is given; shards are ignored.
pub fn run_in_memory(
    settings: &AnalyzeSettings,
    inputs: Inputs,
    model: &Model,
    recommend: Option<&Recommender>,
    progress: &dyn Progress,
) -> Result<MemoryRun> {
    let input: (InputKind, Sources) = match inputs {
        Inputs::Path(p) => ingest::open(&p)?,
        Inputs::List(list) => (InputKind::Manifest, Box::new(list.into_iter().map(IngestItem::Image))),
    };
    let settings = AnalyzeSettings { shard: None, ..settings.clone() };
    let tables =
        Optional { recommendations: recommend.is_some(), features: settings.features, faces: settings.faces.is_some() };
    let (mut parts, memory) = PartSink::memory(tables);
    let staged = pipeline::stages(&settings, input, model, recommend, 0, &mut parts, progress)?;
    parts.finish()?;
    let take = MemoryTables::take;
    Ok(MemoryRun {
        images: take(&memory.images),
        errors: take(&memory.errors),
        recommendations: take(&memory.recommendations),
        faces: take(&memory.faces),
        features: take(&memory.features),
        inputs: staged.inputs,
    })
}
