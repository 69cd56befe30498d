//! Resume inside a run: a run killed with SIGKILL at random points and then
//! started again with the same command must write exactly the tables of a
//! run that never stopped (same rows, same order, nothing missing, nothing
//! twice), and a full disk must fail cleanly and finish once there is room.
//!
//! The kill harness takes its number of kill points from
//! `PIXTAPE_KILL_POINTS` (5 by default, as CI runs it);
//! `scripts/kill-harness.sh` runs it with 20 and prints each point.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::read_parquet;
use pixtape::tools::synth::{PhotoSpec, photos};

const TABLES: [&str; 4] = ["images.parquet", "errors.parquet", "recommendations.parquet", "features.parquet"];

fn pixtape() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pixtape"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("PIXTAPE_TEST_FAULT");
    for v in pixtape::run::shard::INDEX_VARIABLES {
        c.env_remove(v);
    }
    c
}

/// A photo folder with a few inputs that fail (so the errors table has
/// rows of both kinds of input) and a file that is not an image.
fn input_folder(dir: &Path, count: usize) -> PathBuf {
    let images = dir.join("photos");
    let spec = PhotoSpec { width: 160, height: 120, seed: 11, ..PhotoSpec::default() };
    photos(&images, count, &spec).unwrap();
    std::fs::write(images.join("photo-000005b.jpg"), b"not a jpeg at all").unwrap();
    let good = std::fs::read(images.join("photo-000001.jpg")).unwrap();
    std::fs::write(images.join("photo-000040b.jpg"), &good[..good.len() / 3]).unwrap();
    std::fs::write(images.join("notes.txt"), b"holiday").unwrap();
    images
}

fn recommend(images: &Path, out: &Path, part_size: u32) -> Command {
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/catalog/demo_catalog.csv");
    let mut c = pixtape();
    c.args(["recommend", "--device", "cpu", "-q", "--features", "--batch-size", "4", "--top-k", "5"])
        .arg("--images")
        .arg(images)
        .arg("--catalog")
        .arg(catalog)
        .arg("--out")
        .arg(out)
        .args(["--part-size", &part_size.to_string()]);
    c
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

/// The run in `out` has the tables and counts of the run in `clean`, and
/// nothing of the parts machinery is left.
fn assert_same_run(out: &Path, clean: &Path) {
    for t in TABLES {
        assert_eq!(read_parquet(&out.join(t)), read_parquet(&clean.join(t)), "{t} differs from the clean run's");
    }
    assert_eq!(manifest(out)["counts"], manifest(clean)["counts"]);
    assert_eq!(manifest(out)["fingerprint"], manifest(clean)["fingerprint"]);
    let left: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.starts_with('_'))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(pixtape::cluster::verify::verify(out).unwrap().is_whole());
}

fn finish(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    // Two inputs fail on purpose: exit code 1, not 2.
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn a_run_killed_at_random_points_resumes_to_the_tables_of_a_clean_run() {
    let points: usize = std::env::var("PIXTAPE_KILL_POINTS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let images = input_folder(dir.path(), 180);
    let clean = dir.path().join("clean");
    finish(&mut recommend(&images, &clean, 7));
    let m = manifest(&clean);
    assert_eq!(m["counts"]["inputs"], 182);
    assert_eq!(m["counts"]["errors"], 2);
    assert_eq!(m["parts"], 26, "182 inputs in parts of 7");
    // Parts are an implementation detail: their size does not show. This
    // run, with warm caches, also times a whole run for the kill points.
    let other = dir.path().join("one-part");
    let t0 = Instant::now();
    finish(&mut recommend(&images, &other, 5000));
    let wall = t0.elapsed();
    assert_same_run(&other, &clean);

    let mut rng = pixtape_test_rng(0x5eed);
    let (mut killed, mut resumed_parts) = (0, 0);
    for point in 0..points {
        let out = dir.path().join(format!("killed-{point}"));
        // Stratified over the clean run's wall time, so the points cover
        // model loading, the parts and the final assembly.
        let at = wall.mul_f64(0.9 * (point as f64 + rng()) / points as f64);
        let mut child = recommend(&images, &out, 7).spawn().unwrap();
        std::thread::sleep(at);
        let was_running = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        let committed = pixtape::run::output::Journal::read(&out).ok().flatten().map_or(0, |j| j.committed());
        // Half the time, kill the resumed run too.
        if rng() < 0.5 {
            let mut again = recommend(&images, &out, 7).spawn().unwrap();
            std::thread::sleep(wall.mul_f64(rng() * 0.5));
            let _ = again.kill();
            let _ = again.wait();
        }
        finish(&mut recommend(&images, &out, 7));
        println!(
            "kill point {point}: {:.2} s of {:.2} s, {}, {committed} inputs committed before the kill",
            at.as_secs_f64(),
            wall.as_secs_f64(),
            if was_running { "killed" } else { "had already finished" },
        );
        killed += was_running as usize;
        resumed_parts += (committed > 0) as usize;
        assert_same_run(&out, &clean);
    }
    println!("{killed} of {points} runs killed mid-run, {resumed_parts} resumed from committed parts");
    assert!(killed * 2 >= points, "most kill points must land while the run is under way");
    assert!(resumed_parts >= 1, "at least one run must have resumed from committed parts");
}

/// Uniform in [0, 1), from a fixed seed, so a failing point can be rerun.
fn pixtape_test_rng(seed: u64) -> impl FnMut() -> f64 {
    let mut r = common::Rng(seed);
    move || (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn a_resumed_run_reports_what_it_kept_and_refuses_other_settings_in_a_shard() {
    let dir = tempfile::tempdir().unwrap();
    let images = input_folder(dir.path(), 30);
    let clean = dir.path().join("clean");
    finish(&mut recommend(&images, &clean, 4));
    // A run that fails after its first part (the test-only fault switch).
    let out = dir.path().join("out");
    let marker = dir.path().join("failed-once");
    let o = recommend(&images, &out, 4)
        .env("PIXTAPE_TEST_FAULT", format!("fail-once:0:{}", marker.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(marker.exists() && !out.join("manifest.json").exists());
    let journal = pixtape::run::output::Journal::read(&out).unwrap().unwrap();
    assert_eq!((journal.parts.len(), journal.committed()), (1, 4));
    // Resumed with another part size: parts are not part of the result.
    let o = recommend(&images, &out, 3).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(manifest(&out)["resumed"]["inputs"], 4);
    assert_same_run(&out, &clean);

    // Committed parts of another run in a shard's folder are never reused
    // nor overwritten.
    let shard = dir.path().join("sharded");
    let o = recommend(&images, &shard, 4)
        .args(["--shard", "0/1"])
        .env("PIXTAPE_TEST_FAULT", format!("fail-once:0:{}", dir.path().join("m2").display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = recommend(&images, &shard, 4).args(["--shard", "0/1", "--per-artist", "1"]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("committed parts of another run"), "{e}");
}

/// An exposure cap depends on the picks before each image: a resumed run
/// restores them from its committed parts and ends with the same tables.
#[test]
fn a_capped_run_resumes_to_the_same_playlists() {
    let dir = tempfile::tempdir().unwrap();
    let images = input_folder(dir.path(), 24);
    let clean = dir.path().join("clean");
    finish(&mut recommend(&images, &clean, 5).args(["--max-exposure", "2"]));
    let out = dir.path().join("out");
    let marker = dir.path().join("failed-once");
    let o = recommend(&images, &out, 5)
        .args(["--max-exposure", "2"])
        .env("PIXTAPE_TEST_FAULT", format!("fail-once:0:{}", marker.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    finish(&mut recommend(&images, &out, 5).args(["--max-exposure", "2"]));
    assert_eq!(manifest(&out)["resumed"]["inputs"], 5);
    assert_same_run(&out, &clean);
    // The cap binds here: without it some track is in more than two playlists.
    let picks = common::strings(&read_parquet(&clean.join("recommendations.parquet")), "track_id");
    let mut counts = std::collections::HashMap::new();
    for p in &picks {
        *counts.entry(p.clone()).or_insert(0) += 1;
    }
    assert!(counts.values().all(|&n| n <= 2), "{counts:?}");
    let free = dir.path().join("free");
    finish(&mut recommend(&images, &free, 5));
    let picks = common::strings(&read_parquet(&free.join("recommendations.parquet")), "track_id");
    let mut counts = std::collections::HashMap::new();
    for p in &picks {
        *counts.entry(p.clone()).or_insert(0) += 1;
    }
    assert!(counts.values().any(|&n| n > 2), "without a cap some track repeats more");
}

/// A full output disk: exit code 2 and a clear message; the committed parts
/// stay, and rerunning once there is room finishes the same tables. Needs a
/// small tmpfs, so it runs where the test may mount one (as root) and says
/// so where it may not.
#[test]
fn a_full_disk_fails_cleanly_and_the_rerun_finishes_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let images = input_folder(dir.path(), 40);
    let clean = dir.path().join("clean");
    finish(&mut recommend(&images, &clean, 4));
    let mnt = dir.path().join("small-disk");
    std::fs::create_dir_all(&mnt).unwrap();
    // Room for a few parts (with features, ~5 KB an image) but not the run.
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let out = mnt.join("out");
    let o = recommend(&images, &out, 4).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("No space left on device") && e.contains("rerun"), "{e}");
    let journal = pixtape::run::output::Journal::read(&out).unwrap().unwrap();
    assert!(journal.committed() > 0, "some parts were committed before the disk filled");
    // Room again: the same command finishes the run.
    assert!(Command::new("mount").args(["-o", "remount,size=64m"]).arg(&mnt).status().unwrap().success());
    finish(&mut recommend(&images, &out, 4));
    assert!(manifest(&out)["resumed"]["inputs"].as_u64().unwrap() >= journal.committed());
    assert_same_run(&out, &clean);

    // A read-only disk: exit code 2, a clear message.
    let ro = dir.path().join("ro-disk");
    std::fs::create_dir_all(&ro).unwrap();
    assert!(
        Command::new("mount").args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"]).arg(&ro).status().unwrap().success()
    );
    let _unmount_ro = Unmount(ro.clone());
    let o = recommend(&images, &ro.join("out"), 4).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("Read-only file system"), "{e}");
}
