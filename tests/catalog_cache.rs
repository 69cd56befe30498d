//! The catalog cache: a source catalog placed once is read from the cache
//! next time, to the same catalog; the content (not the file's time)
//! decides a hit; a damaged entry is rebuilt; the reading options key it;
//! and the cache keeps only its most recent entries.

use std::path::{Path, PathBuf};

use pixtape::catalog::{self, CatalogOptions, cache};
use pixtape::engine::mood::Weights;

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pxi"))
        .collect();
    v.sort();
    v
}

fn load(source: &Path, dir: &Path) -> catalog::Catalog {
    catalog::load(&CatalogOptions { cache: Some(dir.to_path_buf()), ..CatalogOptions::new(source) }).unwrap()
}

fn assert_same(a: &catalog::Catalog, b: &catalog::Catalog) {
    assert_eq!(a.len(), b.len());
    for i in 0..a.len() {
        assert_eq!(a.track(i), b.track(i), "track {i}");
        assert_eq!(a.matrix().vector(i), b.matrix().vector(i), "track {i}'s vector");
    }
    assert_eq!((&a.groups, &a.issues), (&b.groups, &b.issues));
    assert_eq!(
        (&a.report.sha256, &a.report.columns, a.report.rows),
        (&b.report.sha256, &b.report.columns, b.report.rows)
    );
}

#[test]
fn a_placed_catalog_is_read_from_the_cache_next_time_and_equals_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    // The demo catalog has rows with warnings: they must survive the cache.
    let source = dir.path().join("tracks.csv");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/catalog/demo_catalog.csv"), &source).unwrap();
    let plain = catalog::load(&CatalogOptions::new(&source)).unwrap();
    assert!(plain.report.cache.is_none());

    let first = load(&source, &cache_dir);
    let written = entries(&cache_dir);
    assert_eq!(written.len(), 1);
    assert_eq!(first.report.cache.as_deref(), Some(written[0].to_str().unwrap()));
    assert!(first.moods().is_none(), "a run's catalog does not keep the mood vectors the entry needed");
    assert!(!first.report.cached);
    let second = load(&source, &cache_dir);
    assert!(second.report.cached);
    assert_same(&plain, &second);
    assert_eq!(second.report.path, source.display().to_string(), "the report names the source, not the entry");
    assert!(second.report.index.is_none());
    // Under other weights too: the entry holds moods, not weighted vectors.
    let weights = Weights { affect: 0.7, moods: 0.1, styles: 0.1, themes: 0.1 };
    let cached =
        catalog::load(&CatalogOptions { weights, cache: Some(cache_dir.clone()), ..CatalogOptions::new(&source) });
    assert_same(&catalog::load(&CatalogOptions { weights, ..CatalogOptions::new(&source) }).unwrap(), &cached.unwrap());

    // A copy elsewhere, with another time, is the same content: a hit.
    let copy = dir.path().join("copy.csv");
    std::fs::copy(&source, &copy).unwrap();
    assert_eq!(load(&copy, &cache_dir).report.cache, second.report.cache);
    assert_eq!(entries(&cache_dir).len(), 1);

    // Changed content is a miss, and a new entry.
    let mut text = std::fs::read_to_string(&source).unwrap();
    let last = text.lines().last().unwrap().to_string();
    text.push_str(&last.replacen(last.split(',').next().unwrap(), "extra-track-id", 1));
    text.push('\n');
    std::fs::write(&source, &text).unwrap();
    let changed = load(&source, &cache_dir);
    assert_eq!(changed.len(), plain.len() + 1);
    assert_eq!(entries(&cache_dir).len(), 2);

    // Another reading option is another entry.
    let declared =
        CatalogOptions { cache: Some(cache_dir.clone()), delimiter: Some(b','), ..CatalogOptions::new(&copy) };
    catalog::load(&declared).unwrap();
    assert_eq!(entries(&cache_dir).len(), 3);
}

#[test]
fn a_damaged_entry_is_rebuilt_and_the_cache_keeps_its_recent_entries() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let source = dir.path().join("synth.parquet");
    catalog::synth::write(&source, 500, 3).unwrap();
    let plain = catalog::load(&CatalogOptions::new(&source)).unwrap();
    load(&source, &cache_dir);
    let entry = entries(&cache_dir).remove(0);
    let bytes = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, &bytes[..bytes.len() / 2]).unwrap();
    let rebuilt = load(&source, &cache_dir);
    assert_same(&plain, &rebuilt);
    assert_eq!(std::fs::read(&entry).unwrap().len(), bytes.len(), "the damaged entry was written again");
    assert_same(&plain, &load(&source, &cache_dir));

    // More catalogs than the cache keeps: the oldest entries go.
    for seed in 0..cache::KEEP as u64 + 2 {
        let other = dir.path().join(format!("s{seed}.parquet"));
        catalog::synth::write(&other, 50, 100 + seed).unwrap();
        load(&other, &cache_dir);
    }
    let kept = entries(&cache_dir);
    assert_eq!(kept.len(), cache::KEEP);
    assert!(!kept.contains(&entry), "the least recently used entry is the one removed");
}

#[test]
fn a_cache_that_cannot_be_written_costs_the_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("synth.parquet");
    catalog::synth::write(&source, 200, 9).unwrap();
    // A file where the folder should be.
    let blocked = dir.path().join("not-a-folder");
    std::fs::write(&blocked, b"x").unwrap();
    let cat = load(&source, &blocked.join("cache"));
    assert_eq!(cat.len(), catalog::load(&CatalogOptions::new(&source)).unwrap().len());
    assert!(cat.report.cache.is_none());
}

#[test]
fn a_first_run_writes_its_entry_beside_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let source = dir.path().join("synth.parquet");
    catalog::synth::write(&source, 300, 5).unwrap();
    let opts = CatalogOptions { cache: Some(cache_dir.clone()), ..CatalogOptions::new(&source) };
    let (first, pending) = catalog::load_deferring_cache(&opts).unwrap();
    assert!(pending.is_some());
    assert!(!cache_dir.exists() || entries(&cache_dir).is_empty(), "nothing is written before the caller asks");
    assert!(first.moods().is_some(), "the mood vectors stay until the entry is written");
    assert_eq!(cache::write_beside(&first, pending, || first.len()), 300);
    let written = entries(&cache_dir);
    assert_eq!(written.len(), 1);
    assert_eq!(first.report.cache.as_deref(), Some(written[0].to_str().unwrap()));
    let (second, pending) = catalog::load_deferring_cache(&opts).unwrap();
    assert!(pending.is_none() && second.report.cached);
    assert_same(&first, &second);
    // An index, or no cache folder, leaves nothing to write.
    let plain = CatalogOptions::new(&source);
    assert!(catalog::load_deferring_cache(&plain).unwrap().1.is_none());
    let index = CatalogOptions { cache: Some(cache_dir.clone()), ..CatalogOptions::new(&written[0]) };
    assert!(catalog::load_deferring_cache(&index).unwrap().1.is_none());
}

#[test]
fn recommend_writes_the_entry_and_the_next_run_reads_it_to_the_same_playlists() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let source = dir.path().join("tracks.parquet");
    catalog::synth::write(&source, 2000, 11).unwrap();
    let run = |out: &str| {
        let out = dir.path().join(out);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_pixtape"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["recommend", "--images", "assets/photos", "--device", "cpu", "--faces", "off", "-q"])
            .args(["--catalog".as_ref(), source.as_os_str(), "--catalog-cache".as_ref(), cache_dir.as_os_str()])
            .args(["--out".as_ref(), out.as_os_str()])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        let playlists = std::fs::read(out.join("recommendations.parquet")).unwrap();
        (manifest["recommend"]["catalog"].clone(), playlists)
    };
    let (first, first_playlists) = run("first");
    let written = entries(&cache_dir);
    assert_eq!(written.len(), 1, "the first run wrote its entry before it exited");
    assert_eq!(first["cache"], written[0].to_str().unwrap());
    assert!(first.get("cached").is_none());
    let (second, second_playlists) = run("second");
    assert_eq!(second["cached"], true);
    assert_eq!(first_playlists, second_playlists);
}
