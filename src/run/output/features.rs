//! The `features` table: what learning needs of each analysed image, written
//! only when a run asks for it. Learning (fitting the mood head, tuning a
//! profile from feedback) reads it instead of running the network again;
//! normal runs stay small without it.
//!
//! * `features`: MobileNetV2's pooled 1,280-d features;
//! * `semantic`: the probability-weighted mood of its ImageNet classes
//!   (`mood::semantic`), from which any head's mood can be rebuilt;
//! * `prior`: the mood before the learned head (`mood::image_mood_from`),
//!   the head's own input.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, StringBuilder};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::Table;
use crate::engine::colour::ColourFeatures;
use crate::engine::model::FEATURE_DIM;
use crate::engine::mood::{self, MoodVector, NUM_DIMS};
use crate::error::Result;

pub fn features_schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("image_id", DataType::Utf8, false),
        Field::new("features", DataType::FixedSizeList(item.clone(), FEATURE_DIM as i32), false),
        Field::new("semantic", DataType::FixedSizeList(item.clone(), NUM_DIMS as i32), false),
        Field::new("prior", DataType::FixedSizeList(item, NUM_DIMS as i32), false),
    ]))
}

/// What learning needs of one image, beside its colour measures (in the
/// `images` table).
#[derive(Clone, Debug)]
pub struct Learning {
    pub features: Vec<f32>,
    pub semantic: MoodVector,
}

fn vectors(len: usize) -> FixedSizeListBuilder<Float32Builder> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    FixedSizeListBuilder::new(Float32Builder::new(), len as i32).with_field(item)
}

/// Writer of `features.parquet`.
pub struct FeaturesWriter {
    table: Table,
    ids: StringBuilder,
    features: FixedSizeListBuilder<Float32Builder>,
    semantic: FixedSizeListBuilder<Float32Builder>,
    prior: FixedSizeListBuilder<Float32Builder>,
}

impl FeaturesWriter {
    pub fn create(dest: impl Into<super::Dest>) -> Result<Self> {
        Ok(FeaturesWriter {
            table: Table::create(dest, features_schema())?,
            ids: StringBuilder::new(),
            features: vectors(FEATURE_DIM),
            semantic: vectors(NUM_DIMS),
            prior: vectors(NUM_DIMS),
        })
    }

    /// One image's row; `colour` gives its prior.
    pub fn push(&mut self, image_id: &str, learning: &Learning, colour: &ColourFeatures) -> Result<()> {
        debug_assert_eq!(learning.features.len(), FEATURE_DIM);
        self.ids.append_value(image_id);
        let prior = mood::image_mood_from(&learning.semantic, colour);
        for (b, v) in [
            (&mut self.features, &learning.features[..]),
            (&mut self.semantic, &learning.semantic[..]),
            (&mut self.prior, &prior[..]),
        ] {
            b.values().append_slice(v);
            b.append(true);
        }
        if self.table.row_added() { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.table.take_pending() {
            return Ok(());
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.ids.finish()),
            Arc::new(self.features.finish()),
            Arc::new(self.semantic.finish()),
            Arc::new(self.prior.finish()),
        ];
        self.table.write(cols)
    }

    /// Flushes, closes and moves the file into place; returns its row count.
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.table.finish()
    }
}
