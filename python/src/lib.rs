//! `pixtape._native`: the engine for Python. Each object opens its model
//! (and, for a recommender, its catalog and matcher) once and reuses them
//! for every call; a call runs the library's own in-memory run
//! (`pixtape::run::memory`), the stages, order and table writers of
//! `pixtape analyze`, with the GIL released, and hands the tables to
//! pyarrow through the Arrow C data interface (`arrow-pyarrow`), without a
//! copy or a file in between. The friendly signatures, docstrings and the
//! Ray and Spark adapters are in the Python package (`python/pixtape/`).

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use arrow_array::RecordBatch;
use arrow_pyarrow::{IntoPyArrow, Table};
use arrow_schema::SchemaRef;
use pixtape::catalog::{self, Catalog, CatalogOptions};
use pixtape::engine::backend::{Backend, DeviceChoice, Model};
use pixtape::engine::model::precision::Precision;
use pixtape::engine::mood::{MoodMode, Weights};
use pixtape::recommend::Recommender as Rec;
use pixtape::recommend::playlist::PlaylistSettings;
use pixtape::recommend::profile::Profile;
use pixtape::run::AnalyzeSettings;
use pixtape::run::Silent;
use pixtape::run::ingest::ImageSource;
use pixtape::run::memory::{Inputs, MemoryRun, run_in_memory};
use pixtape::run::output::{errors_schema, faces_schema, features_schema, images_schema, recommendations_schema};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

// The command's allocator, for the same reason (src/main.rs): Rust's
// allocations in this module go through it; Python's own do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The library's errors become Python exceptions with its message: bad
/// arguments and inputs `ValueError`, the rest `RuntimeError`.
fn py_err(e: pixtape::Error) -> PyErr {
    match e {
        pixtape::Error::Config(_) | pixtape::Error::Input { .. } => PyValueError::new_err(e.to_string()),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// One backend per device choice for the whole process: a GPU context is
/// costly to open and safe to share, and models borrow it for as long as
/// they live, so it is kept until the process ends.
fn backend(device: &str, precision: &str) -> PyResult<&'static Backend> {
    type Open = Vec<((DeviceChoice, Precision), &'static Backend)>;
    static OPEN: OnceLock<Mutex<Open>> = OnceLock::new();
    let choice = DeviceChoice::parse(device)
        .ok_or_else(|| PyValueError::new_err(format!("device must be auto, gpu or cpu, not {device:?}")))?;
    let precision = match precision {
        "auto" => Precision::auto(),
        p => Precision::parse(p).ok_or_else(|| {
            PyValueError::new_err(format!("precision must be auto, f32, int8, bf16 or f16, not {precision:?}"))
        })?,
    };
    let key = (choice, precision);
    let mut open = OPEN.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, b)) = open.iter().find(|(k, _)| *k == key) {
        return Ok(b);
    }
    let b = Backend::open(choice).map_err(py_err)?.with_precision(precision);
    let b: &'static Backend = Box::leak(Box::new(b));
    open.push((key, b));
    Ok(b)
}

/// The model and the run settings an object keeps.
struct Engine {
    backend: &'static Backend,
    model: Model<'static>,
    profile: Option<Profile>,
    settings: AnalyzeSettings,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    fn open(
        (device, precision): (&str, &str),
        batch_size: Option<usize>,
        threads: Option<usize>,
        profile: Option<PathBuf>,
        faces: bool,
        (face_threshold, face_gate): (f32, f32),
        features: bool,
    ) -> PyResult<Engine> {
        if !(face_threshold > 0.0 && face_threshold < 1.0) {
            return Err(PyValueError::new_err(format!("face_threshold must be within (0, 1), not {face_threshold}")));
        }
        if !(0.0..=1.0).contains(&face_gate) {
            return Err(PyValueError::new_err(format!("face_gate must be within [0, 1], not {face_gate}")));
        }
        let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
        // The CPU engine's pool: the first object's thread count holds for
        // the process, as rayon's global pool is built once.
        let _ = rayon_pool(threads);
        let backend = backend(device, precision)?;
        let (model, profile) = match &profile {
            None => (backend.model(batch_size).map_err(py_err)?, None),
            Some(p) => {
                let (profile, _) = Profile::load(p).map_err(py_err)?;
                (backend.model_with(batch_size, profile.head.clone()).map_err(py_err)?, Some(profile))
            }
        };
        let mut settings = AnalyzeSettings::new(PathBuf::new(), PathBuf::new());
        settings.decode_threads = threads;
        settings.faces = faces.then_some(face_threshold);
        settings.face_gate = face_gate;
        settings.features = features;
        Ok(Engine { backend, model, profile, settings })
    }

    /// Runs over `inputs` with the GIL released.
    fn run(&self, py: Python<'_>, inputs: Inputs, rec: Option<&Rec<'_>>) -> PyResult<MemoryRun> {
        py.detach(|| run_in_memory(&self.settings, inputs, &self.model, rec, &Silent)).map_err(py_err)
    }
}

fn rayon_pool(threads: usize) -> bool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().is_ok()
}

/// A folder, manifest or image path, or a list of (id, path) pairs.
fn inputs(obj: &Bound<'_, PyAny>) -> PyResult<Inputs> {
    if let Ok(path) = obj.extract::<PathBuf>() {
        return Ok(Inputs::Path(path));
    }
    let pairs: Vec<(String, PathBuf)> = obj.extract().map_err(|_| {
        PyValueError::new_err("images: a folder, manifest or image path, or a list of (id, path) pairs")
    })?;
    Ok(Inputs::List(pairs.into_iter().map(|(id, path)| ImageSource { id, path }).collect()))
}

/// `batches` as one pyarrow.Table of `schema`.
fn table(py: Python<'_>, batches: Vec<RecordBatch>, schema: SchemaRef) -> PyResult<Py<PyAny>> {
    let t = Table::try_new(batches, schema).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(t.into_pyarrow(py)?.unbind())
}

/// A run's tables as a dict of pyarrow tables; `faces`, `features` and
/// `recommendations` only when the run makes them.
fn tables<'py>(py: Python<'py>, run: MemoryRun, engine: &Engine, recs: bool) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("images", table(py, run.images, images_schema())?)?;
    d.set_item("errors", table(py, run.errors, errors_schema())?)?;
    if engine.settings.faces.is_some() {
        d.set_item("faces", table(py, run.faces, faces_schema())?)?;
    }
    if engine.settings.features {
        d.set_item("features", table(py, run.features, features_schema())?)?;
    }
    if recs {
        d.set_item("recommendations", table(py, run.recommendations, recommendations_schema())?)?;
    }
    Ok(d)
}

/// Analyses pictures: the model opened once, reused by every call.
#[pyclass(frozen, module = "pixtape._native")]
struct Analyzer {
    engine: Engine,
}

#[pymethods]
impl Analyzer {
    #[new]
    #[pyo3(signature = (*, device="auto", precision="auto", batch_size=None, threads=None, profile=None, faces=true, face_threshold=0.6, face_gate=0.02, features=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        device: &str,
        precision: &str,
        batch_size: Option<usize>,
        threads: Option<usize>,
        profile: Option<PathBuf>,
        faces: bool,
        face_threshold: f32,
        face_gate: f32,
        features: bool,
    ) -> PyResult<Analyzer> {
        let face = (face_threshold, face_gate);
        let engine = Engine::open((device, precision), batch_size, threads, profile, faces, face, features)?;
        Ok(Analyzer { engine })
    }

    /// {"images", "errors", "faces"?, "features"?} for `images`.
    fn run<'py>(&self, py: Python<'py>, images: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let run = self.engine.run(py, inputs(images)?, None)?;
        tables(py, run, &self.engine, false)
    }

    /// Where the model runs, in words.
    #[getter]
    fn device(&self) -> String {
        self.engine.backend.report().notice.clone()
    }
}

self_cell::self_cell!(
    /// A catalog and the recommender over it, which borrows it.
    struct Matched {
        owner: Catalog,
        #[covariant]
        dependent: Rec,
    }
);

/// Recommends tracks of one catalog for pictures.
#[pyclass(frozen, module = "pixtape._native")]
struct Recommender {
    engine: Engine,
    matched: Matched,
}

#[pymethods]
impl Recommender {
    #[new]
    #[pyo3(signature = (catalog, *, columns=None, va_range=None, top_k=20, per_artist=2, mood="match", weights=None, mmr_lambda=0.7, device="auto", precision="auto", batch_size=None, threads=None, profile=None, faces=true, face_threshold=0.6, face_gate=0.02))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        catalog: PathBuf,
        columns: Option<Vec<(String, Vec<String>)>>,
        va_range: Option<&str>,
        top_k: usize,
        per_artist: usize,
        mood: &str,
        weights: Option<[f32; 4]>,
        mmr_lambda: f32,
        device: &str,
        precision: &str,
        batch_size: Option<usize>,
        threads: Option<usize>,
        profile: Option<PathBuf>,
        faces: bool,
        face_threshold: f32,
        face_gate: f32,
    ) -> PyResult<Recommender> {
        let face = (face_threshold, face_gate);
        let engine = Engine::open((device, precision), batch_size, threads, profile, faces, face, false)?;
        let mut options = CatalogOptions::new(catalog);
        for (role, cols) in columns.unwrap_or_default() {
            let r = catalog::columns::Role::parse(&role)
                .ok_or_else(|| PyValueError::new_err(format!("unknown role {role:?}")))?;
            options.overrides.push((r, cols));
        }
        if let Some(v) = va_range {
            options.va_range =
                Some(catalog::features::VaRange::parse(v).ok_or_else(|| {
                    PyValueError::new_err(format!("va_range: unit, signed, 1-9, 0-100 or z, not {v:?}"))
                })?);
        }
        match (weights, &engine.profile) {
            (Some([affect, moods, styles, themes]), _) => options.weights = Weights { affect, moods, styles, themes },
            (None, Some(p)) => options.weights = p.weights.unwrap_or_default(),
            (None, None) => {}
        }
        let mode = match mood {
            "match" => MoodMode::Match,
            "uplift" => MoodMode::Uplift,
            "calm" => MoodMode::Calm,
            m => return Err(PyValueError::new_err(format!("mood must be match, uplift or calm, not {m:?}"))),
        };
        if !(0.0..=1.0).contains(&mmr_lambda) {
            return Err(PyValueError::new_err("mmr_lambda must be within 0..1"));
        }
        let playlist =
            PlaylistSettings { length: top_k, per_artist, relevance: mmr_lambda, ..PlaylistSettings::default() };
        let cat = catalog::load(&options).map_err(py_err)?;
        let backend = engine.backend;
        let profile = engine.profile.clone();
        let matched = Matched::try_new(cat, |c| {
            let r = Rec::new(backend, c, mode, playlist)?;
            Ok::<_, pixtape::Error>(match &profile {
                Some(p) => r.with_profile(p),
                None => r,
            })
        })
        .map_err(py_err)?;
        Ok(Recommender { engine, matched })
    }

    /// {"images", "errors", "recommendations", "faces"?} for `images`.
    fn run<'py>(&self, py: Python<'py>, images: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let run = self.engine.run(py, inputs(images)?, Some(self.matched.borrow_dependent()))?;
        tables(py, run, &self.engine, true)
    }

    /// Tracks in the catalog.
    #[getter]
    fn tracks(&self) -> usize {
        self.matched.borrow_owner().len()
    }

    #[getter]
    fn device(&self) -> String {
        self.engine.backend.report().notice.clone()
    }
}

/// Empty tables with the schema of each table a run makes, by name.
#[pyfunction]
fn schemas(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let all = [
        ("images", images_schema()),
        ("errors", errors_schema()),
        ("faces", faces_schema()),
        ("features", features_schema()),
        ("recommendations", recommendations_schema()),
    ];
    for (name, schema) in all {
        d.set_item(name, table(py, Vec::new(), schema)?)?;
    }
    Ok(d)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(schemas, m)?)?;
    m.add_class::<Analyzer>()?;
    m.add_class::<Recommender>()?;
    Ok(())
}
