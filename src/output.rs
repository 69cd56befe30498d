//! Output stage: Parquet tables and the run manifest, written so that a crash
//! or a kill never leaves a half-written file that looks finished.
//!
//! Every file is written under a hidden temporary name in the output folder,
//! flushed to disk, then renamed into place (atomic on POSIX file systems).
//! The run manifest is removed when a run starts and written last, so a
//! folder holds a complete, consistent run exactly when `manifest.json`
//! exists. Tables use zstd, page statistics and row groups of
//! `ROW_GROUP_ROWS`, so DuckDB, Polars and pyarrow can skip and parallelise.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    Float32Builder, ListBuilder, StringBuilder, StructBuilder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::colour::ColourFeatures;
use crate::error::{Error, Result};
use crate::mood::{self, Group, MoodVector};

pub const ROW_GROUP_ROWS: usize = 8192;
/// Rows buffered in builders before they are handed to the Parquet writer.
const FLUSH_ROWS: usize = 1024;
pub const MANIFEST_FILE: &str = "manifest.json";

/// A file that appears under its final name only once it is complete.
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> Result<Self> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.partial"));
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile { tmp, dest: dest.to_path_buf(), file: Some(file) })
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("AtomicFile used after commit")
    }

    fn take_file(&mut self) -> File {
        self.file.take().expect("AtomicFile used after commit")
    }

    /// fsync, rename into place, fsync the directory.
    pub fn commit(mut self, file: Option<File>) -> Result<()> {
        let file = file.unwrap_or_else(|| self.take_file());
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable; not all platforms allow opening dirs.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(dest)?;
    f.file().write_all(bytes).map_err(|e| Error::io(dest, e))?;
    f.commit(None)
}

/// One Parquet table being written.
struct Table {
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    target: AtomicFile,
    rows: u64,
}

impl Table {
    fn create(dest: &Path, schema: SchemaRef) -> Result<Self> {
        let mut target = AtomicFile::create(dest)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("pixtape {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(target.take_file(), schema.clone(), Some(props))
            .map_err(|e| Error::output(dest, e))?;
        Ok(Table { schema, writer, target, rows: 0 })
    }

    fn write(&mut self, columns: Vec<ArrayRef>) -> Result<()> {
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| Error::output(&self.target.dest, e))?;
        self.rows += batch.num_rows() as u64;
        self.writer.write(&batch).map_err(|e| Error::output(&self.target.dest, e))
    }

    fn finish(self) -> Result<u64> {
        let dest = self.target.dest.clone();
        let file = self.writer.into_inner().map_err(|e| Error::output(&dest, e))?;
        self.target.commit(Some(file))?;
        Ok(self.rows)
    }
}

/// One analysed image, as the `images` table stores it.
pub struct ImageRecord<'a> {
    pub image_id: &'a str,
    pub path: &'a str,
    pub width: u32,
    pub height: u32,
    pub format: &'a str,
    pub file_bytes: u64,
    /// (class index, label, probability), most probable first.
    pub top5: &'a [(usize, &'a str, f32)],
    pub colour: &'a ColourFeatures,
    /// The image's mood vector (`mood::DIM_NAMES` order).
    pub mood: &'a MoodVector,
}

fn palette_fields() -> Fields {
    Fields::from(vec![Field::new("color", DataType::Utf8, false), Field::new("share", DataType::Float32, false)])
}

pub fn images_schema() -> SchemaRef {
    let list =
        |name: &str, item: DataType| Field::new(name, DataType::List(Arc::new(Field::new("item", item, false))), false);
    Arc::new(Schema::new(vec![
        Field::new("image_id", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("width", DataType::UInt32, false),
        Field::new("height", DataType::UInt32, false),
        Field::new("format", DataType::Utf8, false),
        Field::new("file_bytes", DataType::UInt64, false),
        Field::new("top1_label", DataType::Utf8, false),
        Field::new("top1_prob", DataType::Float32, false),
        list("top5_labels", DataType::Utf8),
        list("top5_probs", DataType::Float32),
        list("top5_class_ids", DataType::UInt16),
        Field::new("brightness", DataType::Float32, false),
        Field::new("contrast", DataType::Float32, false),
        Field::new("saturation", DataType::Float32, false),
        Field::new("warmth", DataType::Float32, false),
        Field::new("colourfulness", DataType::Float32, false),
        list("palette", DataType::Struct(palette_fields())),
        Field::new("valence", DataType::Float32, false),
        Field::new("arousal", DataType::Float32, false),
        Field::new("mood_label", DataType::Utf8, false),
        list("mood_labels", DataType::Utf8),
        list("styles", DataType::Utf8),
        list("themes", DataType::Utf8),
        list("mood_vector", DataType::Float32),
    ]))
}

/// Writer of `images.parquet`.
pub struct ImagesWriter {
    table: Table,
    image_id: StringBuilder,
    path: StringBuilder,
    width: UInt32Builder,
    height: UInt32Builder,
    format: StringBuilder,
    file_bytes: UInt64Builder,
    top1_label: StringBuilder,
    top1_prob: Float32Builder,
    top5_labels: ListBuilder<StringBuilder>,
    top5_probs: ListBuilder<Float32Builder>,
    top5_ids: ListBuilder<UInt16Builder>,
    colour: [Float32Builder; 5],
    palette: ListBuilder<StructBuilder>,
    valence: Float32Builder,
    arousal: Float32Builder,
    mood_label: StringBuilder,
    mood_lists: [ListBuilder<StringBuilder>; 3],
    mood_vector: ListBuilder<Float32Builder>,
    pending: usize,
}

/// Labels of a group above this affinity are listed (at most three).
const LIST_THRESHOLD: f32 = 0.25;

fn list_of<T: arrow_array::builder::ArrayBuilder>(values: T, item: DataType) -> ListBuilder<T> {
    ListBuilder::new(values).with_field(Arc::new(Field::new("item", item, false)))
}

impl ImagesWriter {
    pub fn create(dest: &Path) -> Result<Self> {
        let palette_struct =
            StructBuilder::new(palette_fields(), vec![Box::new(StringBuilder::new()), Box::new(Float32Builder::new())]);
        Ok(ImagesWriter {
            table: Table::create(dest, images_schema())?,
            image_id: StringBuilder::new(),
            path: StringBuilder::new(),
            width: UInt32Builder::new(),
            height: UInt32Builder::new(),
            format: StringBuilder::new(),
            file_bytes: UInt64Builder::new(),
            top1_label: StringBuilder::new(),
            top1_prob: Float32Builder::new(),
            top5_labels: list_of(StringBuilder::new(), DataType::Utf8),
            top5_probs: list_of(Float32Builder::new(), DataType::Float32),
            top5_ids: list_of(UInt16Builder::new(), DataType::UInt16),
            colour: std::array::from_fn(|_| Float32Builder::new()),
            palette: list_of(palette_struct, DataType::Struct(palette_fields())),
            valence: Float32Builder::new(),
            arousal: Float32Builder::new(),
            mood_label: StringBuilder::new(),
            mood_lists: std::array::from_fn(|_| list_of(StringBuilder::new(), DataType::Utf8)),
            mood_vector: list_of(Float32Builder::new(), DataType::Float32),
            pending: 0,
        })
    }

    pub fn push(&mut self, r: &ImageRecord) -> Result<()> {
        self.image_id.append_value(r.image_id);
        self.path.append_value(r.path);
        self.width.append_value(r.width);
        self.height.append_value(r.height);
        self.format.append_value(r.format);
        self.file_bytes.append_value(r.file_bytes);
        let (_, label, prob) = r.top5.first().copied().unwrap_or((0, "", 0.0));
        self.top1_label.append_value(label);
        self.top1_prob.append_value(prob);
        for &(idx, label, prob) in r.top5 {
            self.top5_labels.values().append_value(label);
            self.top5_probs.values().append_value(prob);
            self.top5_ids.values().append_value(idx as u16);
        }
        self.top5_labels.append(true);
        self.top5_probs.append(true);
        self.top5_ids.append(true);
        let c = r.colour;
        for (b, v) in self.colour.iter_mut().zip([c.brightness, c.contrast, c.saturation, c.warmth, c.colourfulness]) {
            b.append_value(v);
        }
        for p in c.palette() {
            let s = self.palette.values();
            s.field_builder::<StringBuilder>(0).expect("palette color builder").append_value(p.hex());
            s.field_builder::<Float32Builder>(1).expect("palette share builder").append_value(p.share);
            s.append(true);
        }
        self.palette.append(true);
        self.valence.append_value(r.mood[0]);
        self.arousal.append_value(r.mood[1]);
        self.mood_label.append_value(mood::top_mood(r.mood));
        for (b, g) in self.mood_lists.iter_mut().zip([Group::Moods, Group::Styles, Group::Themes]) {
            for (name, _) in mood::ranked(r.mood, g).into_iter().filter(|(_, x)| *x >= LIST_THRESHOLD).take(3) {
                b.values().append_value(name);
            }
            b.append(true);
        }
        self.mood_vector.values().append_slice(r.mood);
        self.mood_vector.append(true);
        self.pending += 1;
        if self.pending >= FLUSH_ROWS { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        self.pending = 0;
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.image_id.finish()),
            Arc::new(self.path.finish()),
            Arc::new(self.width.finish()),
            Arc::new(self.height.finish()),
            Arc::new(self.format.finish()),
            Arc::new(self.file_bytes.finish()),
            Arc::new(self.top1_label.finish()),
            Arc::new(self.top1_prob.finish()),
            Arc::new(self.top5_labels.finish()),
            Arc::new(self.top5_probs.finish()),
            Arc::new(self.top5_ids.finish()),
        ];
        cols.extend(self.colour.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.palette.finish()));
        cols.push(Arc::new(self.valence.finish()));
        cols.push(Arc::new(self.arousal.finish()));
        cols.push(Arc::new(self.mood_label.finish()));
        cols.extend(self.mood_lists.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.mood_vector.finish()));
        self.table.write(cols)
    }

    /// Flushes, closes and moves the file into place; returns its row count.
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.table.finish()
    }
}

pub fn errors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("image_id", DataType::Utf8, true),
        Field::new("path", DataType::Utf8, false),
        Field::new("stage", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
    ]))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The input was not analysed.
    Error,
    /// The input was analysed, but something about it deserves a look.
    Warning,
}

/// Writer of `errors.parquet`.
pub struct ErrorsWriter {
    table: Table,
    cols: [StringBuilder; 5],
    pending: usize,
    errors: u64,
    warnings: u64,
}

impl ErrorsWriter {
    pub fn create(dest: &Path) -> Result<Self> {
        Ok(ErrorsWriter {
            table: Table::create(dest, errors_schema())?,
            cols: std::array::from_fn(|_| StringBuilder::new()),
            pending: 0,
            errors: 0,
            warnings: 0,
        })
    }

    pub fn push(
        &mut self,
        image_id: Option<&str>,
        path: &str,
        stage: &str,
        severity: Severity,
        reason: &str,
    ) -> Result<()> {
        self.cols[0].append_option(image_id);
        self.cols[1].append_value(path);
        self.cols[2].append_value(stage);
        self.cols[3].append_value(match severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        });
        self.cols[4].append_value(reason);
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        self.pending += 1;
        if self.pending >= FLUSH_ROWS { self.flush() } else { Ok(()) }
    }

    pub fn counts(&self) -> (u64, u64) {
        (self.errors, self.warnings)
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        self.pending = 0;
        let cols = self.cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        self.table.write(cols)
    }

    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.table.finish()
    }
}

pub fn recommendations_schema() -> SchemaRef {
    let list =
        |name: &str, item: DataType| Field::new(name, DataType::List(Arc::new(Field::new("item", item, false))), false);
    Arc::new(Schema::new(vec![
        Field::new("image_id", DataType::Utf8, false),
        Field::new("rank", DataType::UInt16, false),
        Field::new("track_id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("artist", DataType::Utf8, false),
        Field::new("score", DataType::Float32, false),
        list("dimensions", DataType::Utf8),
        list("contributions", DataType::Float32),
        Field::new("explanation", DataType::Utf8, false),
    ]))
}

/// One row of `recommendations.parquet`.
pub struct RecommendationRecord<'a> {
    pub image_id: &'a str,
    pub rank: u16,
    pub track_id: &'a str,
    pub title: &'a str,
    pub artist: &'a str,
    pub score: f32,
    pub contributions: &'a [(&'static str, f32)],
    pub explanation: &'a str,
}

/// Writer of `recommendations.parquet` (long format: one row per pick).
pub struct RecommendationsWriter {
    table: Table,
    strings: [StringBuilder; 4],
    rank: UInt16Builder,
    score: Float32Builder,
    dims: ListBuilder<StringBuilder>,
    contribs: ListBuilder<Float32Builder>,
    explanation: StringBuilder,
    pending: usize,
}

impl RecommendationsWriter {
    pub fn create(dest: &Path) -> Result<Self> {
        Ok(RecommendationsWriter {
            table: Table::create(dest, recommendations_schema())?,
            strings: std::array::from_fn(|_| StringBuilder::new()),
            rank: UInt16Builder::new(),
            score: Float32Builder::new(),
            dims: list_of(StringBuilder::new(), DataType::Utf8),
            contribs: list_of(Float32Builder::new(), DataType::Float32),
            explanation: StringBuilder::new(),
            pending: 0,
        })
    }

    pub fn push(&mut self, r: &RecommendationRecord) -> Result<()> {
        for (b, v) in self.strings.iter_mut().zip([r.image_id, r.track_id, r.title, r.artist]) {
            b.append_value(v);
        }
        self.rank.append_value(r.rank);
        self.score.append_value(r.score);
        for (name, c) in r.contributions {
            self.dims.values().append_value(name);
            self.contribs.values().append_value(*c);
        }
        self.dims.append(true);
        self.contribs.append(true);
        self.explanation.append_value(r.explanation);
        self.pending += 1;
        if self.pending >= FLUSH_ROWS { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        self.pending = 0;
        let [image_id, track_id, title, artist] = &mut self.strings;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(image_id.finish()),
            Arc::new(self.rank.finish()),
            Arc::new(track_id.finish()),
            Arc::new(title.finish()),
            Arc::new(artist.finish()),
            Arc::new(self.score.finish()),
            Arc::new(self.dims.finish()),
            Arc::new(self.contribs.finish()),
            Arc::new(self.explanation.finish()),
        ];
        self.table.write(cols)
    }

    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.table.finish()
    }
}
