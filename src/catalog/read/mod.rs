//! Catalog formats: CSV, TSV, Parquet and JSON (an array, or one object per
//! line), all read as a stream of rows of loosely typed cells handed to a
//! callback, so no format holds the whole file in memory. Every row carries
//! a locator ("file:line" or "file: element n") for error messages. One
//! file per format: `delimited` (CSV, TSV), `columnar` (Parquet), `json`.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use columnar::{BatchColumns, parquet_chunks, parquet_rows};
use delimited::csv_rows;
use json::json_rows;

mod columnar;
mod delimited;
mod json;

/// One cell of a catalog row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Num(f64),
    Text(String),
    List(Vec<Cell>),
}

impl Cell {
    /// Text as written, numbers formatted, lists joined with `|`; `None`
    /// for a null or blank cell.
    pub fn text(&self) -> Option<String> {
        self.as_text().map(Cow::into_owned)
    }

    /// `text`, borrowed where the cell holds it: most cells are text, and
    /// a million-row catalog should not copy each one to look at it.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Cell::Null => None,
            Cell::Num(x) => Some(Cow::Owned(if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{}", *x as i64)
            } else {
                x.to_string()
            })),
            Cell::Text(s) => Some(Cow::Borrowed(s.as_str())),
            Cell::List(items) => Some(Cow::Owned(items.iter().filter_map(Cell::text).collect::<Vec<_>>().join("|"))),
        }
        .filter(|s| !s.trim().is_empty())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv(u8),
    Parquet,
    Json,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv(b'\t') => "tsv",
            Format::Csv(_) => "csv",
            Format::Parquet => "parquet",
            Format::Json => "json",
        }
    }
}

/// The format a catalog's extension names (`delimiter` overrides CSV/TSV).
pub fn format_of(path: &Path, delimiter: Option<u8>) -> Result<Format> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    Ok(match ext.as_str() {
        "csv" | "txt" => Format::Csv(delimiter.unwrap_or(b',')),
        "tsv" | "tab" => Format::Csv(delimiter.unwrap_or(b'\t')),
        "parquet" | "pq" => Format::Parquet,
        "json" | "jsonl" | "ndjson" => Format::Json,
        _ => {
            return Err(Error::input(
                path,
                format!("unknown catalog format `.{ext}`: use .csv, .tsv, .parquet, .json or .jsonl"),
            ));
        }
    })
}

/// A row: its locator and its cells, aligned with the header; cells beyond
/// the header (MTG-Jamendo's trailing tags) are in `extra`.
pub struct Row {
    pub locator: String,
    pub cells: Vec<Cell>,
    pub extra: Vec<Cell>,
}

/// The number of rows, where the file says it without being read: a
/// Parquet footer's count. `None` for the text formats, and for a file that
/// does not open (reading it reports why).
pub fn row_count(path: &Path, format: Format) -> Option<usize> {
    match format {
        Format::Parquet => {
            let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).ok()?).ok()?;
            usize::try_from(b.metadata().file_metadata().num_rows()).ok()
        }
        Format::Csv(_) | Format::Json => None,
    }
}

/// Reads the column names only.
pub fn header(path: &Path, format: Format) -> Result<Vec<String>> {
    let mut names = None;
    for_each_row(path, format, &mut |h, _| {
        names = Some(h.to_vec());
        false
    })?;
    match names {
        Some(n) => Ok(n),
        None => header_only(path, format),
    }
}

/// A file with a header and no rows still has columns worth reporting.
fn header_only(path: &Path, format: Format) -> Result<Vec<String>> {
    match format {
        Format::Csv(d) => {
            let mut r = csv::ReaderBuilder::new()
                .delimiter(d)
                .flexible(true)
                .from_path(path)
                .map_err(|e| Error::input(path, e.to_string()))?;
            Ok(r.headers().map_err(|e| Error::input(path, e.to_string()))?.iter().map(str::to_string).collect())
        }
        Format::Parquet => {
            let f = File::open(path).map_err(|e| Error::io(path, e))?;
            let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| Error::input(path, e.to_string()))?;
            Ok(b.schema().fields().iter().map(|f| f.name().clone()).collect())
        }
        Format::Json => Ok(Vec::new()),
    }
}

/// Calls `f(header, row)` for every row until it returns false.
pub fn for_each_row(path: &Path, format: Format, f: &mut dyn FnMut(&[String], Row) -> bool) -> Result<()> {
    let name = path.display().to_string();
    match format {
        Format::Csv(delim) => csv_rows(path, &name, delim, f),
        Format::Parquet => parquet_rows(path, &name, f),
        Format::Json => json_rows(path, &name, f),
    }
}

/// Rows per chunk: enough to keep a core busy for a millisecond or more,
/// few enough that the chunks in flight stay small.
pub const CHUNK_ROWS: usize = 4096;

/// A run of consecutive rows. Parquet rows stay a record batch until a
/// worker reads them (`for_each_row`), as that is much of the reading work.
pub enum Chunk {
    Rows(Vec<Row>),
    Batch {
        batch: RecordBatch,
        /// Row number (1-based) of the batch's first row, for locators.
        first_row: usize,
        name: Arc<str>,
        /// The header's width; `columns` says which of its columns the
        /// batch holds (all when `None`).
        width: usize,
        columns: Option<Arc<[usize]>>,
    },
}

impl Chunk {
    /// Visits the rows in file order: each row's place in the chunk, its
    /// cells (aligned with the header) and the cells past the header.
    /// Parquet rows are decoded into `buf`, whose strings are reused from
    /// row to row: a row then costs no allocation, where a fresh row of
    /// cells cost a dozen (a third of placing a million-row catalog).
    pub fn for_each_row(&self, buf: &mut Vec<Cell>, f: &mut RowVisitor) {
        match self {
            Chunk::Rows(rows) => rows.iter().enumerate().for_each(|(r, row)| f(r, &row.cells, &row.extra)),
            Chunk::Batch { batch, width, columns, .. } => {
                let view = BatchColumns::new(batch, *width, columns.as_deref());
                for r in 0..batch.num_rows() {
                    view.fill(r, buf);
                    f(r, buf, &[]);
                }
            }
        }
    }

    /// The rows' locators, for the few rows a message names.
    pub fn into_locators(self) -> Locators {
        match self {
            Chunk::Rows(rows) => Locators::Rows(rows.into_iter().map(|r| r.locator).collect()),
            Chunk::Batch { first_row, name, .. } => Locators::Batch { name, first_row },
        }
    }
}

/// What `Chunk::for_each_row` calls: (row in the chunk, cells, extra cells).
pub type RowVisitor<'a> = dyn FnMut(usize, &[Cell], &[Cell]) + 'a;

/// Where each row of a chunk is: kept as written for text formats, made
/// on demand from the row number for Parquet.
pub enum Locators {
    Rows(Vec<String>),
    Batch { name: Arc<str>, first_row: usize },
}

impl Locators {
    pub fn get(&self, r: usize) -> String {
        match self {
            Locators::Rows(l) => l[r].clone(),
            Locators::Batch { name, first_row } => format!("{name}: row {}", first_row + r),
        }
    }
}

/// Calls `f(header, chunk)` for every chunk of `CHUNK_ROWS` rows until it
/// returns false. `only` names the columns the caller needs: a Parquet
/// reader then decodes only those (the others read as nulls); text formats
/// read every column anyway.
pub fn for_each_chunk(
    path: &Path,
    format: Format,
    only: Option<&[usize]>,
    f: &mut dyn FnMut(&[String], Chunk) -> bool,
) -> Result<()> {
    if format == Format::Parquet {
        return parquet_chunks(path, only, f);
    }
    let mut rows = Vec::with_capacity(CHUNK_ROWS);
    // JSON headers grow as new keys appear; the chunk gets the newest.
    let mut header: Vec<String> = Vec::new();
    let mut stopped = false;
    for_each_row(path, format, &mut |h, row| {
        if h.len() != header.len() {
            header = h.to_vec();
        }
        rows.push(row);
        if rows.len() == CHUNK_ROWS && !f(h, Chunk::Rows(std::mem::replace(&mut rows, Vec::with_capacity(CHUNK_ROWS))))
        {
            stopped = true;
            return false;
        }
        true
    })?;
    if !stopped && !rows.is_empty() {
        f(&header, Chunk::Rows(rows));
    }
    Ok(())
}

/// Reads the catalog in chunks on one thread, runs `work` on each chunk on
/// every core (`rayon`'s thread count), and hands the results to `merge` in
/// file order until it returns false. Each worker keeps a `W` of its own
/// from chunk to chunk (buffers, memos). Memory stays bounded: a few chunks
/// per core are in flight.
pub fn par_chunks<W: Default, T: Send>(
    path: &Path,
    format: Format,
    only: Option<&[usize]>,
    work: &(dyn Fn(&mut W, &[String], Chunk) -> T + Sync),
    merge: &mut dyn FnMut(T) -> bool,
) -> Result<()> {
    let threads = rayon::current_num_threads().max(1);
    std::thread::scope(|s| {
        let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<(usize, Arc<Vec<String>>, Chunk)>(threads * 2);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<(usize, T)>(threads * 2);
        let reader = s.spawn(move || {
            let mut index = 0usize;
            let mut header: Arc<Vec<String>> = Arc::new(Vec::new());
            for_each_chunk(path, format, only, &mut |h, chunk| {
                if h.len() != header.len() {
                    header = Arc::new(h.to_vec());
                }
                index += 1;
                chunk_tx.send((index - 1, header.clone(), chunk)).is_ok()
            })
        });
        for _ in 0..threads {
            let (rx, tx) = (chunk_rx.clone(), done_tx.clone());
            s.spawn(move || {
                let mut state = W::default();
                for (i, header, chunk) in rx {
                    if tx.send((i, work(&mut state, &header, chunk))).is_err() {
                        return;
                    }
                }
            });
        }
        drop((chunk_rx, done_tx));
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0usize;
        'merge: for (i, out) in done_rx.iter() {
            pending.insert(i, out);
            while let Some(out) = pending.remove(&next) {
                next += 1;
                if !merge(out) {
                    break 'merge;
                }
            }
        }
        // Dropping the receiver stops the workers, and with them the reader.
        drop(done_rx);
        reader.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}
