//! The catalog index: built once, it loads to the same catalog as its
//! source (ids, names, vectors under any weights, report and issues),
//! recommends the same, and a damaged or foreign index is refused with a
//! clear message.

mod common;

use std::path::Path;

use pixtape::catalog::{self, CatalogOptions, index};
use pixtape::engine::mood::Weights;

fn demo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/catalog/demo_catalog.csv")
}

fn build(source: &Path, out: &Path) {
    let cat = catalog::load(&CatalogOptions { keep_moods: true, ..CatalogOptions::new(source) }).unwrap();
    index::write(&cat, out).unwrap();
}

fn assert_same(a: &catalog::Catalog, b: &catalog::Catalog) {
    assert_eq!(a.len(), b.len());
    for i in 0..a.len() {
        assert_eq!(a.track(i), b.track(i), "track {i}");
        assert_eq!(a.matrix().vector(i), b.matrix().vector(i), "track {i}'s vector");
    }
    assert_eq!(a.groups, b.groups);
    assert_eq!(a.issues, b.issues);
    assert_eq!(a.report.sha256, b.report.sha256);
    assert_eq!(a.report.columns, b.report.columns);
}

#[test]
fn an_index_loads_to_its_source_under_any_weights() {
    let dir = tempfile::tempdir().unwrap();
    // A synthetic catalog (valence/arousal, tags, tempo) and the demo
    // catalog, whose rows include warnings.
    let synth = dir.path().join("synth.parquet");
    catalog::synth::write(&synth, 2000, 5).unwrap();
    for source in [demo(), synth] {
        let idx = dir.path().join("catalog.pxi");
        build(&source, &idx);
        assert!(index::is_index(&idx) && !index::is_index(&source));
        for weights in [Weights::default(), Weights { affect: 0.7, moods: 0.0, styles: 0.2, themes: 0.1 }] {
            let a = catalog::load(&CatalogOptions { weights, ..CatalogOptions::new(&source) }).unwrap();
            let b = catalog::load(&CatalogOptions { weights, ..CatalogOptions::new(&idx) }).unwrap();
            assert_same(&a, &b);
            assert_eq!(b.weights(), weights);
            assert_eq!(b.report.index.as_deref(), Some(idx.to_str().unwrap()));
        }
        // Built from an index, an index is the same catalog again.
        let again = dir.path().join("again.pxi");
        build(&idx, &again);
        let load = |p: &Path| catalog::load(&CatalogOptions::new(p)).unwrap();
        assert_same(&load(&again), &load(&idx));
    }
}

#[test]
fn a_damaged_or_foreign_index_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("catalog.pxi");
    build(&demo(), &idx);
    let bytes = std::fs::read(&idx).unwrap();
    let load = |b: &[u8]| {
        let p = dir.path().join("bad.pxi");
        std::fs::write(&p, b).unwrap();
        catalog::load(&CatalogOptions::new(&p)).map(|_| ()).unwrap_err().to_string()
    };
    let e = load(&bytes[..bytes.len() - 100]);
    assert!(e.contains("truncated") && e.contains("pixtape catalog build"), "{e}");
    // Another mood space: the header names a different version.
    let version = index::mood_space_version().into_bytes();
    let at = bytes.windows(version.len()).position(|w| w == version).expect("the header names its mood space");
    let mut foreign = bytes.clone();
    foreign[at..at + version.len()].fill(b'0');
    let e = load(&foreign);
    assert!(e.contains("another mood space"), "{e}");
    let e = load(b"PXTIDX02\x05\x00\x00\x00\x00\x00\x00\x00{oops");
    assert!(e.contains("header does not parse"), "{e}");
    // An index of the earlier layout (no locations, years or tempos).
    let e = load(b"PXTIDX01\x05\x00\x00\x00\x00\x00\x00\x00{oops");
    assert!(e.contains("earlier pixtape") && e.contains("pixtape catalog build"), "{e}");
}

#[test]
fn recommend_on_the_index_equals_recommend_on_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("demo.pxi");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_pixtape"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["catalog", "build", "--catalog", demo().to_str().unwrap(), "--out", idx.to_str().unwrap()]);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run(&["recommend", "--device", "cpu", "-q", "--out", a.to_str().unwrap()]);
    run(&["recommend", "--device", "cpu", "-q", "--catalog", idx.to_str().unwrap(), "--out", b.to_str().unwrap()]);
    let picks = |d: &Path| {
        let r = common::read_parquet(&d.join("recommendations.parquet"));
        (common::strings(&r, "image_id"), common::strings(&r, "track_id"), common::strings(&r, "explanation"))
    };
    assert_eq!(picks(&a), picks(&b));
    let fp = |d: &Path| {
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
        m["fingerprint"].as_str().unwrap().to_string()
    };
    assert_eq!(fp(&a), fp(&b), "the index is the same catalog");
}
