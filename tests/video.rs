//! Videos to soundtracks: clips made with FFmpeg here (stills with hard cuts
//! at known times, fades, a clip shorter than a scene, broken files) are
//! cut where they were made, each scene gets a playlist, the soundtrack
//! repeats no track, and the cue sheets parse. The detector is also
//! checked on frames made in memory, which needs no FFmpeg.
//!
//! The clips need `ffmpeg`; without it those tests are skipped, unless
//! PIXTAPE_REQUIRE_FFMPEG=1 (CI), which makes its absence a failure.

mod common;

use common::video::{demo_catalog, ffmpeg, have_ffmpeg, photo_clip};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type};
use pixtape::engine::backend::Backend;
use pixtape::engine::mood::MoodMode;
use pixtape::recommend::Recommender;
use pixtape::recommend::playlist::PlaylistSettings;
use pixtape::run::Silent;
use pixtape::video::decode::Frame;
use pixtape::video::read::Sampling;
use pixtape::video::scenes::{CutKind, CutSettings, Detector};
use pixtape::video::{self, VideoSettings, VideoSummary};

/// One sampled frame (0.25 s) is how close a cut must be found.
const TOLERANCE: f64 = 0.25;

/// Moving test patterns (a scrolling test card, a zooming fractal, bars,
/// a game of life), 4 s each, hard cuts at 4, 8 and 12 s.
fn pattern_clip(dir: &Path) -> PathBuf {
    let dest = dir.join("patterns.mkv");
    let sources = [
        "testsrc2=s=480x270:r=25:d=4",
        "mandelbrot=s=480x270:r=25,trim=duration=4",
        "smptehdbars=s=480x270:r=25:d=4",
        "life=s=480x270:r=25:mold=10:ratio=0.3:life_color=#ffcc00,trim=duration=4",
    ];
    let mut args: Vec<&str> = Vec::new();
    for s in &sources {
        args.extend(["-f", "lavfi", "-i", s]);
    }
    let graph = "[0]setsar=1,setpts=PTS-STARTPTS[a];[1]setsar=1,setpts=PTS-STARTPTS[b];\
                 [2]setsar=1,setpts=PTS-STARTPTS[c];[3]setsar=1,format=rgb24,setpts=PTS-STARTPTS[d];\
                 [a][b][c][d]concat=n=4:v=1,format=yuv420p";
    let out = dest.to_string_lossy().into_owned();
    args.extend(["-filter_complex", graph, "-c:v", "libx264", "-preset", "veryfast", &out]);
    ffmpeg(&args);
    dest
}

/// Runs `pixtape::video::run` on the CPU into `out`.
fn run(inputs: Vec<PathBuf>, out: &Path, sampling: Sampling) -> VideoSummary {
    let backend = Backend::cpu();
    let model = backend.model(Some(8)).unwrap();
    let catalog = demo_catalog();
    let settings = PlaylistSettings { length: 10, ..PlaylistSettings::default() };
    let recommender = Recommender::new(&backend, &catalog, MoodMode::Match, settings).unwrap();
    let limits = pixtape::engine::decode::DecodeLimits::default();
    let settings = VideoSettings { sampling, limits, report: true, ..VideoSettings::new(inputs, out) };
    video::run(&settings, &model, &recommender, &Silent).unwrap()
}

/// (video_id, start_s) of every scene in `scenes.parquet`.
fn scene_starts(out: &Path) -> Vec<(String, f64)> {
    let b = common::read_parquet(&out.join("scenes.parquet"));
    let ids = common::strings(&b, "video_id");
    let starts = b.column_by_name("start_s").unwrap().as_primitive::<Float64Type>().values().to_vec();
    ids.into_iter().map(Option::unwrap).zip(starts).collect()
}

fn starts_of(out: &Path, id: &str) -> Vec<f64> {
    scene_starts(out).into_iter().filter(|(v, _)| v == id).map(|(_, s)| s).collect()
}

fn assert_cuts(found: &[f64], expected: &[f64]) {
    assert_eq!(found.len(), expected.len(), "scenes start at {found:?}, expected {expected:?}");
    for (f, e) in found.iter().zip(expected) {
        assert!((f - e).abs() <= TOLERANCE, "a scene starts at {f}, expected {e} (all: {found:?})");
    }
}

#[test]
fn hard_cuts_fades_and_a_short_clip_are_cut_where_they_were_made() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let four = ["bee_flower.jpg", "night_bridge.jpg", "orchestra.jpg", "sunset_bay.jpg"];
    let stills = photo_clip(dir.path(), "stills.mp4", &four, 4.0, false);
    let fades = photo_clip(dir.path(), "fades.mp4", &four[..3], 4.0, true);
    let patterns = pattern_clip(dir.path());
    let short = photo_clip(dir.path(), "short.mp4", &four[..2], 0.3, false);
    let out = dir.path().join("out");
    let summary = run(vec![stills, fades, patterns, short], &out, Sampling::default());
    assert_eq!((summary.videos, summary.failed), (4, 0));
    assert_cuts(&starts_of(&out, "stills.mp4"), &[0.0, 4.0, 8.0, 12.0]);
    assert_cuts(&starts_of(&out, "fades.mp4"), &[0.0, 4.0, 8.0]);
    assert_cuts(&starts_of(&out, "patterns.mkv"), &[0.0, 4.0, 8.0, 12.0]);
    // 0.6 s with a cut in it, under the 1 s minimum: one scene.
    assert_cuts(&starts_of(&out, "short.mp4"), &[0.0]);

    let b = common::read_parquet(&out.join("scenes.parquet"));
    let cut = common::strings(&b, "cut");
    let ids = common::strings(&b, "video_id");
    let fade_cuts =
        ids.iter().zip(&cut).filter(|(v, c)| v.as_deref() == Some("fades.mp4") && c.as_deref() == Some("fade"));
    assert_eq!(fade_cuts.count(), 2, "{cut:?}");
    let end = b.column_by_name("end_s").unwrap().as_primitive::<Float64Type>().values().to_vec();
    let tc = common::strings(&b, "start_tc");
    let frames = b.column_by_name("start_frame").unwrap().as_primitive::<arrow_array::types::UInt64Type>();
    for i in 1..b.num_rows() {
        if ids[i].as_deref() == Some("stills.mp4") && ids[i - 1] == ids[i] {
            // Scenes tile the video: each starts where the one before ends.
            let start = b.column_by_name("start_s").unwrap().as_primitive::<Float64Type>().value(i);
            assert_eq!(start, end[i - 1]);
            assert_eq!(frames.value(i), (start * 25.0).round() as u64);
            let ms = (start * 1000.0).round() as u64;
            assert_eq!(tc[i].as_deref(), Some(format!("00:00:{:02}.{:03}", ms / 1000, ms % 1000).as_str()));
        }
    }
    let keyframes = b.column_by_name("keyframe_times").unwrap().as_list::<i32>();
    let starts = b.column_by_name("start_s").unwrap().as_primitive::<Float64Type>();
    for (i, &end) in end.iter().enumerate() {
        let k = keyframes.value(i);
        let k = k.as_primitive::<Float64Type>();
        assert!(!k.is_empty() && k.len() <= 3);
        assert!(k.values().iter().all(|&t| t >= starts.value(i) && t < end), "keyframes {k:?} of row {i}");
    }
}

#[test]
fn every_scene_has_a_playlist_and_the_soundtrack_repeats_nothing() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let photos = ["bee_flower.jpg", "night_bridge.jpg", "orchestra.jpg", "sunset_bay.jpg", "cat.jpg", "rocket.jpg"];
    let clip = photo_clip(dir.path(), "six.mp4", &photos, 2.0, false);
    let out = dir.path().join("out");
    let summary = run(vec![clip], &out, Sampling::default());
    assert_eq!(summary.scenes, 6);

    let scenes = common::read_parquet(&out.join("scenes.parquet"));
    let image_ids: Vec<String> = common::strings(&scenes, "image_id").into_iter().map(Option::unwrap).collect();
    assert_eq!(image_ids[3], "six.mp4#003");
    let recs = common::read_parquet(&out.join("recommendations.parquet"));
    let rec_ids: Vec<String> = common::strings(&recs, "image_id").into_iter().map(Option::unwrap).collect();
    for id in &image_ids {
        assert_eq!(rec_ids.iter().filter(|r| *r == id).count(), 10, "playlist of {id}");
    }

    let track = common::read_parquet(&out.join("soundtrack.parquet"));
    let tracks: Vec<String> = common::strings(&track, "track_id").into_iter().map(Option::unwrap).collect();
    assert_eq!(tracks.len(), 6);
    assert_eq!(tracks.iter().collect::<HashSet<_>>().len(), 6, "a track twice: {tracks:?}");
    let order = track.column_by_name("scene").unwrap().as_primitive::<UInt32Type>().values().to_vec();
    assert_eq!(order, [0, 1, 2, 3, 4, 5]);
    let why = common::strings(&track, "explanation");
    assert!(why[2].as_deref().unwrap().starts_with("scene 2 00:00:04.000–00:00:06.000"), "{why:?}");

    // The CSV cue sheet: a header and one row per cue, times in order.
    let mut csv = csv::Reader::from_path(out.join("cues.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, ["video_id", "scene", "in", "out", "track_id", "title", "artist", "location"]);
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    assert_eq!((&rows[1][2], &rows[1][3]), ("00:00:02.000", "00:00:04.000"));
    assert_eq!(rows.iter().map(|r| r[4].to_string()).collect::<Vec<_>>(), tracks);

    let edl = std::fs::read_to_string(out.join("cues/six.mp4.edl")).unwrap();
    let events = parse_edl(&edl, 25);
    assert_eq!(events.len(), 6);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.number, i + 1);
        assert_eq!(e.record_in, 50 * i as u64);
        assert_eq!(e.record_out, 50 * (i as u64 + 1));
        assert!(e.music.contains(&format!("[{}]", tracks[i])), "{}", e.music);
    }

    // The report: a strip of six scenes, each with its keyframe, times and
    // the soundtrack's track.
    let html = std::fs::read_to_string(summary.report.as_ref().unwrap()).unwrap();
    assert_eq!(html.matches("<article class=\"scene\">").count(), 6);
    assert_eq!(html.matches("src=\"data:image/jpeg;base64,").count(), 6);
    assert!(html.contains("00:00:04.000 – 00:00:06.000"));
    let titles = common::strings(&track, "title");
    for t in titles.iter().flatten() {
        assert!(html.contains(&pixtape::after::export::escape(t)), "{t} in the report");
    }
    assert!(!html.contains("<script"));

    // The manifest, written last, says what was read and written.
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["command"], "video");
    assert_eq!(m["inputs"], serde_json::json!(["six.mp4"]));
    assert_eq!((m["counts"]["scenes"].as_u64(), m["counts"]["cues"].as_u64()), (Some(6), Some(6)));
    assert_eq!(m["outputs"]["edls"], serde_json::json!(["cues/six.mp4.edl"]));
    assert_eq!(m["outputs"]["report"], "report.html");
    assert_eq!(m["sampling"]["frames_per_second"].as_f64(), Some(4.0));
}

/// One event of a CMX3600 EDL, times in frames.
struct Event {
    number: usize,
    record_in: u64,
    record_out: u64,
    music: String,
}

/// Reads a CMX3600 EDL strictly: a title, the frame-code mode, then events
/// (number, reel, channel, transition, four timecodes; source equal to
/// record, each record in at the previous out) with their comment lines.
fn parse_edl(text: &str, fps: u64) -> Vec<Event> {
    let frames = |tc: &str| {
        let p: Vec<u64> = tc.split(':').map(|x| x.parse().unwrap()).collect();
        assert!(p.len() == 4 && p[1] < 60 && p[2] < 60 && p[3] < fps, "timecode {tc}");
        ((p[0] * 60 + p[1]) * 60 + p[2]) * fps + p[3]
    };
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("TITLE: "));
    assert_eq!(lines.next().unwrap(), "FCM: NON-DROP FRAME");
    let mut events: Vec<Event> = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix("* ") {
            let e = events.last_mut().expect("a comment before any event");
            if let Some(m) = comment.strip_prefix("MUSIC: ") {
                e.music = m.to_string();
            }
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 8, "event line {line:?}");
        assert!(f[0].len() == 3 && f[0].chars().all(|c| c.is_ascii_digit()));
        assert_eq!((f[1], f[2], f[3]), ("AX", "V", "C"));
        let (src_in, src_out, rec_in, rec_out) = (frames(f[4]), frames(f[5]), frames(f[6]), frames(f[7]));
        assert_eq!((src_in, src_out), (rec_in, rec_out));
        assert!(rec_out > rec_in);
        if let Some(prev) = events.last() {
            assert_eq!(rec_in, prev.record_out);
        }
        events.push(Event {
            number: f[0].parse().unwrap(),
            record_in: rec_in,
            record_out: rec_out,
            music: String::new(),
        });
    }
    events
}

#[test]
fn broken_videos_become_errors_and_the_run_goes_on() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let good = photo_clip(dir.path(), "good.mp4", &["cat.jpg", "rocket.jpg"], 2.0, false);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let noise = dir.path().join("noise.mp4");
    let mut rng = common::Rng(5);
    std::fs::write(&noise, (0..50_000).map(|_| (rng.f32() * 127.0 + 128.0) as u8).collect::<Vec<u8>>()).unwrap();
    let empty = dir.path().join("empty.webm");
    std::fs::write(&empty, b"").unwrap();
    let out = dir.path().join("out");
    let summary = run(vec![truncated, good, noise, empty], &out, Sampling::default());
    assert_eq!((summary.videos, summary.failed), (4, 3));
    assert_eq!(starts_of(&out, "good.mp4").len(), 2);
    let errors = common::read_parquet(&out.join("errors.parquet"));
    let failed: Vec<String> = common::strings(&errors, "image_id").into_iter().map(Option::unwrap).collect();
    assert_eq!(failed, ["truncated.mp4", "noise.mp4", "empty.webm"]);
    let reasons = common::strings(&errors, "reason");
    assert!(reasons[2].as_deref().unwrap().contains("empty"), "{reasons:?}");
    assert!(reasons.iter().all(|r| !r.as_deref().unwrap().is_empty()));
    // The report shows the film that was read and lists the others.
    let html = std::fs::read_to_string(summary.report.as_ref().unwrap()).unwrap();
    assert_eq!(html.matches("<article class=\"scene\">").count(), 2);
    assert_eq!(html.matches("class=\"failed-video\"").count(), 3);
}

#[test]
fn the_command_cuts_four_photos_and_says_what_to_install_without_ffmpeg() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let four = ["coffee.jpg", "night_festival.jpg", "citrus.jpg", "night_gateway.jpg"];
    let clip = photo_clip(dir.path(), "four.mp4", &four, 4.0, false);
    let out = dir.path().join("out");
    let bin = env!("CARGO_BIN_EXE_pixtape");
    let args = |out: &Path| {
        let v: Vec<String> = ["video", &clip.to_string_lossy(), "--out", &out.to_string_lossy(), "--device", "cpu"]
            .map(String::from)
            .to_vec();
        v
    };
    let done = Command::new(bin).args(args(&out)).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let starts = starts_of(&out, "four.mp4");
    assert_eq!(starts.len(), 4);
    for (s, e) in starts.iter().zip([0.0, 4.0, 8.0, 12.0]) {
        assert!((s - e).abs() <= 0.2, "{starts:?}");
    }
    for f in ["recommendations.parquet", "soundtrack.parquet", "cues.csv", "cues/four.mp4.edl", "errors.parquet"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let missing = Command::new(bin).args(args(&dir.path().join("out2"))).env("PATH", "").output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(said.contains("install FFmpeg") && said.contains("apt-get install ffmpeg"), "{said}");
}

/// A frame of `w x h` pixels from `f(x, y)`.
fn frame(index: u64, w: usize, h: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> Frame {
    let rgb = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).flat_map(|(x, y)| f(x, y)).collect();
    Frame { index, time: index as f64 / 4.0, width: w, height: h, rgb }
}

#[test]
fn the_detector_cuts_changes_of_shot_not_pans_or_flashes() {
    let mut d = Detector::new(CutSettings::default(), 4.0);
    let mut cuts = Vec::new();
    // 0..20: a striped pattern panning 2 px a frame; 20..40: another hue,
    // panning; 40: a one-frame white flash; 41..60 back; 60..64 fade to
    // black, 64..68 black, 68..72 in from black onto blue, then blue to 90.
    for i in 0..90u64 {
        let f = frame(i, 96, 54, |x, y| {
            let stripe = ((x + 2 * i as usize) / 8 % 2) as u8;
            match i {
                0..20 => [200, 60 + 120 * stripe, 40],
                40 => [255, 255, 255],
                20..60 => [40, 90, 160 + 80 * stripe],
                60..64 => {
                    let k = (64 - i) as f32 / 4.0;
                    [(40.0 * k) as u8, (90.0 * k) as u8, (200.0 * k) as u8]
                }
                64..68 => [0, 0, 0],
                68..72 => [0, 0, ((i - 67) * 50) as u8],
                _ => [20, 30, 200 + ((x + y) % 2) as u8 * 40],
            }
        });
        cuts.extend(d.push(&f));
    }
    cuts.extend(d.finish());
    let found: Vec<(u64, CutKind)> = cuts.iter().map(|c| (c.frame, c.kind)).collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0], (20, CutKind::Hard));
    assert_eq!(found[1].1, CutKind::Fade);
    assert!((65..=67).contains(&found[1].0), "{found:?}");
}
