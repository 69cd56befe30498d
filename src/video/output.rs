//! Video output stage: a film's rows of `scenes.parquet`,
//! `soundtrack.parquet` and of the cue sheets an editor imports (`cues.csv`
//! for every film, and one CMX3600 EDL per film in `cues/`). The run writes
//! each film's into its parts as soon as the film is read, and joins them
//! at the end (`video::assemble`).
//!
//! The EDL is an event list of the film's own cuts: one event per scene,
//! reel `AX` (a source outside the project), video, a cut, with source and
//! record times equal, HH:MM:SS:FF non-drop-frame at the film's rate
//! rounded to whole frames. Each event names the clip (`* FROM CLIP NAME`)
//! and its music in comments (`* MUSIC:`, `* LOCATION:`), which Premiere,
//! Resolve and Avid keep as event notes.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder};
use arrow_array::{
    ArrayRef, Float32Array, Float64Array, RecordBatch, StringArray, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::run::output::write_batch;
use crate::video::read::Film;
use crate::video::scenes::{smpte, timecode};
use crate::video::soundtrack::Cue;

pub use crate::run::output::{SCENES_FILE, SOUNDTRACK_FILE};
pub const CUES_FILE: &str = "cues.csv";
pub const EDL_DIR: &str = "cues";

pub fn scenes_schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float64, false));
    Arc::new(Schema::new(vec![
        Field::new("video_id", DataType::Utf8, false),
        Field::new("scene", DataType::UInt32, false),
        Field::new("start_s", DataType::Float64, false),
        Field::new("end_s", DataType::Float64, false),
        Field::new("start_tc", DataType::Utf8, false),
        Field::new("end_tc", DataType::Utf8, false),
        Field::new("start_frame", DataType::UInt64, false),
        Field::new("end_frame", DataType::UInt64, false),
        Field::new("cut", DataType::Utf8, false),
        Field::new("image_id", DataType::Utf8, false),
        Field::new("valence", DataType::Float32, false),
        Field::new("arousal", DataType::Float32, false),
        Field::new("mood_label", DataType::Utf8, false),
        Field::new("sees", DataType::Utf8, false),
        Field::new("keyframe_times", DataType::List(item), false),
    ]))
}

/// Writes one film's rows of `scenes.parquet` (one per scene) to `dest`.
pub fn write_scenes(dest: &Path, film: &Film) -> Result<u64> {
    let rows = film.scenes.iter().map(|s| (film, s));
    let (mut ids, mut index, mut start, mut end, mut start_tc, mut end_tc) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut start_f, mut end_f, mut cut, mut image, mut valence, mut arousal, mut label, mut sees) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut times =
        ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new("item", DataType::Float64, false)));
    for (film, (scene, m)) in rows {
        ids.push(film.id.clone());
        index.push(scene.index as u32);
        start.push(scene.start_s);
        end.push(scene.end_s);
        start_tc.push(timecode(scene.start_s));
        end_tc.push(timecode(scene.end_s));
        start_f.push(scene.start_frame);
        end_f.push(scene.end_frame);
        cut.push(scene.cut.as_str());
        image.push(film.image_id(scene.index));
        valence.push(m.analysis.mood[0]);
        arousal.push(m.analysis.mood[1]);
        label.push(m.analysis.label);
        sees.push(m.analysis.scene());
        times.values().append_slice(&m.keyframe_times);
        times.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids)),
        Arc::new(UInt32Array::from(index)),
        Arc::new(Float64Array::from(start)),
        Arc::new(Float64Array::from(end)),
        Arc::new(StringArray::from(start_tc)),
        Arc::new(StringArray::from(end_tc)),
        Arc::new(UInt64Array::from(start_f)),
        Arc::new(UInt64Array::from(end_f)),
        Arc::new(StringArray::from(cut)),
        Arc::new(StringArray::from(image)),
        Arc::new(Float32Array::from(valence)),
        Arc::new(Float32Array::from(arousal)),
        Arc::new(StringArray::from(label)),
        Arc::new(StringArray::from(sees)),
        Arc::new(times.finish()),
    ];
    let batch = RecordBatch::try_new(scenes_schema(), columns).map_err(|e| Error::output(dest, e))?;
    write_batch(dest, &batch)
}

pub fn soundtrack_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("video_id", DataType::Utf8, false),
        Field::new("position", DataType::UInt16, false),
        Field::new("scene", DataType::UInt32, false),
        Field::new("start_s", DataType::Float64, false),
        Field::new("end_s", DataType::Float64, false),
        Field::new("track_id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("artist", DataType::Utf8, false),
        Field::new("score", DataType::Float32, false),
        Field::new("explanation", DataType::Utf8, false),
    ]))
}

/// Writes one film's rows of `soundtrack.parquet` (its cues, in order) to
/// `dest`.
pub fn write_soundtrack(dest: &Path, film: &Film, cues: &[Cue], catalog: &Catalog) -> Result<u64> {
    let rows = cues.iter().map(|c| (film, c));
    let (mut ids, mut pos, mut scene, mut start, mut end) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut track, mut title, mut artist, mut score, mut why) = (vec![], vec![], vec![], vec![], vec![]);
    for (film, cue) in rows {
        let s = &film.scenes[cue.scene].0;
        let t = catalog.track(cue.track as usize);
        ids.push(film.id.as_str());
        pos.push(cue.position);
        scene.push(cue.scene as u32);
        start.push(s.start_s);
        end.push(s.end_s);
        track.push(t.id);
        title.push(t.title);
        artist.push(t.artist);
        score.push(cue.score);
        why.push(cue.explanation.as_str());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids)),
        Arc::new(UInt16Array::from(pos)),
        Arc::new(UInt32Array::from(scene)),
        Arc::new(Float64Array::from(start)),
        Arc::new(Float64Array::from(end)),
        Arc::new(StringArray::from(track)),
        Arc::new(StringArray::from(title)),
        Arc::new(StringArray::from(artist)),
        Arc::new(Float32Array::from(score)),
        Arc::new(StringArray::from(why)),
    ];
    let batch = RecordBatch::try_new(soundtrack_schema(), columns).map_err(|e| Error::output(dest, e))?;
    write_batch(dest, &batch)
}

/// The first line of `cues.csv`: video_id, scene, in, out, track_id,
/// title, artist, location (times as HH:MM:SS.mmm).
pub const CUES_HEADER: &str = "video_id,scene,in,out,track_id,title,artist,location\n";

/// One film's rows of `cues.csv`, without the header: CSV rows join by
/// plain concatenation, so the run writes each film's as it is read.
/// `dest` names the file they go to, in errors.
pub fn cue_rows(dest: &Path, film: &Film, cues: &[Cue], catalog: &Catalog) -> Result<Vec<u8>> {
    let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    let fail = |e: csv::Error| Error::output(dest, e);
    for cue in cues {
        let s = &film.scenes[cue.scene].0;
        let t = catalog.track(cue.track as usize);
        let scene = cue.scene.to_string();
        let (tc_in, tc_out) = (timecode(s.start_s), timecode(s.end_s));
        let row = [film.id.as_str(), &scene, &tc_in, &tc_out, t.id, t.title, t.artist, t.location];
        csv.write_record(row).map_err(fail)?;
    }
    csv.into_inner().map_err(|e| fail(e.into_error().into()))
}

/// The file name of a film's EDL under `cues/`: its id made file-safe, with
/// a number added when an earlier film of the run took the name.
pub fn edl_name(id: &str, taken: &[String]) -> String {
    let name = format!("{EDL_DIR}/{}.edl", file_safe(id));
    match taken.contains(&name) {
        true => format!("{EDL_DIR}/{}-{}.edl", file_safe(id), taken.len()),
        false => name,
    }
}

/// The film's CMX3600 EDL (see the module comment).
pub fn edl(film: &Film, cues: &[Cue], catalog: &Catalog) -> String {
    let fps = film.probe.fps;
    let clip = Path::new(&film.path).file_name().map_or(film.id.clone(), |n| n.to_string_lossy().into_owned());
    let mut s = String::new();
    let _ = writeln!(s, "TITLE: {}", one_line(&format!("{} soundtrack", film.id)));
    let _ = writeln!(s, "FCM: NON-DROP FRAME\n");
    for (i, (scene, _)) in film.scenes.iter().enumerate() {
        let (a, b) = (smpte(scene.start_s, fps), smpte(scene.end_s, fps));
        let _ = writeln!(s, "{:03}  {:<8} {:<5} {:<8} {a} {b} {a} {b}", i + 1, "AX", "V", "C");
        let _ = writeln!(s, "* FROM CLIP NAME: {}", one_line(&clip));
        if let Some(cue) = cues.iter().find(|c| c.scene == i) {
            let t = catalog.track(cue.track as usize);
            let _ = writeln!(s, "* MUSIC: {} - {} [{}]", one_line(t.title), one_line(t.artist), one_line(t.id));
            if !t.location.is_empty() {
                let _ = writeln!(s, "* LOCATION: {}", one_line(t.location));
            }
        }
        s.push('\n');
    }
    s
}

/// Text for one EDL line: no line breaks, printable ASCII kept as is.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A video id as a file name: path separators and odd characters as `_`.
fn file_safe(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}
