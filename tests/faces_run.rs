//! Faces in a run's tables: `faces.parquet` has a row per face with its box
//! inside the image and seven probabilities, `images.parquet` counts them
//! and gives the mix, and `--faces off` writes neither.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type, UInt32Type};
use arrow_array::{Array, RecordBatch};
use common::{read_parquet, strings};
use pixtape::engine::backend::Backend;
use pixtape::engine::faces::{EXPRESSIONS, FaceEngine};
use pixtape::run::{self, AnalyzeSettings, Silent};

fn faces_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/faces")
}

fn analyze(out: &Path, faces: Option<f32>) -> run::RunSummary {
    analyze_on(&Backend::cpu(), out, faces)
}

fn analyze_on(backend: &Backend, out: &Path, faces: Option<f32>) -> run::RunSummary {
    let settings = AnalyzeSettings { decode_threads: 2, faces, ..AnalyzeSettings::new(faces_dir(), out.to_path_buf()) };
    run::analyze(&settings, &backend.model(Some(4)).unwrap(), &Silent).unwrap()
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

fn f32s(b: &RecordBatch, name: &str) -> Vec<f32> {
    b.column_by_name(name).unwrap().as_primitive::<Float32Type>().values().to_vec()
}

#[test]
fn faces_table_and_images_columns() {
    let dir = tempfile::tempdir().unwrap();
    let summary = analyze(dir.path(), Some(pixtape::engine::faces::DEFAULT_THRESHOLD));
    assert_eq!(summary.counts.images, 6);
    let images = read_parquet(&dir.path().join("images.parquet"));
    let faces = read_parquet(&dir.path().join("faces.parquet"));
    let ids: Vec<String> = strings(&images, "image_id").into_iter().flatten().collect();
    let counts = images.column_by_name("faces").unwrap().as_primitive::<UInt16Type>();
    assert_eq!(counts.null_count(), 0);
    let face_ids: Vec<String> = strings(&faces, "image_id").into_iter().flatten().collect();
    for (i, id) in ids.iter().enumerate() {
        let rows = face_ids.iter().filter(|f| *f == id).count();
        assert_eq!(rows, counts.value(i) as usize, "{id}: faces column and faces.parquet rows");
    }
    let count_of = |name: &str| counts.value(ids.iter().position(|i| i == name).unwrap()) as usize;
    assert_eq!(count_of("three_friends.jpg"), 3);
    assert_eq!(count_of("portrait.jpg"), 1);
    assert!(count_of("musicians.webp") >= 2, "group photo: {}", count_of("musicians.webp"));

    // Boxes lie inside their image, in its pixels.
    let widths = images.column_by_name("width").unwrap().as_primitive::<UInt32Type>();
    let heights = images.column_by_name("height").unwrap().as_primitive::<UInt32Type>();
    let (x, y, w, h) = (f32s(&faces, "x"), f32s(&faces, "y"), f32s(&faces, "width"), f32s(&faces, "height"));
    for (r, id) in face_ids.iter().enumerate() {
        let i = ids.iter().position(|x| x == id).unwrap();
        assert!(x[r] >= 0.0 && y[r] >= 0.0 && w[r] > 0.0 && h[r] > 0.0);
        assert!(x[r] + w[r] <= widths.value(i) as f32 + 1e-3 && y[r] + h[r] <= heights.value(i) as f32 + 1e-3);
    }
    assert!(f32s(&faces, "confidence").iter().all(|&c| c > 0.6 && c <= 1.0));
    let probs = faces.column_by_name("expression_probs").unwrap().as_list::<i32>();
    let names = strings(&faces, "expression");
    for r in 0..faces.num_rows() {
        let p = probs.value(r);
        let p = p.as_primitive::<Float32Type>().values();
        assert_eq!(p.len(), 7);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        let top = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(names[r].as_deref(), Some(EXPRESSIONS[top]));
    }
    // Laughing friends: the mix says so.
    let mix = strings(&images, "face_expression");
    assert_eq!(mix[ids.iter().position(|i| i == "three_friends.jpg").unwrap()].as_deref(), Some("happy"));
    let face_mix = images.column_by_name("face_mix").unwrap().as_list::<i32>();
    assert_eq!(face_mix.null_count(), ids.iter().enumerate().filter(|&(i, _)| counts.value(i) == 0).count());
}

#[test]
fn faces_off_writes_no_faces() {
    let dir = tempfile::tempdir().unwrap();
    analyze(dir.path(), None);
    assert!(!dir.path().join("faces.parquet").exists());
    let m = manifest(dir.path());
    assert!(m["parameters"]["face_threshold"].is_null() && m["outputs"]["faces"].is_null());
    assert!(m["model"]["faces_sha256"].is_null());
    let images = read_parquet(&dir.path().join("images.parquet"));
    for col in ["faces", "face_expression", "face_mix"] {
        assert_eq!(images.column_by_name(col).unwrap().null_count(), images.num_rows(), "{col}");
    }
    // Turning faces on in the same folder is another run, not a resume.
    analyze(dir.path(), Some(0.6));
    assert!(dir.path().join("faces.parquet").exists());
    let m = manifest(dir.path());
    assert_eq!(m["parameters"]["face_threshold"].as_f64().map(|t| (t * 1e6).round()), Some(0.6e6));
    assert_eq!(m["outputs"]["faces"], "faces.parquet");
    assert_eq!(m["model"]["faces_sha256"], pixtape::engine::faces::nets::WEIGHTS_SHA256);
}

/// A GPU run finds faces on the GPU (`Backend::faces`) and writes the faces
/// a CPU run writes: the same boxes within a hundredth of a pixel and
/// probabilities within 1e-4 (the engines differ in summation order only).
#[test]
fn gpu_run_finds_the_faces_of_a_cpu_run() {
    let Some(gpu) = common::gpu_backend() else { return };
    let (cpu_dir, gpu_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    analyze(cpu_dir.path(), Some(0.6));
    analyze_on(gpu, gpu_dir.path(), Some(0.6));
    let (a, b) =
        (read_parquet(&cpu_dir.path().join("faces.parquet")), read_parquet(&gpu_dir.path().join("faces.parquet")));
    assert!(a.num_rows() >= 5);
    assert_eq!(a.num_rows(), b.num_rows(), "faces found on the CPU and the GPU");
    assert_eq!(strings(&a, "image_id"), strings(&b, "image_id"));
    for col in ["x", "y", "width", "height"] {
        let diff = f32s(&a, col).iter().zip(f32s(&b, col)).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff < 0.01, "{col}: CPU and GPU boxes differ by {diff}");
    }
    let probs = |t: &RecordBatch| -> Vec<f32> {
        let l = t.column_by_name("expression_probs").unwrap().as_list::<i32>();
        l.values().as_primitive::<Float32Type>().values().to_vec()
    };
    let diff = probs(&a).iter().zip(probs(&b)).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(diff < 1e-4, "expression probabilities differ by {diff}");
}

/// Counts the pictures the detector of the engine it wraps reads.
struct Counting<'a> {
    inner: Box<dyn FaceEngine + 'a>,
    inputs: Arc<AtomicUsize>,
}

impl FaceEngine for Counting<'_> {
    fn detect(&self, inputs: &[u8], side: usize, n: usize) -> pixtape::Result<Vec<f32>> {
        self.inputs.fetch_add(n, Ordering::SeqCst);
        self.inner.detect(inputs, side, n)
    }
    fn express(&self, crops: &[u8], n: usize) -> pixtape::Result<Vec<[f32; 7]>> {
        self.inner.express(crops, n)
    }
}

#[test]
fn faces_are_searched_only_where_the_model_sees_people() {
    // The six photos of people and the bundled photos, mostly of none.
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for folder in [faces_dir(), Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/photos")] {
        for e in std::fs::read_dir(folder).unwrap().map(Result::unwrap) {
            std::fs::copy(e.path(), photos.join(e.file_name())).unwrap();
        }
    }
    let backend = Backend::cpu();
    let run_gated = |gate: f32, out: &str| {
        let mut model = backend.model(Some(4)).unwrap();
        let inputs = Arc::new(AtomicUsize::new(0));
        model.faces = Box::new(Counting { inner: backend.faces().unwrap(), inputs: inputs.clone() });
        let out = dir.path().join(out);
        let settings = AnalyzeSettings { decode_threads: 2, face_gate: gate, ..AnalyzeSettings::new(&photos, &out) };
        run::analyze(&settings, &model, &Silent).unwrap();
        (read_parquet(&out.join("faces.parquet")), inputs.load(Ordering::SeqCst))
    };
    let (every, every_inputs) = run_gated(0.0, "every");
    let (gated, gated_inputs) = run_gated(pixtape::engine::faces::DEFAULT_GATE, "gated");
    let (none, none_inputs) = run_gated(1.0, "none");
    assert!(gated_inputs < every_inputs, "the gate spares searches: {gated_inputs} against {every_inputs}");
    assert_eq!((none.num_rows(), none_inputs), (0, 0), "a gate no picture passes searches nothing");
    // The photos of people pass the gate and keep every face.
    let people: Vec<String> = std::fs::read_dir(faces_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "SOURCES.md")
        .collect();
    let kept = |b: &RecordBatch| {
        let ids = strings(b, "image_id").into_iter().flatten();
        ids.filter(|i| people.contains(i)).collect::<Vec<_>>()
    };
    assert_eq!(kept(&gated), kept(&every));
    assert!(kept(&gated).len() >= 7, "{:?}", kept(&gated));
}
