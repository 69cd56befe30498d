//! The run's files read back: every column of images.parquet, the errors
//! table, the manifest, and the guarantees about half-written output.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ListArray, StructArray};
use common::{photos_dir, read_parquet, strings};
use pixtape::engine::backend::Backend;
use pixtape::run::{self, AnalyzeSettings, Silent};

fn run(out: &std::path::Path) -> run::RunSummary {
    let settings = AnalyzeSettings { decode_threads: 2, ..AnalyzeSettings::new(photos_dir(), out.to_path_buf()) };
    let backend = Backend::cpu();
    run::analyze(&settings, &backend.model(Some(3)).unwrap(), &Silent).unwrap()
}

fn f32s(batch: &arrow_array::RecordBatch, name: &str) -> Vec<f32> {
    batch.column_by_name(name).unwrap().as_primitive::<Float32Type>().values().to_vec()
}

fn list_len(col: &ListArray, row: usize) -> usize {
    col.value(row).len()
}

#[test]
fn images_table_has_every_column_filled() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run(dir.path());
    let n = summary.counts.images as usize;
    assert_eq!(n, 10);
    let b = read_parquet(&dir.path().join("images.parquet"));
    assert_eq!(b.num_rows(), n);
    assert_eq!(b.schema(), pipeline_schema());
    for (field, col) in b.schema().fields().iter().zip(b.columns()) {
        // path_bytes is only filled for paths that are not UTF-8; the face
        // mix only for pictures with faces, which the bundled ones lack.
        let want = if ["path_bytes", "face_expression", "face_mix"].contains(&field.name().as_str()) { n } else { 0 };
        assert_eq!(col.null_count(), want, "{}", field.name());
    }

    let ids: Vec<String> = strings(&b, "image_id").into_iter().flatten().collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "rows come out in input (walk) order");
    let row = |id: &str| ids.iter().position(|x| x == id).unwrap();

    let paths = strings(&b, "path");
    assert!(paths.iter().zip(&ids).all(|(p, id)| p.as_deref().unwrap().ends_with(id.as_str())));
    let widths = b.column_by_name("width").unwrap().as_primitive::<UInt32Type>();
    let heights = b.column_by_name("height").unwrap().as_primitive::<UInt32Type>();
    assert_eq!((widths.value(row("cat.jpg")), heights.value(row("cat.jpg"))), (451, 300));
    assert!(strings(&b, "format").iter().all(|f| f.as_deref() == Some("jpeg")));
    let sizes = b.column_by_name("file_bytes").unwrap().as_primitive::<UInt64Type>();
    let on_disk = std::fs::metadata(photos_dir().join("coffee.jpg")).unwrap().len();
    assert_eq!(sizes.value(row("coffee.jpg")), on_disk);

    // Labels: recognisable photos get the right class.
    let top1 = strings(&b, "top1_label");
    let expect = [
        ("coffee.jpg", &["espresso", "cup"][..]),
        ("cat.jpg", &["Egyptian cat", "tabby", "tiger cat"]),
        ("bee_flower.jpg", &["bee"]),
        ("citrus.jpg", &["lemon", "orange"]),
        ("night_bridge.jpg", &["suspension bridge"]),
        ("sunset_bay.jpg", &["seashore", "lakeside"]),
    ];
    for (id, labels) in expect {
        let got = top1[row(id)].as_deref().unwrap();
        assert!(labels.contains(&got), "{id}: top-1 {got}");
    }
    let top1_prob = f32s(&b, "top1_prob");
    let labels = b.column_by_name("top5_labels").unwrap().as_list::<i32>().clone();
    let probs = b.column_by_name("top5_probs").unwrap().as_list::<i32>().clone();
    let class_ids = b.column_by_name("top5_class_ids").unwrap().as_list::<i32>().clone();
    for r in 0..n {
        assert_eq!((list_len(&labels, r), list_len(&probs, r), list_len(&class_ids, r)), (5, 5, 5));
        let p = probs.value(r);
        let p = p.as_primitive::<Float32Type>();
        assert_eq!(p.value(0), top1_prob[r]);
        assert!(p.values().windows(2).all(|w| w[0] >= w[1]), "probabilities sorted");
        assert!(p.values().iter().sum::<f32>() <= 1.0 + 1e-5);
        let ids = class_ids.value(r);
        let first = ids.as_primitive::<UInt16Type>().value(0) as usize;
        assert_eq!(pixtape::engine::model::class_names()[first], top1[r].as_deref().unwrap());
    }

    // Colour and light: in range, and the night photos darker than the citrus.
    let bright = f32s(&b, "brightness");
    for (name, lo, hi) in
        [("brightness", 0.0, 1.0), ("contrast", 0.0, 0.5), ("saturation", 0.0, 1.0), ("warmth", -1.0, 1.0)]
    {
        assert!(f32s(&b, name).iter().all(|v| (lo..=hi).contains(v)), "{name} out of range");
    }
    assert!(f32s(&b, "colourfulness").iter().all(|v| *v >= 0.0 && *v < 200.0));
    assert!(bright[row("night_bridge.jpg")] < bright[row("citrus.jpg")]);
    assert!(f32s(&b, "warmth")[row("night_festival.jpg")] > f32s(&b, "warmth")[row("rocket.jpg")]);

    let palette = b.column_by_name("palette").unwrap().as_list::<i32>().clone();
    for r in 0..n {
        let entries = palette.value(r);
        let entries: &StructArray = entries.as_struct();
        assert!((1..=5).contains(&entries.len()));
        let colors = entries.column(0).as_string::<i32>();
        let shares = entries.column(1).as_primitive::<Float32Type>();
        assert!(colors.iter().all(|c| c.is_some_and(|c| c.len() == 7 && c.starts_with('#'))));
        assert!((shares.values().iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(shares.values().windows(2).all(|w| w[0] >= w[1]));
    }
}

fn pipeline_schema() -> arrow_schema::SchemaRef {
    pixtape::run::output::images_schema()
}

#[test]
fn errors_table_and_manifest_describe_the_run() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path());
    let errors = read_parquet(&dir.path().join("errors.parquet"));
    assert_eq!(errors.num_rows(), 0);
    assert_eq!(errors.schema(), pixtape::run::output::errors_schema());

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["pixtape_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["model"]["weights_sha256"], pixtape::engine::model::weights_sha256());
    assert_eq!(manifest["counts"]["images"], 10);
    assert_eq!(manifest["counts"]["errors"], 0);
    assert_eq!(manifest["counts"]["skipped_files"], 1, "SOURCES.md is not an image");
    assert_eq!(manifest["input"]["kind"], "folder");
    assert_eq!(manifest["parameters"]["batch_size"], 3);
    assert!(manifest["wall_seconds"].as_f64().unwrap() > 0.0);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

#[test]
fn a_new_run_withdraws_the_old_manifest_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), "{\"from\": \"an older run\"}").unwrap();
    run::prepare_out_dir(dir.path()).unwrap();
    assert!(!dir.path().join("manifest.json").exists(), "an unfinished run must not look finished");
}

#[test]
fn manifests_of_paths_csv_and_parquet_work() {
    let dir = tempfile::tempdir().unwrap();
    let photos = photos_dir();
    let list = dir.path().join("list.txt");
    std::fs::write(
        &list,
        format!("# two photos\n{}\n\n{}\n", photos.join("cat.jpg").display(), photos.join("coffee.jpg").display()),
    )
    .unwrap();
    let csv = dir.path().join("list.csv");
    std::fs::write(
        &csv,
        format!("id,path\nkitty,{}\n,{}\n", photos.join("cat.jpg").display(), photos.join("rocket.jpg").display()),
    )
    .unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(2)).unwrap();
    for (manifest, want) in [
        (list, vec![photos.join("cat.jpg").display().to_string(), photos.join("coffee.jpg").display().to_string()]),
        (csv, vec!["kitty".to_string(), photos.join("rocket.jpg").display().to_string()]),
    ] {
        let out = dir.path().join(format!("out-{}", manifest.extension().unwrap().to_string_lossy()));
        let settings = AnalyzeSettings { decode_threads: 1, ..AnalyzeSettings::new(manifest, out.clone()) };
        run::analyze(&settings, &model, &Silent).unwrap();
        let b = read_parquet(&out.join("images.parquet"));
        let ids: Vec<String> = strings(&b, "image_id").into_iter().flatten().collect();
        assert_eq!(ids, want);
    }
    // A Parquet manifest is read back from the images table we just wrote:
    // it has `image_id` and `path` columns.
    let pq = dir.path().join("out-csv/images.parquet");
    let copy = dir.path().join("again.parquet");
    std::fs::copy(&pq, &copy).unwrap();
    let out = dir.path().join("out-pq");
    let settings = AnalyzeSettings { decode_threads: 1, ..AnalyzeSettings::new(copy, out.clone()) };
    run::analyze(&settings, &model, &Silent).unwrap();
    let ids: Vec<String> =
        strings(&read_parquet(&out.join("images.parquet")), "image_id").into_iter().flatten().collect();
    assert_eq!(ids[0], "kitty");
}

#[test]
fn features_table_holds_each_images_pooled_features_when_asked() {
    use pixtape::engine::decode::{DecodeLimits, Decoder};
    use pixtape::engine::model::{CROP_BYTES, FEATURE_DIM, ModelOutput};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    let settings = AnalyzeSettings { features: true, ..AnalyzeSettings::new(photos_dir(), out.clone()) };
    run::analyze(&settings, &model, &Silent).unwrap();
    let images = read_parquet(&out.join("images.parquet"));
    let f = read_parquet(&out.join("features.parquet"));
    assert_eq!(f.schema(), pixtape::run::output::features_schema());
    assert_eq!(strings(&f, "image_id"), strings(&images, "image_id"), "same images, same order");
    let lists = f.column_by_name("features").unwrap().as_fixed_size_list().clone();
    let ids = strings(&f, "image_id");
    let row = ids.iter().position(|i| i.as_deref() == Some("coffee.jpg")).unwrap();
    let stored = lists.value(row).as_primitive::<Float32Type>().values().to_vec();
    // The same photo through the engine alone.
    let mut crop = vec![0u8; CROP_BYTES];
    let info = Decoder::new(DecodeLimits::default()).decode_file(&photos_dir().join("coffee.jpg"), &mut crop).unwrap();
    let mut o = ModelOutput::default();
    model.engine.forward(&crop, 1, &mut o).unwrap();
    assert_eq!(stored.len(), FEATURE_DIM);
    assert_eq!(stored, o.features[..FEATURE_DIM].to_vec());
    assert!(stored.iter().any(|x| *x > 0.0));
    // The semantic mood and the mood before the head, from which learning
    // rebuilds any head's mood.
    let vector = |name: &str| {
        let lists = f.column_by_name(name).unwrap().as_fixed_size_list().clone();
        lists.value(row).as_primitive::<Float32Type>().values().to_vec()
    };
    assert_eq!(vector("semantic"), o.semantic(0).to_vec());
    assert_eq!(vector("prior"), pixtape::engine::mood::image_mood_from(&o.semantic(0), &info.colour).to_vec());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["outputs"]["features"], "features.parquet");
    // A later run without features leaves no stale table behind.
    run::analyze(&AnalyzeSettings::new(photos_dir(), out.clone()), &model, &Silent).unwrap();
    assert!(!out.join("features.parquet").exists());
}
