//! Output stage: Parquet tables and the run manifest, written so that a crash
//! or a kill never leaves a half-written file that looks finished.
//!
//! Every file is written through `crate::atomic::AtomicFile`: under a hidden
//! temporary name, flushed, then renamed into place.
//! The run manifest is removed when a run starts and written last, so a
//! folder holds a complete, consistent run exactly when `manifest.json`
//! exists. Tables use zstd, page statistics and row groups of
//! `ROW_GROUP_ROWS`, so DuckDB, Polars and pyarrow can skip and parallelise.
//!
//! The same writers can keep their record batches in memory instead
//! (`Dest::Memory`): the Python module hands a run's tables to pyarrow that
//! way, built by the same code as the files, with no file in between.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::builder::{ArrayBuilder, ListBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

mod album;
mod errors;
mod faces;
mod features;
mod images;
mod lock;
mod memory;
mod parts;
mod recommendations;

use crate::atomic::AtomicFile;
use crate::error::{Error, Result};
pub use album::{AlbumTrack, album_schema, write_album};
pub use errors::{ErrorsWriter, Severity, errors_schema};
pub use faces::{FacesWriter, faces_schema};
pub use features::{FeaturesWriter, Learning, features_schema};
pub use images::{ImageRecord, ImagesWriter, images_schema};
pub use lock::{LOCK_FILE, OutputLock};
pub use memory::MemoryTables;
pub use parts::concat as concat_parts;
pub use parts::remove as remove_parts;
pub use parts::{
    Compacted, DEFAULT_PART_INPUTS, Journal, Optional, OrderedIds, PARTS_DIR, PartCounts, PartSink, PartTables, compact,
};
pub use recommendations::{RecommendationRecord, RecommendationsWriter, recommendations_schema};

pub const ROW_GROUP_ROWS: usize = 8192;
/// Rows buffered in builders before they are handed to the Parquet writer.
const FLUSH_ROWS: usize = 1024;
/// The files a run writes into its output folder, named here only.
pub const IMAGES_FILE: &str = "images.parquet";
pub const ERRORS_FILE: &str = "errors.parquet";
pub const RECOMMENDATIONS_FILE: &str = "recommendations.parquet";
pub const FEATURES_FILE: &str = "features.parquet";
pub const FACES_FILE: &str = "faces.parquet";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const ALBUM_FILE: &str = "album.parquet";
pub const REPORT_FILE: &str = "report.html";
/// A video run's tables (`video::output` writes them); named here, beside
/// the others, so that `pixtape verify` reads both kinds of run.
pub const SCENES_FILE: &str = "scenes.parquet";
pub const SOUNDTRACK_FILE: &str = "soundtrack.parquet";
/// A video run's journal of committed videos, in `PARTS_DIR`.
pub const VIDEO_JOURNAL_FILE: &str = "videos.jsonl";

/// Record batches a table collects in memory, shared with whoever reads them.
pub type Collected = Arc<Mutex<Vec<RecordBatch>>>;

/// Where a table's rows go.
#[derive(Clone, Debug)]
pub enum Dest {
    /// A Parquet file, written atomically.
    File(PathBuf),
    /// Record batches appended to a shared list.
    Memory(Collected),
}

impl From<&Path> for Dest {
    fn from(p: &Path) -> Dest {
        Dest::File(p.to_path_buf())
    }
}

impl From<&PathBuf> for Dest {
    fn from(p: &PathBuf) -> Dest {
        Dest::File(p.clone())
    }
}

enum Target {
    File { writer: ArrowWriter<File>, file: AtomicFile },
    Memory(Collected),
}

/// One table being written.
pub(super) struct Table {
    schema: SchemaRef,
    target: Target,
    rows: u64,
    /// Rows pushed into the writer's builders since the last flush.
    pending: usize,
}

/// Names an in-memory table in errors.
const IN_MEMORY: &str = "<in-memory table>";

impl Table {
    pub(super) fn create(dest: impl Into<Dest>, schema: SchemaRef) -> Result<Self> {
        let dest = match dest.into() {
            Dest::File(path) => path,
            Dest::Memory(batches) => {
                return Ok(Table { schema, target: Target::Memory(batches), rows: 0, pending: 0 });
            }
        };
        let dest = dest.as_path();
        let mut target = AtomicFile::create(dest)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("pixtape {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(target.take_file(), schema.clone(), Some(props))
            .map_err(|e| Error::output(dest, e))?;
        Ok(Table { schema, target: Target::File { writer, file: target }, rows: 0, pending: 0 })
    }

    fn dest(&self) -> &Path {
        match &self.target {
            Target::File { file, .. } => file.dest(),
            Target::Memory(_) => Path::new(IN_MEMORY),
        }
    }

    /// Counts a row pushed into the builders; true when they should be
    /// flushed (`FLUSH_ROWS` are waiting).
    pub(super) fn row_added(&mut self) -> bool {
        self.pending += 1;
        self.pending >= FLUSH_ROWS
    }

    /// Whether the builders hold rows to flush; the count restarts.
    pub(super) fn take_pending(&mut self) -> bool {
        std::mem::take(&mut self.pending) > 0
    }

    pub(super) fn write(&mut self, columns: Vec<ArrayRef>) -> Result<()> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| Error::output(self.dest(), e))?;
        self.rows += batch.num_rows() as u64;
        match &mut self.target {
            Target::File { writer, file } => writer.write(&batch).map_err(|e| Error::output(file.dest(), e)),
            Target::Memory(batches) => {
                batches.lock().unwrap_or_else(|p| p.into_inner()).push(batch);
                Ok(())
            }
        }
    }

    pub(super) fn finish(self) -> Result<u64> {
        if let Target::File { writer, file } = self.target {
            let dest = file.dest().to_path_buf();
            let inner = writer.into_inner().map_err(|e| Error::output(&dest, e))?;
            file.commit(Some(inner))?;
        }
        Ok(self.rows)
    }
}

/// Writes a whole table at once (tables small enough to build in memory,
/// such as a video's scenes), with the same settings and atomic commit as
/// the run's tables; returns its rows.
pub fn write_batch(dest: &Path, batch: &RecordBatch) -> Result<u64> {
    let mut table = Table::create(dest, batch.schema())?;
    table.write(batch.columns().to_vec())?;
    table.finish()
}

/// A list column of non-null `item` values, as every list column is.
pub(super) fn list_field(name: &str, item: DataType) -> Field {
    Field::new(name, DataType::List(Arc::new(Field::new("item", item, false))), false)
}

/// The builder of a `list_field` column.
pub(super) fn list_of<T: ArrayBuilder>(values: T, item: DataType) -> ListBuilder<T> {
    ListBuilder::new(values).with_field(Arc::new(Field::new("item", item, false)))
}
