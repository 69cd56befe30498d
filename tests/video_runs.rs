//! Video runs resume, shard and verify as photo runs do, one video being
//! one input: a run stopped after some videos were committed goes on from
//! them and writes what an uninterrupted run writes; shards of a video run
//! hold every video once, `verify` finds them whole (or names what is
//! missing), `merge` lists their tables, and a finished shard does nothing.
//!
//! The clips need `ffmpeg`; without it these tests are skipped, unless
//! PIXTAPE_REQUIRE_FFMPEG=1 (CI), which makes its absence a failure.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use common::video::{demo_catalog, have_ffmpeg, photo_clip};
use pixtape::cluster::{merge::merge, verify::verify};
use pixtape::engine::backend::Backend;
use pixtape::engine::mood::MoodMode;
use pixtape::recommend::Recommender;
use pixtape::recommend::playlist::PlaylistSettings;
use pixtape::run::shard::{Shard, shard_of};
use pixtape::run::{Progress, Silent};
use pixtape::video::{self, VideoSettings, VideoSummary};

/// Three clips of two scenes each, and a file that is not a video.
fn clips(dir: &Path) -> Vec<PathBuf> {
    let folder = dir.join("clips");
    std::fs::create_dir_all(&folder).unwrap();
    photo_clip(&folder, "a.mp4", &["bee_flower.jpg", "night_bridge.jpg"], 2.0, false);
    photo_clip(&folder, "b.mp4", &["orchestra.jpg", "sunset_bay.jpg"], 2.0, false);
    photo_clip(&folder, "c.mp4", &["cat.jpg", "rocket.jpg"], 2.0, false);
    let mut rng = common::Rng(11);
    std::fs::write(folder.join("broken.mp4"), (0..40_000).map(|_| (rng.f32() * 255.0) as u8).collect::<Vec<u8>>())
        .unwrap();
    vec![folder]
}

fn run_with(inputs: Vec<PathBuf>, out: &Path, shard: Option<Shard>, progress: &dyn Progress) -> VideoSummary {
    let backend = Backend::cpu();
    let model = backend.model(Some(8)).unwrap();
    let catalog = demo_catalog();
    let playlist = PlaylistSettings { length: 5, ..PlaylistSettings::default() };
    let recommender = Recommender::new(&backend, &catalog, MoodMode::Match, playlist).unwrap();
    let settings = VideoSettings { report: true, shard, ..VideoSettings::new(inputs, out) };
    video::run(&settings, &model, &recommender, progress).unwrap()
}

/// Stops the run (as a kill would) once `after` videos are committed.
struct StopAfter {
    after: u64,
    seen: AtomicU64,
}

impl Progress for StopAfter {
    fn finished_one(&self, _ok: bool) {
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            panic!("stopped on purpose");
        }
    }
}

/// Counts what a resumed run reports.
#[derive(Default)]
struct Counting {
    resumed: AtomicU64,
    read: AtomicU64,
}

impl Progress for Counting {
    fn resumed(&self, done: u64) {
        self.resumed.store(done, Ordering::SeqCst);
    }
    fn finished_one(&self, _ok: bool) {
        self.read.fetch_add(1, Ordering::SeqCst);
    }
}

const TABLES: [&str; 4] = ["scenes.parquet", "recommendations.parquet", "soundtrack.parquet", "errors.parquet"];

#[test]
fn a_stopped_video_run_resumes_and_writes_what_an_uninterrupted_one_does() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = clips(dir.path());
    let whole = dir.path().join("whole");
    let summary = run_with(inputs.clone(), &whole, None, &Silent);
    assert_eq!((summary.videos, summary.failed, summary.scenes), (4, 1, 6));

    let out = dir.path().join("out");
    let stop = StopAfter { after: 2, seen: AtomicU64::new(0) };
    let stopped =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_with(inputs.clone(), &out, None, &stop)));
    assert!(stopped.is_err());
    assert!(!out.join("manifest.json").exists(), "a stopped run has no manifest");
    let journal = out.join("_parts/videos.jsonl");
    assert_eq!(std::fs::read_to_string(&journal).unwrap().lines().count(), 3, "a header and two videos");
    // What a kill leaves: a journal line cut short, a part no line names and
    // a file half-written.
    let mut text = std::fs::read(&journal).unwrap();
    text.extend_from_slice(br#"{"id":"c.mp4","path":"#);
    std::fs::write(&journal, text).unwrap();
    std::fs::write(out.join("_parts/scenes-00007.parquet"), b"junk").unwrap();
    std::fs::write(out.join("_parts/.soundtrack-00002.parquet.partial"), b"junk").unwrap();

    let counting = Counting::default();
    let resumed = run_with(inputs, &out, None, &counting);
    assert_eq!(counting.resumed.load(Ordering::SeqCst), 2);
    assert_eq!(counting.read.load(Ordering::SeqCst), 2, "only the videos not committed are read again");
    assert_eq!((resumed.videos, resumed.failed, resumed.scenes, resumed.resumed), (4, 1, 6, 2));
    for table in TABLES {
        assert_eq!(common::read_parquet(&out.join(table)), common::read_parquet(&whole.join(table)), "{table}");
    }
    for file in ["cues.csv", "cues/a.mp4.edl", "cues/c.mp4.edl"] {
        assert_eq!(std::fs::read(out.join(file)).unwrap(), std::fs::read(whole.join(file)).unwrap(), "{file}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<article class=\"scene\">").count(), 6);
    assert!(!out.join("_parts").exists(), "the parts are removed once the manifest is written");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["input"]["resumed"], 2);
    assert_eq!(m["fingerprint"], serde_json::Value::from(summary.fingerprint));
    assert!(verify(&out).unwrap().is_whole());
}

#[test]
fn video_shards_hold_every_video_once_and_verify_and_merge_read_them() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs = clips(dir.path());
    let out = dir.path().join("out");
    let shard = |i| Some(Shard { index: i, count: 2, index_from: "--shard".into() });
    let first = run_with(inputs.clone(), &out, shard(0), &Silent);

    // One shard of two: verify names the other, for sbatch.
    let report = verify(&out).unwrap();
    assert_eq!((report.shards, report.missing.clone()), (2, vec![1]));
    assert!(merge(&out).is_err(), "merge refuses a run that is not whole");

    let second = run_with(inputs.clone(), &out, shard(1), &Silent);
    assert_eq!(first.videos + second.videos, 4);
    assert_eq!(first.scenes + second.scenes, 6);
    for (i, s) in [(0, &first), (1, &second)] {
        let dir = out.join(format!("shard-0000{i}-of-00002"));
        let scenes = common::read_parquet(&dir.join("scenes.parquet"));
        for id in common::strings(&scenes, "video_id").into_iter().flatten() {
            assert_eq!(shard_of(&id, 2), i, "{id} in shard {i}");
        }
        assert_eq!(scenes.num_rows() as u64, s.scenes);
    }
    let report = verify(&out).unwrap();
    assert!(report.is_whole(), "{:?}", report.problems);
    assert_eq!((report.inputs, report.errors), (4, 1));
    merge(&out).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let tables: Vec<&str> = m["tables"].as_array().unwrap().iter().map(|t| t[0].as_str().unwrap()).collect();
    assert_eq!(tables, ["scenes", "recommendations", "soundtrack", "errors", "cues"]);
    assert_eq!(m["totals"]["inputs"], 4);

    // A finished shard run again does nothing; a shard's table lost is found.
    let again = run_with(inputs, &out, shard(0), &Silent);
    assert!(again.already_complete);
    assert_eq!(again.scenes, first.scenes);
    std::fs::remove_file(out.join("shard-00001-of-00002/scenes.parquet")).unwrap();
    let report = verify(&out).unwrap();
    assert!(report.problems.iter().any(|p| p.contains("scenes.parquet cannot be read")), "{:?}", report.problems);
}
