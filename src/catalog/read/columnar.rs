//! Parquet catalogs: record batches of only the columns asked for, read
//! into cells by the workers (`BatchColumns`, through `Chunk::for_each_row`),
//! or row by row.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{CHUNK_ROWS, Cell, Chunk, Row};
use crate::error::{Error, Result};

pub(super) fn parquet_chunks(
    path: &Path,
    only: Option<&[usize]>,
    f: &mut dyn FnMut(&[String], Chunk) -> bool,
) -> Result<()> {
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

pub(super) fn parquet_rows(path: &Path, name: &str, f: &mut dyn FnMut(&[String], Row) -> bool) -> Result<()> {
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

pub(super) fn arrow_cell(col: &ArrayRef, r: usize) -> Cell {
    if col.is_null(r) {
        return Cell::Null;
    }
    match Column::of(col) {
        Column::Num(_, value) => Cell::Num(value(r)),
        Column::Text(_, value) => Cell::Text(value(r).to_string()),
        Column::Other(_) => other_cell(col, r),
    }
}

/// A cell of a column that is neither numbers nor text (not null).
fn other_cell(col: &ArrayRef, r: usize) -> Cell {
    match col.data_type() {
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

/// A record batch's columns, each looked at once for its type, so that a
/// row is read by direct access instead of a chain of downcasts per cell.
pub(super) struct BatchColumns<'a> {
    /// (header position, column) for each column the batch holds.
    columns: Vec<(usize, Column<'a>)>,
    width: usize,
}

enum Column<'a> {
    Num(&'a dyn Array, Box<dyn Fn(usize) -> f64 + 'a>),
    Text(&'a dyn Array, Box<dyn Fn(usize) -> &'a str + 'a>),
    /// Lists, dictionaries, booleans: rare in catalogs, read cell by cell.
    Other(&'a ArrayRef),
}

impl<'a> BatchColumns<'a> {
    /// `columns` says which header positions the batch's columns hold (all,
    /// in order, when `None`).
    pub(super) fn new(batch: &'a RecordBatch, width: usize, columns: Option<&[usize]>) -> Self {
        let columns =
            batch.columns().iter().enumerate().map(|(j, col)| (columns.map_or(j, |c| c[j]), Column::of(col))).collect();
        BatchColumns { columns, width }
    }

    /// Row `r` into `buf`, aligned with the header; a text cell reuses the
    /// string already in its place.
    pub(super) fn fill(&self, r: usize, buf: &mut Vec<Cell>) {
        if buf.len() != self.width {
            buf.clear();
            buf.resize(self.width, Cell::Null);
        }
        for (c, col) in &self.columns {
            let cell = &mut buf[*c];
            match col {
                Column::Num(a, _) | Column::Text(a, _) if a.is_null(r) => *cell = Cell::Null,
                Column::Other(a) if a.is_null(r) => *cell = Cell::Null,
                Column::Num(_, value) => *cell = Cell::Num(value(r)),
                Column::Text(_, value) => match cell {
                    Cell::Text(s) => {
                        s.clear();
                        s.push_str(value(r));
                    }
                    _ => *cell = Cell::Text(value(r).to_string()),
                },
                Column::Other(a) => *cell = other_cell(a, r),
            }
        }
    }
}

impl<'a> Column<'a> {
    fn of(col: &'a ArrayRef) -> Self {
        macro_rules! num {
            ($($t:ty),*) => {
                $(if let Some(a) = col.as_primitive_opt::<$t>() {
                    return Column::Num(a, Box::new(move |r| a.value(r) as f64));
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
            DataType::Utf8 => {
                let a = col.as_string::<i32>();
                Column::Text(a, Box::new(move |r| a.value(r)))
            }
            DataType::LargeUtf8 => {
                let a = col.as_string::<i64>();
                Column::Text(a, Box::new(move |r| a.value(r)))
            }
            DataType::Utf8View => {
                let a = col.as_string_view();
                Column::Text(a, Box::new(move |r| a.value(r)))
            }
            _ => Column::Other(col),
        }
    }
}
