//! Catalog formats: CSV, TSV, Parquet and JSON (an array, or one object per
//! line), all read as a stream of rows of loosely typed cells handed to a
//! callback, so no format holds the whole file in memory. Every row carries
//! a locator ("file:line" or "file: element n") for error messages.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::error::{Error, Result};

/// One cell of a catalog row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Num(f64),
    Text(String),
    List(Vec<Cell>),
}

impl Cell {
    /// Text as written, numbers formatted, lists joined with `|`.
    pub fn text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Num(x) => {
                Some(if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", *x as i64) } else { x.to_string() })
            }
            Cell::Text(s) => Some(s.clone()),
            Cell::List(items) => Some(items.iter().filter_map(Cell::text).collect::<Vec<_>>().join("|")),
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
/// worker turns them into cells, as that is much of the reading work.
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
    pub fn into_rows(self) -> Vec<Row> {
        match self {
            Chunk::Rows(rows) => rows,
            Chunk::Batch { batch, first_row, name, width, columns } => (0..batch.num_rows())
                .map(|r| {
                    let cells = match &columns {
                        None => batch.columns().iter().map(|c| arrow_cell(c, r)).collect(),
                        Some(cols) => {
                            let mut cells = vec![Cell::Null; width];
                            for (j, &c) in cols.iter().enumerate() {
                                cells[c] = arrow_cell(batch.column(j), r);
                            }
                            cells
                        }
                    };
                    Row { locator: format!("{name}: row {}", first_row + r), cells, extra: Vec::new() }
                })
                .collect(),
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

fn parquet_chunks(path: &Path, only: Option<&[usize]>, f: &mut dyn FnMut(&[String], Chunk) -> bool) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::input(path, e.to_string()))?;
    let header: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let columns: Option<Arc<[usize]>> = only.map(|c| {
        let mut c = c.to_vec();
        c.sort_unstable();
        c.dedup();
        c.into()
    });
    if let Some(cols) = &columns {
        let mask = ProjectionMask::roots(builder.parquet_schema(), cols.iter().copied());
        builder = builder.with_projection(mask);
    }
    let reader = builder.with_batch_size(CHUNK_ROWS).build().map_err(|e| Error::input(path, e.to_string()))?;
    let name: Arc<str> = path.display().to_string().into();
    let mut first_row = 1usize;
    for batch in reader {
        let batch = batch.map_err(|e| Error::input(path, format!("after row {}: {e}", first_row - 1)))?;
        let n = batch.num_rows();
        let chunk =
            Chunk::Batch { batch, first_row, name: name.clone(), width: header.len(), columns: columns.clone() };
        if !f(&header, chunk) {
            break;
        }
        first_row += n;
    }
    Ok(())
}

/// Reads the catalog in chunks on one thread, runs `work` on each chunk on
/// every core (`rayon`'s thread count), and hands the results to `merge` in
/// file order until it returns false. Memory stays bounded: a few chunks
/// per core are in flight.
pub fn par_chunks<T: Send>(
    path: &Path,
    format: Format,
    only: Option<&[usize]>,
    work: &(dyn Fn(&[String], Vec<Row>) -> T + Sync),
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
                for (i, header, chunk) in rx {
                    if tx.send((i, work(&header, chunk.into_rows()))).is_err() {
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

fn csv_rows(path: &Path, name: &str, delim: u8, f: &mut dyn FnMut(&[String], Row) -> bool) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::input(path, e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(path, format!("line 1: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let mut cells: Vec<Cell> = record.iter().map(csv_cell).collect();
                let extra = if cells.len() > header.len() { cells.split_off(header.len()) } else { Vec::new() };
                cells.resize(header.len(), Cell::Null);
                if !f(&header, Row { locator: format!("{name}:{line}"), cells, extra }) {
                    return Ok(());
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(Error::input(path, format!("line {line}: {e}")));
            }
        }
    }
}

fn csv_cell(s: &str) -> Cell {
    let t = s.trim();
    if t.is_empty() { Cell::Null } else { Cell::Text(t.to_string()) }
}

fn parquet_rows(path: &Path, name: &str, f: &mut dyn FnMut(&[String], Row) -> bool) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::input(path, e.to_string()))?;
    let header: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let reader = builder.with_batch_size(8192).build().map_err(|e| Error::input(path, e.to_string()))?;
    let mut row_no = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| Error::input(path, format!("after row {row_no}: {e}")))?;
        for r in 0..batch.num_rows() {
            row_no += 1;
            let cells = batch.columns().iter().map(|c| arrow_cell(c, r)).collect();
            if !f(&header, Row { locator: format!("{name}: row {row_no}"), cells, extra: Vec::new() }) {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn arrow_cell(col: &ArrayRef, r: usize) -> Cell {
    if col.is_null(r) {
        return Cell::Null;
    }
    macro_rules! num {
        ($($t:ty),*) => {
            $(if let Some(a) = col.as_primitive_opt::<$t>() {
                return Cell::Num(a.value(r) as f64);
            })*
        };
    }
    num!(
        Float32Type,
        Float64Type,
        Int8Type,
        Int16Type,
        Int32Type,
        Int64Type,
        UInt8Type,
        UInt16Type,
        UInt32Type,
        UInt64Type
    );
    match col.data_type() {
        DataType::Utf8 => Cell::Text(col.as_string::<i32>().value(r).to_string()),
        DataType::LargeUtf8 => Cell::Text(col.as_string::<i64>().value(r).to_string()),
        DataType::Utf8View => Cell::Text(col.as_string_view().value(r).to_string()),
        DataType::Boolean => Cell::Num(if col.as_boolean().value(r) { 1.0 } else { 0.0 }),
        DataType::List(_) => {
            let v = col.as_list::<i32>().value(r);
            Cell::List((0..v.len()).map(|i| arrow_cell(&v, i)).collect())
        }
        DataType::LargeList(_) => {
            let v = col.as_list::<i64>().value(r);
            Cell::List((0..v.len()).map(|i| arrow_cell(&v, i)).collect())
        }
        DataType::FixedSizeList(_, _) => {
            let v = col.as_fixed_size_list().value(r);
            Cell::List((0..v.len()).map(|i| arrow_cell(&v, i)).collect())
        }
        DataType::Dictionary(_, _) => {
            let d = col.as_any_dictionary();
            let key = d.normalized_keys()[r];
            arrow_cell(d.values(), key)
        }
        _ => Cell::Null,
    }
}

fn json_cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Num(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64().map_or(Cell::Null, Cell::Num),
        Value::String(s) if s.trim().is_empty() => Cell::Null,
        Value::String(s) => Cell::Text(s.clone()),
        Value::Array(items) => Cell::List(items.iter().map(json_cell).collect()),
        Value::Object(_) => Cell::Text(v.to_string()),
    }
}

/// JSON objects become rows; the header is the union of keys in order of
/// first appearance among the first 1,000 objects (later new keys are kept
/// too, appended).
fn json_rows(path: &Path, name: &str, f: &mut dyn FnMut(&[String], Row) -> bool) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::new(file);
    let first = loop {
        let buf = reader.fill_buf().map_err(|e| Error::io(path, e))?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF) {
            Some(i) => {
                let c = buf[i];
                reader.consume(i);
                break c;
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    let mut header: Vec<String> = Vec::new();
    let mut emit = |obj: Value, locator: String| -> std::result::Result<bool, String> {
        let Value::Object(map) = obj else {
            return Err(format!("{locator}: expected a JSON object per track"));
        };
        for k in map.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
        let cells = header.iter().map(|k| map.get(k).map_or(Cell::Null, json_cell)).collect();
        Ok(f(&header, Row { locator, cells, extra: Vec::new() }))
    };
    if first == b'[' {
        json_array(reader, name, &mut emit).map_err(|e| Error::input(path, e))
    } else {
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let locator = format!("{name}:{}", i + 1);
            let value: Value =
                serde_json::from_str(&line).map_err(|e| Error::input(path, format!("line {}: {e}", i + 1)))?;
            if !emit(value, locator).map_err(|e| Error::input(path, e))? {
                break;
            }
        }
        Ok(())
    }
}

/// Streams the elements of a top-level JSON array without loading it whole.
fn json_array(
    reader: impl Read,
    name: &str,
    emit: &mut dyn FnMut(Value, String) -> std::result::Result<bool, String>,
) -> std::result::Result<(), String> {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    struct Elements<'a> {
        name: &'a str,
        emit: &'a mut dyn FnMut(Value, String) -> std::result::Result<bool, String>,
    }
    impl<'de> Visitor<'de> for Elements<'_> {
        type Value = std::result::Result<(), String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of track objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
            let mut i = 0usize;
            while let Some(v) = seq.next_element::<Value>()? {
                i += 1;
                match (self.emit)(v, format!("{}: element {i}", self.name)) {
                    Ok(true) => {}
                    Ok(false) => {
                        // Drain the rest so the parser can finish cleanly.
                        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                        return Ok(Ok(()));
                    }
                    Err(e) => return Ok(Err(e)),
                }
            }
            Ok(Ok(()))
        }
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    de.deserialize_seq(Elements { name, emit }).map_err(|e| e.to_string())?
}
