//! The `album` table: one row per track of an album playlist.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Float32Array, StringArray, UInt16Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::Serialize;

use super::{Table, list_field, list_of};
use crate::error::Result;

/// One track of the album: a row of `album.parquet`, as built and as
/// read back (`after::finished::read_album`). It lives beside its table so
/// that a run's output needs nothing of the album that is built from it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AlbumTrack {
    pub position: u16,
    pub track_id: String,
    pub title: String,
    pub artist: String,
    /// The photos of the stretch it serves.
    pub photos: Vec<String>,
    pub score: f32,
    /// The track's arousal (−1..1), when the catalog says.
    pub arousal: Option<f32>,
    pub tempo: Option<f32>,
    /// The arousal the slot asked for.
    pub target_arousal: f32,
    pub explanation: String,
}

pub fn album_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("position", DataType::UInt16, false),
        Field::new("track_id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("artist", DataType::Utf8, false),
        list_field("photos", DataType::Utf8),
        Field::new("score", DataType::Float32, false),
        Field::new("arousal", DataType::Float32, true),
        Field::new("tempo", DataType::Float32, true),
        Field::new("target_arousal", DataType::Float32, false),
        Field::new("explanation", DataType::Utf8, false),
    ]))
}

/// Writes `album.parquet` (atomically, like every table).
pub fn write_album(dest: &Path, t: &[AlbumTrack]) -> Result<u64> {
    let strings = |f: fn(&AlbumTrack) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(t.iter().map(f))) };
    let mut photos: ListBuilder<StringBuilder> = list_of(StringBuilder::new(), DataType::Utf8);
    for track in t {
        for p in &track.photos {
            photos.values().append_value(p);
        }
        photos.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt16Array::from_iter_values(t.iter().map(|x| x.position))),
        strings(|x| &x.track_id),
        strings(|x| &x.title),
        strings(|x| &x.artist),
        Arc::new(photos.finish()),
        Arc::new(Float32Array::from_iter_values(t.iter().map(|x| x.score))),
        Arc::new(Float32Array::from_iter(t.iter().map(|x| x.arousal))),
        Arc::new(Float32Array::from_iter(t.iter().map(|x| x.tempo))),
        Arc::new(Float32Array::from_iter_values(t.iter().map(|x| x.target_arousal))),
        strings(|x| &x.explanation),
    ];
    let mut table = Table::create(dest, album_schema())?;
    table.write(columns)?;
    table.finish()
}
