//! The `recommendations` table: one row per playlist pick.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder, UInt16Builder};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::{Table, list_field, list_of};
use crate::catalog::Catalog;
use crate::error::Result;
use crate::recommend::playlist::Pick;

pub fn recommendations_schema() -> SchemaRef {
    let list = list_field;
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
}

impl RecommendationsWriter {
    pub fn create(dest: impl Into<super::Dest>) -> Result<Self> {
        Ok(RecommendationsWriter {
            table: Table::create(dest, recommendations_schema())?,
            strings: std::array::from_fn(|_| StringBuilder::new()),
            rank: UInt16Builder::new(),
            score: Float32Builder::new(),
            dims: list_of(StringBuilder::new(), DataType::Utf8),
            contribs: list_of(Float32Builder::new(), DataType::Float32),
            explanation: StringBuilder::new(),
        })
    }

    /// Appends `playlist`'s picks for `image_id`, ranked from 1, each
    /// track named as `catalog` names it.
    pub fn push_playlist(&mut self, image_id: &str, playlist: &[Pick], catalog: &Catalog) -> Result<()> {
        for (rank, pick) in playlist.iter().enumerate() {
            let t = catalog.track(pick.track as usize);
            self.push(&RecommendationRecord {
                image_id,
                rank: rank as u16 + 1,
                track_id: t.id,
                title: t.title,
                artist: t.artist,
                score: pick.score,
                contributions: &pick.contributions,
                explanation: &pick.explanation,
            })?;
        }
        Ok(())
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
        if self.table.row_added() { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.table.take_pending() {
            return Ok(());
        }
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
