//! A finished run, read back: what the stages after a run (album, playlist
//! files, coverage, the HTML report) take from its output folder. They read
//! the tables, never the pipeline's memory, so each also works on a run
//! made earlier, by another process or on another machine.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type, UInt32Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::catalog::{self, Catalog, CatalogOptions};
use crate::engine::mood::{MoodVector, NUM_DIMS};
use crate::error::{Error, Result};
use crate::run::output::AlbumTrack;
use crate::run::output::{ERRORS_FILE, IMAGES_FILE, MANIFEST_FILE, RECOMMENDATIONS_FILE};

/// One analysed image.
#[derive(Clone, Debug)]
pub struct Image {
    pub id: String,
    pub path: String,
    pub width: u32,
    pub height: u32,
    /// (label, probability), most probable first.
    pub top: Vec<(String, f32)>,
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub warmth: f32,
    pub colourfulness: f32,
    /// (#rrggbb, share).
    pub palette: Vec<(String, f32)>,
    pub mood: MoodVector,
    pub mood_label: String,
    pub mood_labels: Vec<String>,
    pub styles: Vec<String>,
    pub themes: Vec<String>,
}

/// One playlist pick.
#[derive(Clone, Debug, Default)]
pub struct Pick {
    pub image_id: String,
    pub rank: u16,
    pub track_id: String,
    pub title: String,
    pub artist: String,
    pub score: f32,
    pub explanation: String,
}

/// One row of the errors table.
#[derive(Clone, Debug, Default)]
pub struct ErrorRow {
    pub image_id: Option<String>,
    pub path: String,
    pub stage: String,
    pub severity: String,
    pub reason: String,
}

/// Reads `album.parquet`.
pub fn read_album(path: &Path) -> Result<Vec<AlbumTrack>> {
    let mut out = Vec::new();
    for b in batches(path)? {
        let [tracks, titles, artists, why] =
            ["track_id", "title", "artist", "explanation"].map(|n| strings(path, &b, n));
        let (tracks, titles, artists, why) = (tracks?, titles?, artists?, why?);
        let position = column(path, &b, "position")?.as_primitive::<UInt16Type>().values().to_vec();
        let photos = string_lists(path, &b, "photos")?;
        let score = floats(path, &b, "score")?;
        let target = floats(path, &b, "target_arousal")?;
        let nullable = |name| -> Result<Vec<Option<f32>>> {
            let c = column(path, &b, name)?.as_primitive_opt::<Float32Type>();
            let c = c.ok_or_else(|| Error::input(path, format!("`{name}` is not float32")))?;
            Ok((0..c.len()).map(|i| (!c.is_null(i)).then(|| c.value(i))).collect())
        };
        let (arousal, tempo) = (nullable("arousal")?, nullable("tempo")?);
        for i in 0..b.num_rows() {
            out.push(AlbumTrack {
                position: position[i],
                track_id: tracks[i].clone(),
                title: titles[i].clone(),
                artist: artists[i].clone(),
                photos: photos[i].clone(),
                score: score[i],
                arousal: arousal[i],
                tempo: tempo[i],
                target_arousal: target[i],
                explanation: why[i].clone(),
            });
        }
    }
    Ok(out)
}

/// A finished run's tables and manifest.
pub struct FinishedRun {
    pub dir: PathBuf,
    pub manifest: serde_json::Value,
    pub images: Vec<Image>,
    /// Picks in file order: by image, then rank.
    pub picks: Vec<Pick>,
    pub errors: Vec<ErrorRow>,
}

impl FinishedRun {
    /// Reads the run in `dir`; a folder without a manifest is not a
    /// finished run, and says so.
    pub fn read(dir: &Path) -> Result<FinishedRun> {
        let manifest = read_manifest(dir)?;
        let images = read_images(&dir.join(IMAGES_FILE))?;
        let picks = match dir.join(RECOMMENDATIONS_FILE) {
            p if p.exists() => read_picks(&p)?,
            _ => Vec::new(),
        };
        let errors = match dir.join(ERRORS_FILE) {
            p if p.exists() => read_errors(&p)?,
            _ => Vec::new(),
        };
        Ok(FinishedRun { dir: dir.to_path_buf(), manifest, images, picks, errors })
    }

    /// Each image's picks in rank order, by image id.
    pub fn playlists(&self) -> HashMap<&str, Vec<&Pick>> {
        let mut out: HashMap<&str, Vec<&Pick>> = HashMap::new();
        for p in &self.picks {
            out.entry(p.image_id.as_str()).or_default().push(p);
        }
        for v in out.values_mut() {
            v.sort_by_key(|p| p.rank);
        }
        out
    }
}

/// The catalog a manifest names: the index it was read from, else its path.
fn catalog_named(manifest: &serde_json::Value) -> Option<PathBuf> {
    let c = &manifest["recommend"]["catalog"];
    c["index"].as_str().or_else(|| c["path"].as_str()).map(PathBuf::from)
}

/// The catalog the finished run in `dir` matched against, from its
/// manifest alone (`None` for a run without one, like `analyze`'s).
pub fn catalog_of(dir: &Path) -> Result<Option<PathBuf>> {
    Ok(catalog_named(&read_manifest(dir)?))
}

/// The catalog a finished run used, loaded: the one `given`, else the one
/// its manifest names; `None` when there is neither.
pub fn load_catalog(dir: &Path, given: Option<&Path>) -> Result<Option<Catalog>> {
    let Some(path) = given.map(Path::to_path_buf).or_else(|| catalog_of(dir).ok().flatten()) else {
        return Ok(None);
    };
    catalog::load(&CatalogOptions::new(&path)).map(Some)
}

/// The manifest of the finished run in `dir`; a folder without one is not
/// a finished run, and the error says so.
pub(crate) fn read_manifest(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join(MANIFEST_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::input(&path, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::input(
            dir,
            "no manifest.json: not a finished pixtape run (a sharded run's tables are in its shard folders)",
        )),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// A table's record batches; errors name the file.
pub(crate) fn batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| Error::input(path, e.to_string()))?;
    reader.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| Error::input(path, e.to_string()))
}

/// Streams the named columns of a table, a batch at a time.
pub fn for_each_batch(path: &Path, columns: &[&str], mut f: impl FnMut(&RecordBatch) -> Result<()>) -> Result<()> {
    use parquet::arrow::ProjectionMask;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::input(path, e.to_string()))?;
    let schema = builder.parquet_schema();
    let mut roots = Vec::with_capacity(columns.len());
    for name in columns {
        let i = schema
            .root_schema()
            .get_fields()
            .iter()
            .position(|f| f.name() == *name)
            .ok_or_else(|| Error::input(path, format!("no column `{name}`")))?;
        roots.push(i);
    }
    // The projection keeps the file's order; callers index in `columns` order.
    if roots.windows(2).any(|w| w[0] > w[1]) {
        return Err(Error::input(path, "columns must be asked for in the file's order"));
    }
    let mask = ProjectionMask::roots(schema, roots);
    let reader = builder.with_projection(mask).build().map_err(|e| Error::input(path, e.to_string()))?;
    for batch in reader {
        f(&batch.map_err(|e| Error::input(path, e.to_string()))?)?;
    }
    Ok(())
}

/// A column of a batch, or an error naming the file and the column.
pub(crate) fn column<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array> {
    b.column_by_name(name).map(|c| c.as_ref()).ok_or_else(|| Error::input(path, format!("no column `{name}`")))
}

/// A text column (nulls as ""); any other type is an error naming it.
pub(crate) fn strings(path: &Path, b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    let c = column(path, b, name)?;
    let c = c.as_string_opt::<i32>().ok_or_else(|| Error::input(path, format!("`{name}` is not text")))?;
    Ok((0..c.len()).map(|i| if c.is_null(i) { String::new() } else { c.value(i).to_string() }).collect())
}

/// A float32 column; any other type is an error naming it.
pub(crate) fn floats(path: &Path, b: &RecordBatch, name: &str) -> Result<Vec<f32>> {
    let c = column(path, b, name)?;
    let c =
        c.as_primitive_opt::<Float32Type>().ok_or_else(|| Error::input(path, format!("`{name}` is not float32")))?;
    Ok(c.values().to_vec())
}

fn string_lists(path: &Path, b: &RecordBatch, name: &str) -> Result<Vec<Vec<String>>> {
    let l = column(path, b, name)?.as_list::<i32>();
    Ok((0..l.len())
        .map(|i| {
            let v = l.value(i);
            let s = v.as_string::<i32>();
            (0..s.len()).map(|j| s.value(j).to_string()).collect()
        })
        .collect())
}

fn float_lists(path: &Path, b: &RecordBatch, name: &str) -> Result<Vec<Vec<f32>>> {
    let l = column(path, b, name)?.as_list::<i32>();
    Ok((0..l.len()).map(|i| l.value(i).as_primitive::<Float32Type>().values().to_vec()).collect())
}

fn read_images(path: &Path) -> Result<Vec<Image>> {
    let mut out = Vec::new();
    for b in batches(path)? {
        let ids = strings(path, &b, "image_id")?;
        let paths = strings(path, &b, "path")?;
        let width = column(path, &b, "width")?.as_primitive::<UInt32Type>().values().to_vec();
        let height = column(path, &b, "height")?.as_primitive::<UInt32Type>().values().to_vec();
        let labels = string_lists(path, &b, "top5_labels")?;
        let probs = float_lists(path, &b, "top5_probs")?;
        let [bright, contrast, sat, warmth, colourful] =
            ["brightness", "contrast", "saturation", "warmth", "colourfulness"].map(|n| floats(path, &b, n));
        let (bright, contrast, sat, warmth, colourful) = (bright?, contrast?, sat?, warmth?, colourful?);
        let moods = float_lists(path, &b, "mood_vector")?;
        let mood_label = strings(path, &b, "mood_label")?;
        let mood_labels = string_lists(path, &b, "mood_labels")?;
        let styles = string_lists(path, &b, "styles")?;
        let themes = string_lists(path, &b, "themes")?;
        let palette = column(path, &b, "palette")?.as_list::<i32>();
        for i in 0..b.num_rows() {
            let mut mood = [0.0f32; NUM_DIMS];
            if moods[i].len() != NUM_DIMS {
                return Err(Error::input(
                    path,
                    format!("image {:?}: mood_vector has {} values", ids[i], moods[i].len()),
                ));
            }
            mood.copy_from_slice(&moods[i]);
            let p = palette.value(i);
            let p = p.as_struct();
            let colors = p.column(0).as_string::<i32>();
            let shares = p.column(1).as_primitive::<Float32Type>();
            out.push(Image {
                id: ids[i].clone(),
                path: paths[i].clone(),
                width: width[i],
                height: height[i],
                top: labels[i].iter().cloned().zip(probs[i].iter().copied()).collect(),
                brightness: bright[i],
                contrast: contrast[i],
                saturation: sat[i],
                warmth: warmth[i],
                colourfulness: colourful[i],
                palette: (0..colors.len()).map(|j| (colors.value(j).to_string(), shares.value(j))).collect(),
                mood,
                mood_label: mood_label[i].clone(),
                mood_labels: mood_labels[i].clone(),
                styles: styles[i].clone(),
                themes: themes[i].clone(),
            });
        }
    }
    Ok(out)
}

fn read_picks(path: &Path) -> Result<Vec<Pick>> {
    let mut out = Vec::new();
    for b in batches(path)? {
        let [ids, tracks, titles, artists, why] =
            ["image_id", "track_id", "title", "artist", "explanation"].map(|n| strings(path, &b, n));
        let (ids, tracks, titles, artists, why) = (ids?, tracks?, titles?, artists?, why?);
        let rank = column(path, &b, "rank")?.as_primitive::<UInt16Type>().values().to_vec();
        let score = floats(path, &b, "score")?;
        for i in 0..b.num_rows() {
            out.push(Pick {
                image_id: ids[i].clone(),
                rank: rank[i],
                track_id: tracks[i].clone(),
                title: titles[i].clone(),
                artist: artists[i].clone(),
                score: score[i],
                explanation: why[i].clone(),
            });
        }
    }
    Ok(out)
}

fn read_errors(path: &Path) -> Result<Vec<ErrorRow>> {
    let mut out = Vec::new();
    for b in batches(path)? {
        let ids = column(path, &b, "image_id")?.as_string::<i32>();
        let [paths, stage, severity, reason] = ["path", "stage", "severity", "reason"].map(|n| strings(path, &b, n));
        let (paths, stage, severity, reason) = (paths?, stage?, severity?, reason?);
        for i in 0..b.num_rows() {
            out.push(ErrorRow {
                image_id: (!ids.is_null(i)).then(|| ids.value(i).to_string()),
                path: paths[i].clone(),
                stage: stage[i].clone(),
                severity: severity[i].clone(),
                reason: reason[i].clone(),
            });
        }
    }
    Ok(out)
}
