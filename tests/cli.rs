//! The binary as a user runs it: the README's default command, inspect with
//! a catalog, the synthetic catalog writer, and a bad catalog's message.

use std::process::Command;

fn pixtape(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pixtape")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

#[test]
fn default_recommend_runs_on_the_bundled_photos_and_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = pixtape(&["recommend", "--out", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    for f in ["images.parquet", "errors.parquet", "recommendations.parquet", "manifest.json"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    assert!(stderr.contains("314 tracks"), "{stderr}");
    assert!(stdout.contains("sunset_bay.jpg:") && stdout.contains("  1. "), "{stdout}");
}

#[test]
fn inspect_prints_labels_mood_and_playlist() {
    let o = pixtape(&[
        "inspect",
        "assets/photos/coffee.jpg",
        "--catalog",
        "assets/catalog/demo_catalog.csv",
        "--top-k",
        "5",
    ]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    for needle in ["espresso", "colour and light", "valence", "playlist (match the mood)", " 5. ", " ↔ "] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
}

#[test]
fn catalog_synth_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("synth.parquet");
    let o = pixtape(&["catalog", "synth", "--tracks", "500", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let o = pixtape(&["catalog", "check", "--catalog", out.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["tracks"], 500);
}

#[test]
fn a_bad_catalog_stops_with_its_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,year\nx,1999\n").unwrap();
    let o =
        pixtape(&["recommend", "--catalog", bad.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("bad.csv") && e.contains("line 1") && e.contains("no track id column"), "{e}");
}

#[test]
fn flags_are_parsed_in_the_binary_and_named_in_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd.csv");
    std::fs::write(&odd, "key,who,pleasure,activation\nk1,W,0.2,0.9\nk2,V,0.8,0.1\n").unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec!["catalog", "check", "--catalog", odd.to_str().unwrap()];
        args.extend_from_slice(extra);
        pixtape(&args)
    };
    let o = check(&["--catalog-columns", "id=key,artist=who,valence=pleasure,arousal=activation"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["tracks"], 2);
    let o = check(&["--catalog-columns", "colour=key"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(e.contains("--catalog-columns") && e.contains("unknown role `colour`"), "{e}");
    // The library names the setting; the binary says which flag sets it.
    let o = check(&["--weights", "affect=0,moods=0,styles=0,themes=0"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(e.contains("--weights") && e.contains("at least one weight must be positive"), "{e}");
    let o = check(&[]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("no track id column") && e.contains("`columns` setting") && !e.contains("--"), "{e}");
}
