//! What learning reads of a finished run: each image's colour, mood and
//! model features (`images.parquet`, `features.parquet`), the picks it made
//! (`recommendations.parquet`) and how it was set up (`manifest.json`).
//! Nothing is recomputed: a run with `--features` holds all of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::Array;
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type};

use crate::after::finished::{batches, column, floats, read_manifest, strings};
use crate::engine::colour::ColourFeatures;
use crate::engine::cues::{CUE_NAMES, CUES};
use crate::engine::faces::FACE_INPUTS;
use crate::engine::model::FEATURE_DIM;
use crate::engine::mood::{MoodVector, NUM_DIMS, Weights};
use crate::error::{Error, Result};
use crate::run::output::{FEATURES_FILE, IMAGES_FILE, RECOMMENDATIONS_FILE};

/// One analysed image of a run.
#[derive(Clone, Debug)]
pub struct RunImage {
    pub id: String,
    pub colour: ColourFeatures,
    /// The intensity cues the head read.
    pub cues: [f32; CUES],
    /// The face inputs the head read (`faces::head_inputs`): zeros for a
    /// run without faces, as for a picture without any.
    pub faces: [f32; FACE_INPUTS],
    /// Its mood as the run reported it (after the run's head).
    pub mood: MoodVector,
    /// Pooled features (`FEATURE_DIM`).
    pub features: Vec<f32>,
    pub semantic: MoodVector,
    /// Its mood before the learned head.
    pub prior: MoodVector,
}

/// A finished run, as learning sees it.
pub struct Run {
    pub dir: PathBuf,
    pub images: Vec<RunImage>,
    index: HashMap<String, usize>,
    /// The run's picks per image id, in rank order (empty for `analyze`).
    pub picks: HashMap<String, Vec<String>>,
    /// The catalog the run matched against, if it recommended.
    pub catalog_path: Option<PathBuf>,
    pub catalog_sha256: Option<String>,
    /// The similarity weights it used.
    pub weights: Option<Weights>,
}

impl Run {
    /// Reads the run in `dir`. Fails with what to do when the run is
    /// incomplete or was made without `--features`.
    pub fn read(dir: &Path) -> Result<Run> {
        let manifest = read_manifest(dir)?;
        let features_path = dir.join(FEATURES_FILE);
        if !features_path.exists() {
            return Err(Error::input(
                dir,
                "the run has no features.parquet: learning needs a run made with the `features` setting",
            ));
        }
        let mut images = read_images(&dir.join(IMAGES_FILE))?;
        let index: HashMap<String, usize> = images.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
        read_features(&features_path, &index, &mut images)?;
        if let Some(m) = images.iter().find(|m| m.features.is_empty()) {
            return Err(Error::input(&features_path, format!("no features for image {:?}", m.id)));
        }
        let picks = match dir.join(RECOMMENDATIONS_FILE) {
            p if p.exists() => read_picks(&p)?,
            _ => HashMap::new(),
        };
        let rec = &manifest["recommend"];
        let catalog_path = rec["catalog"]["path"].as_str().map(PathBuf::from);
        let catalog_sha256 = rec["catalog"]["sha256"].as_str().map(str::to_string);
        let weights = rec["weights"].as_object().map(|w| {
            let g = |k: &str| w.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0) as f32;
            Weights { affect: g("affect"), moods: g("moods"), styles: g("styles"), themes: g("themes") }
        });
        Ok(Run { dir: dir.to_path_buf(), images, index, picks, catalog_path, catalog_sha256, weights })
    }

    /// The image of id `id`, if the run analysed it.
    pub fn image(&self, id: &str) -> Option<&RunImage> {
        self.index.get(id).map(|&i| &self.images[i])
    }

    /// Builds a run in memory (for tests and simulations).
    pub fn from_images(images: Vec<RunImage>) -> Run {
        let index = images.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
        Run {
            dir: PathBuf::new(),
            images,
            index,
            picks: HashMap::new(),
            catalog_path: None,
            catalog_sha256: None,
            weights: None,
        }
    }
}

fn vector(path: &Path, c: &dyn Array, r: usize, name: &str) -> Result<Vec<f32>> {
    let values = if let Some(l) = c.as_list_opt::<i32>() {
        l.value(r)
    } else if let Some(l) = c.as_fixed_size_list_opt() {
        l.value(r)
    } else {
        return Err(Error::input(path, format!("`{name}` is not a list")));
    };
    let v =
        values.as_primitive_opt::<Float32Type>().ok_or_else(|| Error::input(path, format!("`{name}` is not f32")))?;
    Ok(v.values().to_vec())
}

fn mood_vector(path: &Path, c: &dyn Array, r: usize, name: &str) -> Result<MoodVector> {
    vector(path, c, r, name)?
        .try_into()
        .map_err(|v: Vec<f32>| Error::input(path, format!("`{name}` has {} values, not {NUM_DIMS}", v.len())))
}

fn read_images(path: &Path) -> Result<Vec<RunImage>> {
    let mut out = Vec::new();
    for b in batches(path)? {
        let ids = strings(path, &b, "image_id")?;
        let [br, co, sa, wa, cf] =
            ["brightness", "contrast", "saturation", "warmth", "colourfulness"].map(|n| floats(path, &b, n));
        let (br, co, sa, wa, cf) = (br?, co?, sa?, wa?, cf?);
        let cues = CUE_NAMES
            .iter()
            .map(|n| {
                floats(path, &b, n).map_err(|_| {
                    Error::input(
                        path,
                        format!("no `{n}` column: the run was made before intensity cues; analyse again"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let moods = column(path, &b, "mood_vector")?;
        let faces = face_inputs(&b);
        for (r, id) in ids.into_iter().enumerate() {
            let colour = ColourFeatures {
                brightness: br[r],
                contrast: co[r],
                saturation: sa[r],
                warmth: wa[r],
                colourfulness: cf[r],
                ..ColourFeatures::default()
            };
            out.push(RunImage {
                id,
                colour,
                cues: std::array::from_fn(|k| cues[k][r]),
                faces: faces[r],
                mood: mood_vector(path, moods, r, "mood_vector")?,
                features: Vec::new(),
                semantic: [0.0; NUM_DIMS],
                prior: [0.0; NUM_DIMS],
            });
        }
    }
    Ok(out)
}

fn read_features(path: &Path, index: &HashMap<String, usize>, images: &mut [RunImage]) -> Result<()> {
    for b in batches(path)? {
        let ids = strings(path, &b, "image_id")?;
        let (f, s, p) = (column(path, &b, "features")?, column(path, &b, "semantic")?, column(path, &b, "prior")?);
        for (r, id) in ids.iter().enumerate() {
            let Some(&i) = index.get(id) else {
                return Err(Error::input(path, format!("image {id:?} is not in images.parquet")));
            };
            let features = vector(path, f, r, "features")?;
            if features.len() != FEATURE_DIM {
                return Err(Error::input(path, format!("`features` has {} values, not {FEATURE_DIM}", features.len())));
            }
            let m = &mut images[i];
            m.features = features;
            m.semantic = mood_vector(path, s, r, "semantic")?;
            m.prior = mood_vector(path, p, r, "prior")?;
        }
    }
    Ok(())
}

fn read_picks(path: &Path) -> Result<HashMap<String, Vec<String>>> {
    let mut picks: HashMap<String, Vec<String>> = HashMap::new();
    for b in batches(path)? {
        let (images, tracks) = (strings(path, &b, "image_id")?, strings(path, &b, "track_id")?);
        for (i, t) in images.into_iter().zip(tracks) {
            picks.entry(i).or_default().push(t);
        }
    }
    Ok(picks)
}

/// Each row's face inputs, from the `faces`, `face_mix` and `face_area`
/// columns (zeros where they are null or absent: a run without faces).
fn face_inputs(b: &RecordBatch) -> Vec<[f32; FACE_INPUTS]> {
    let mut out = vec![[0.0f32; FACE_INPUTS]; b.num_rows()];
    let counts = b.column_by_name("faces").and_then(|c| c.as_primitive_opt::<UInt16Type>().cloned());
    let mix = b.column_by_name("face_mix").and_then(|c| c.as_list_opt::<i32>().cloned());
    let area = b.column_by_name("face_area").and_then(|c| c.as_primitive_opt::<Float32Type>().cloned());
    for (r, x) in out.iter_mut().enumerate() {
        if let Some(m) = mix.as_ref().filter(|m| m.is_valid(r)) {
            let v = m.value(r);
            if let Some(v) = v.as_primitive_opt::<Float32Type>().filter(|v| v.len() == 7) {
                x[..7].copy_from_slice(v.values());
            }
        }
        if let Some(c) = counts.as_ref().filter(|c| c.is_valid(r)) {
            x[7] = (c.value(r) as f32).ln_1p();
        }
        if let Some(a) = area.as_ref().filter(|a| a.is_valid(r)) {
            x[8] = a.value(r);
        }
    }
    out
}
