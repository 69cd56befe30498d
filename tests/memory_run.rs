//! A run kept in memory (`run::memory`, what the Python module calls) holds
//! exactly the rows a run writes to its files: the same columns, values and
//! order, for `analyze` and `recommend`, with failures in its errors table.

mod common;

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_select::concat::concat_batches;
use common::read_parquet;
use pixtape::catalog::{self, CatalogOptions};
use pixtape::engine::backend::Backend;
use pixtape::engine::mood::MoodMode;
use pixtape::recommend::Recommender;
use pixtape::recommend::playlist::PlaylistSettings;
use pixtape::run::ingest::ImageSource;
use pixtape::run::memory::{Inputs, run_in_memory};
use pixtape::run::{self, AnalyzeSettings, Silent};

fn one(batches: &[RecordBatch], like: &RecordBatch) -> RecordBatch {
    concat_batches(&like.schema(), batches).unwrap()
}

fn same(file: &Path, memory: &[RecordBatch]) {
    let want = read_parquet(file);
    let got = one(memory, &want);
    assert_eq!(got.num_rows(), want.num_rows(), "{}", file.display());
    assert_eq!(got.schema().fields(), want.schema().fields(), "{}", file.display());
    for (i, f) in want.schema().fields().iter().enumerate() {
        assert_eq!(got.column(i).as_ref(), want.column(i).as_ref(), "{}: column {}", file.display(), f.name());
    }
}

#[test]
fn in_memory_tables_equal_the_files() {
    let photos = common::photos_dir();
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/catalog/demo_catalog.csv");
    let cat = catalog::load(&CatalogOptions::new(&demo)).unwrap();
    let rec = Recommender::new(&backend, &cat, MoodMode::Match, PlaylistSettings::default()).unwrap();
    let settings =
        AnalyzeSettings { decode_threads: 2, ..AnalyzeSettings::new(photos.clone(), dir.path().to_path_buf()) };
    run::run(&settings, &model, Some(&rec), &Silent).unwrap();
    let mem = run_in_memory(&settings, Inputs::Path(photos), &model, Some(&rec), &Silent).unwrap();
    assert_eq!(mem.inputs, 10);
    same(&dir.path().join("images.parquet"), &mem.images);
    same(&dir.path().join("recommendations.parquet"), &mem.recommendations);
    same(&dir.path().join("faces.parquet"), &mem.faces);
    same(&dir.path().join("errors.parquet"), &mem.errors);
    assert!(mem.features.is_empty());
}

#[test]
fn a_list_keeps_its_order_and_ids_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.jpg");
    std::fs::write(&bad, b"\xff\xd8\xff not really a jpeg").unwrap();
    let photos = common::photos_dir();
    let list = vec![
        ImageSource { id: "second".into(), path: photos.join("cat.jpg") },
        ImageSource { id: "broken".into(), path: bad },
        ImageSource { id: "first".into(), path: photos.join("coffee.jpg") },
    ];
    let backend = Backend::cpu();
    let settings = AnalyzeSettings { faces: None, ..AnalyzeSettings::new(photos, dir.path().join("unused")) };
    let mem = run_in_memory(&settings, Inputs::List(list), &backend.model(None).unwrap(), None, &Silent).unwrap();
    let images = one(&mem.images, &mem.images[0]);
    let ids = common::strings(&images, "image_id");
    assert_eq!(ids, [Some("second".to_string()), Some("first".to_string())]);
    let errors = one(&mem.errors, &mem.errors[0]);
    assert_eq!(common::strings(&errors, "image_id"), [Some("broken".to_string())]);
    assert!(mem.faces.is_empty() && mem.recommendations.is_empty());
    assert!(!dir.path().join("unused").exists(), "an in-memory run writes nothing");
}
