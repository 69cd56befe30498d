//! The `errors` table: one row per input that failed, and per warning.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::StringBuilder;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::Table;
use crate::error::Result;

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
    errors: u64,
    warnings: u64,
}

impl ErrorsWriter {
    pub fn create(dest: impl Into<super::Dest>) -> Result<Self> {
        Ok(ErrorsWriter {
            table: Table::create(dest, errors_schema())?,
            cols: std::array::from_fn(|_| StringBuilder::new()),
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
        if self.table.row_added() { self.flush() } else { Ok(()) }
    }

    pub fn counts(&self) -> (u64, u64) {
        (self.errors, self.warnings)
    }

    fn flush(&mut self) -> Result<()> {
        if !self.table.take_pending() {
            return Ok(());
        }
        let cols = self.cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        self.table.write(cols)
    }

    /// Appends rows read back from an errors table (a committed part);
    /// they are not counted in `counts`.
    pub fn append(&mut self, batch: &arrow_array::RecordBatch) -> Result<()> {
        self.flush()?;
        self.table.write(batch.columns().to_vec())
    }

    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.table.finish()
    }
}
