//! The `features` table: MobileNetV2's pooled 1,280-d features per analysed
//! image, written only when a run asks for it. Learning (fitting the mood
//! head, tuning a profile from feedback) reads them from here instead of
//! running the network again; normal runs stay small without them.

use std::path::Path;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, StringBuilder};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::Table;
use crate::error::Result;
use crate::model::FEATURE_DIM;

pub fn features_schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("image_id", DataType::Utf8, false),
        Field::new("features", DataType::FixedSizeList(item, FEATURE_DIM as i32), false),
    ]))
}

/// Writer of `features.parquet`.
pub struct FeaturesWriter {
    table: Table,
    ids: StringBuilder,
    features: FixedSizeListBuilder<Float32Builder>,
}

impl FeaturesWriter {
    pub fn create(dest: &Path) -> Result<Self> {
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        Ok(FeaturesWriter {
            table: Table::create(dest, features_schema())?,
            ids: StringBuilder::new(),
            features: FixedSizeListBuilder::new(Float32Builder::new(), FEATURE_DIM as i32).with_field(item),
        })
    }

    /// One image's features (`FEATURE_DIM` values).
    pub fn push(&mut self, image_id: &str, features: &[f32]) -> Result<()> {
        debug_assert_eq!(features.len(), FEATURE_DIM);
        self.ids.append_value(image_id);
        self.features.values().append_slice(features);
        self.features.append(true);
        if self.table.row_added() { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.table.take_pending() {
            return Ok(());
        }
        let cols: Vec<ArrayRef> = vec![Arc::new(self.ids.finish()), Arc::new(self.features.finish())];
        self.table.write(cols)
    }

    /// Flushes, closes and moves the file into place; returns its row count.
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.table.finish()
    }
}
