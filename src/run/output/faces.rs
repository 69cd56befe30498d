//! The `faces` table: one row per face found, in the original image's
//! pixels. Images without faces have no rows; a run with faces off writes
//! no table.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder, UInt16Builder};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::{Table, list_field, list_of};
use crate::engine::faces::Face;
use crate::error::Result;

pub fn faces_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("image_id", DataType::Utf8, false),
        Field::new("face", DataType::UInt16, false),
        Field::new("x", DataType::Float32, false),
        Field::new("y", DataType::Float32, false),
        Field::new("width", DataType::Float32, false),
        Field::new("height", DataType::Float32, false),
        Field::new("confidence", DataType::Float32, false),
        Field::new("expression", DataType::Utf8, false),
        list_field("expression_probs", DataType::Float32),
    ]))
}

/// Writer of `faces.parquet`.
pub struct FacesWriter {
    table: Table,
    image_id: StringBuilder,
    face: UInt16Builder,
    boxes: [Float32Builder; 5],
    expression: StringBuilder,
    probs: ListBuilder<Float32Builder>,
}

impl FacesWriter {
    pub fn create(dest: impl Into<super::Dest>) -> Result<Self> {
        Ok(FacesWriter {
            table: Table::create(dest, faces_schema())?,
            image_id: StringBuilder::new(),
            face: UInt16Builder::new(),
            boxes: std::array::from_fn(|_| Float32Builder::new()),
            expression: StringBuilder::new(),
            probs: list_of(Float32Builder::new(), DataType::Float32),
        })
    }

    /// The faces of one image, numbered from 0 in the order given.
    pub fn push(&mut self, image_id: &str, faces: &[Face]) -> Result<()> {
        for (i, f) in faces.iter().enumerate() {
            self.image_id.append_value(image_id);
            self.face.append_value(i as u16);
            for (b, v) in self.boxes.iter_mut().zip([f.x, f.y, f.width, f.height, f.confidence]) {
                b.append_value(v);
            }
            self.expression.append_value(f.expression());
            self.probs.values().append_slice(&f.probs);
            self.probs.append(true);
            if self.table.row_added() {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.table.take_pending() {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.image_id.finish()), Arc::new(self.face.finish())];
        cols.extend(self.boxes.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.expression.finish()));
        cols.push(Arc::new(self.probs.finish()));
        self.table.write(cols)
    }

    /// Flushes, closes and moves the file into place; returns its row count.
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.table.finish()
    }
}
