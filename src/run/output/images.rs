//! The `images` table: one row per analysed image.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BinaryBuilder, Float32Builder, ListBuilder, StringBuilder, StructBuilder, UInt16Builder, UInt32Builder,
    UInt64Builder,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use super::{Table, list_field, list_of};
use crate::engine::colour::ColourFeatures;
use crate::engine::cues::{CUE_NAMES, CUES};
use crate::engine::faces::{self, Face};
use crate::engine::mood::{self, Group, MoodVector};
use crate::error::Result;

/// One analysed image, as the `images` table stores it.
pub struct ImageRecord<'a> {
    pub image_id: &'a str,
    pub path: &'a str,
    /// The path's raw bytes, only when it is not UTF-8 (then `path` is a
    /// lossy rendering and `image_id` an escape).
    pub path_bytes: Option<&'a [u8]>,
    pub width: u32,
    pub height: u32,
    pub format: &'a str,
    pub file_bytes: u64,
    /// (class index, label, probability), most probable first.
    pub top5: &'a [(usize, &'a str, f32)],
    pub colour: &'a ColourFeatures,
    /// The intensity cues the head read (`cues::CUE_NAMES` order).
    pub cues: &'a [f32; CUES],
    /// The image's mood vector (`mood::DIM_NAMES` order).
    pub mood: &'a MoodVector,
    /// The picture's top mood, as the mood head chooses it.
    pub mood_label: &'a str,
    /// Its faces, when the run looks for them.
    pub faces: Option<&'a [Face]>,
}

fn palette_fields() -> Fields {
    Fields::from(vec![Field::new("color", DataType::Utf8, false), Field::new("share", DataType::Float32, false)])
}

pub fn images_schema() -> SchemaRef {
    let list = list_field;
    let mut fields = vec![
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
    ];
    fields.extend(CUE_NAMES.iter().map(|n| Field::new(*n, DataType::Float32, false)));
    fields.extend([
        Field::new("valence", DataType::Float32, false),
        Field::new("arousal", DataType::Float32, false),
        Field::new("mood_label", DataType::Utf8, false),
        list("mood_labels", DataType::Utf8),
        list("styles", DataType::Utf8),
        list("themes", DataType::Utf8),
        list("mood_vector", DataType::Float32),
        Field::new("path_bytes", DataType::Binary, true),
        // Null when the run does not look for faces.
        Field::new("faces", DataType::UInt16, true),
        Field::new("face_expression", DataType::Utf8, true),
        Field::new("face_mix", DataType::List(Arc::new(Field::new("item", DataType::Float32, false))), true),
        Field::new("face_area", DataType::Float32, true),
    ]);
    Arc::new(Schema::new(fields))
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
    cues: [Float32Builder; CUES],
    valence: Float32Builder,
    arousal: Float32Builder,
    mood_label: StringBuilder,
    mood_lists: [ListBuilder<StringBuilder>; 3],
    mood_vector: ListBuilder<Float32Builder>,
    path_bytes: BinaryBuilder,
    faces: UInt16Builder,
    face_expression: StringBuilder,
    face_mix: ListBuilder<Float32Builder>,
    face_area: Float32Builder,
}

/// Labels of a group above this affinity are listed (at most three).
const LIST_THRESHOLD: f32 = 0.25;

impl ImagesWriter {
    pub fn create(dest: impl Into<super::Dest>) -> Result<Self> {
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
            cues: std::array::from_fn(|_| Float32Builder::new()),
            valence: Float32Builder::new(),
            arousal: Float32Builder::new(),
            mood_label: StringBuilder::new(),
            mood_lists: std::array::from_fn(|_| list_of(StringBuilder::new(), DataType::Utf8)),
            mood_vector: list_of(Float32Builder::new(), DataType::Float32),
            path_bytes: BinaryBuilder::new(),
            faces: UInt16Builder::new(),
            face_expression: StringBuilder::new(),
            face_mix: list_of(Float32Builder::new(), DataType::Float32),
            face_area: Float32Builder::new(),
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
        for (b, &v) in self.cues.iter_mut().zip(r.cues) {
            b.append_value(v);
        }
        self.valence.append_value(r.mood[0]);
        self.arousal.append_value(r.mood[1]);
        self.mood_label.append_value(r.mood_label);
        for (b, g) in self.mood_lists.iter_mut().zip([Group::Moods, Group::Styles, Group::Themes]) {
            for (name, _) in mood::ranked(r.mood, g).into_iter().filter(|(_, x)| *x >= LIST_THRESHOLD).take(3) {
                b.values().append_value(name);
            }
            b.append(true);
        }
        self.mood_vector.values().append_slice(r.mood);
        self.mood_vector.append(true);
        self.path_bytes.append_option(r.path_bytes);
        self.faces.append_option(r.faces.map(|f| f.len() as u16));
        let mix = r.faces.and_then(faces::mix);
        self.face_expression.append_option(mix.as_ref().map(faces::top_expression));
        if let Some(m) = &mix {
            self.face_mix.values().append_slice(m);
        }
        self.face_mix.append(mix.is_some());
        self.face_area.append_option(r.faces.map(|f| faces::area_share(f, r.width, r.height)));
        if self.table.row_added() { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.table.take_pending() {
            return Ok(());
        }
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
        cols.extend(self.cues.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.valence.finish()));
        cols.push(Arc::new(self.arousal.finish()));
        cols.push(Arc::new(self.mood_label.finish()));
        cols.extend(self.mood_lists.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.mood_vector.finish()));
        cols.push(Arc::new(self.path_bytes.finish()));
        cols.push(Arc::new(self.faces.finish()));
        cols.push(Arc::new(self.face_expression.finish()));
        cols.push(Arc::new(self.face_mix.finish()));
        cols.push(Arc::new(self.face_area.finish()));
        self.table.write(cols)
    }

    /// Flushes, closes and moves the file into place; returns its row count.
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.table.finish()
    }
}
