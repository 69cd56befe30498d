//! What runs after the playlists: playlist files that validate, coverage
//! and the hub counter, the album on the command line, and the HTML report
//! (escaping, and a real browser rendering it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use pixtape::after::coverage;
use pixtape::catalog::{self, CatalogOptions};
use pixtape::engine::backend::Backend;
use pixtape::engine::mood::MoodMode;
use pixtape::recommend::Recommender;
use pixtape::recommend::playlist::PlaylistSettings;

fn pixtape(args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_pixtape"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.code() == Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

/// A small catalog whose names need escaping in every format, with
/// locations of each kind (absolute path with spaces and accents, URL,
/// relative path, none).
fn tricky_catalog(dir: &Path) -> PathBuf {
    let p = dir.join("tricky.csv");
    let mut s = String::from("track_id,title,artist,valence,arousal,location\n");
    let rows = [
        ("x1", "<script>alert(1)</script>", "Evil & Sons", 0.8, 0.6, "/music/Évian & co/01 track.mp3"),
        ("x2", "Quote \"this\"", "O'Brien", 0.7, -0.5, "https://example.org/a%20b.mp3?x=1&y=2"),
        ("x3", "Plain", "Someone", -0.5, 0.5, "albums/plain.flac"),
        ("x4", "No location", "Nobody", -0.6, -0.6, ""),
        ("x5", "Ünïcödé ☀", "Ärtist", 0.1, 0.1, "/abs/ünï.ogg"),
    ];
    for (id, t, a, v, ar, loc) in rows {
        let q = |x: &str| format!("\"{}\"", x.replace('"', "\"\""));
        s.push_str(&format!("{id},{},{},{v},{ar},{}\n", q(t), q(a), q(loc)));
    }
    std::fs::write(&p, s).unwrap();
    p
}

/// A folder with two bundled photos, one named to break out of HTML.
fn tricky_photos(dir: &Path) -> PathBuf {
    let p = dir.join("photos");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("cat.jpg"), common::photo("cat.jpg")).unwrap();
    std::fs::write(p.join("\"><img src=x onerror=alert(1)>.jpg"), common::photo("sunset_bay.jpg")).unwrap();
    p
}

/// `recommend` on the tricky photos and catalog, five picks each, with
/// `extra` flags; returns the output folder.
fn tricky_run(dir: &Path, extra: &[&str]) -> PathBuf {
    let (cat, photos, out) = (tricky_catalog(dir), tricky_photos(dir), dir.join("out"));
    let mut args: Vec<&str> = vec!["recommend", "--device", "cpu", "-q", "--top-k", "5", "--per-artist", "0"];
    for (flag, p) in [("--images", &photos), ("--catalog", &cat), ("--out", &out)] {
        args.extend([flag, p.to_str().unwrap()]);
    }
    args.extend(extra);
    pixtape(&args);
    out
}

#[test]
fn exported_playlists_follow_their_formats() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--album", "--album-length", "4", "--export", "m3u8,xspf,jspf", "--audio-root", "/srv/audio"];
    let out = tricky_run(dir.path(), &extra);
    let lists = out.join("playlists");
    let mut names: Vec<String> =
        std::fs::read_dir(&lists).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names.len(), 9, "(2 images + album) × 3 formats: {names:?}");
    assert!(names.iter().all(|n| !n.contains(['<', '>', '"'])), "{names:?}");

    let titles = ["<script>alert(1)</script>", "Quote \"this\"", "Plain", "No location", "Ünïcödé ☀"];
    for name in names.iter().filter(|n| n.ends_with(".m3u8")) {
        let text = std::fs::read_to_string(lists.join(name)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#EXTM3U");
        let entries: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with("#EXTINF:")).collect();
        assert!(!entries.is_empty());
        for i in entries {
            // "#EXTINF:duration,name", then the location on its own line.
            let (dur, _) = lines[i]["#EXTINF:".len()..].split_once(',').unwrap();
            assert!(dur.parse::<i64>().is_ok(), "{}", lines[i]);
            let loc = lines[i + 1];
            assert!(!loc.is_empty() && !loc.starts_with('#'), "{name}: {loc}");
            assert!(
                ["/music/", "https://", "/srv/audio/albums/plain.flac", "x4", "/abs/"]
                    .iter()
                    .any(|p| loc.starts_with(p)),
                "{name}: {loc}"
            );
        }
    }
    for name in names.iter().filter(|n| n.ends_with(".xspf")) {
        let text = std::fs::read_to_string(lists.join(name)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "playlist");
        assert_eq!(root.tag_name().namespace(), Some("http://xspf.org/ns/0/"));
        assert_eq!(root.attribute("version"), Some("1"));
        let list = root.children().find(|n| n.has_tag_name("trackList")).expect("trackList");
        let tracks: Vec<_> = list.children().filter(|n| n.is_element()).collect();
        assert!(!tracks.is_empty());
        for t in tracks {
            assert!(t.has_tag_name("track"));
            let text_of = |tag: &str| t.children().find(|n| n.has_tag_name(tag)).and_then(|n| n.text());
            assert!(titles.contains(&text_of("title").unwrap()), "titles come back exactly");
            let id = text_of("identifier").unwrap();
            assert!(id.starts_with("urn:pixtape:track:x"), "{id}");
            if let Some(loc) = text_of("location") {
                // A URI: no spaces or raw non-ASCII.
                assert!(loc.is_ascii() && !loc.contains(' '), "{loc}");
                assert!(loc.starts_with("file:///") || loc.starts_with("https://"), "{loc}");
            } else {
                assert_eq!(text_of("title"), Some("No location"));
            }
            // Elements in the order XSPF defines: location, identifier, title, creator, annotation.
            let order: Vec<&str> = t.children().filter(|n| n.is_element()).map(|n| n.tag_name().name()).collect();
            let rank =
                |n: &str| ["location", "identifier", "title", "creator", "annotation"].iter().position(|x| *x == n);
            assert!(order.windows(2).all(|w| rank(w[0]) < rank(w[1])), "{order:?}");
        }
    }
    for name in names.iter().filter(|n| n.ends_with(".jspf")) {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(lists.join(name)).unwrap()).unwrap();
        let pl = v["playlist"].as_object().expect("a playlist object");
        assert!(pl["title"].is_string());
        for t in pl["track"].as_array().unwrap() {
            assert!(titles.contains(&t["title"].as_str().unwrap()));
            assert!(t["identifier"].as_array().unwrap().iter().all(|i| i.is_string()));
            if let Some(l) = t.get("location") {
                let l = l.as_array().expect("location is an array of URIs");
                assert!(l.iter().all(|u| u.as_str().is_some_and(|u| u.is_ascii() && !u.contains(' '))));
            }
        }
    }
    // The album's file lists the album's tracks, in order.
    let album = std::fs::read_to_string(lists.join("_album.m3u8")).unwrap();
    assert_eq!(album.lines().filter(|l| l.starts_with("#EXTINF")).count(), 4);
}

#[test]
fn the_report_escapes_every_name_and_holds_every_picture_and_pick() {
    let dir = tempfile::tempdir().unwrap();
    let out = tricky_run(dir.path(), &["--report"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script"), "no script of any kind");
    assert!(!html.contains("<img src=x"), "the file name stays text");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.jpg"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("url(http"),
        "nothing is fetched"
    );
    assert_eq!(html.matches("class=\"thumb\"").count(), 2);
    assert_eq!(html.matches("class=\"pick\"").count(), 10);
    // `pixtape report` rewrites the same file from the folder alone.
    std::fs::remove_file(out.join("report.html")).unwrap();
    pixtape(&["report", out.to_str().unwrap()]);
    let again = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(again.matches("class=\"pick\"").count(), 10);
    assert!(again.contains("Coverage and bias"));
}

/// Faces are boxed on their thumbnails and listed with their expressions:
/// one box per face of `faces.parquet` that shows in the centre crop, and a
/// line per card with faces.
#[test]
fn the_report_draws_the_faces_of_faces_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let (cat, out) = (tricky_catalog(dir.path()), dir.path().join("out"));
    let faces = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/faces");
    let (faces, cat, dest) = (faces.to_str().unwrap(), cat.to_str().unwrap(), out.to_str().unwrap());
    pixtape(&["recommend", "--device", "cpu", "-q", "--images", faces, "--catalog", cat, "--out", dest, "--report"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let table = common::read_parquet(&out.join("faces.parquet"));
    let boxes = html.matches("class=\"face\"").count();
    assert!(boxes >= 5 && boxes <= table.num_rows(), "{boxes} boxes for {} faces", table.num_rows());
    assert!(html.contains("3 faces: happy"), "the laughing friends' card lists their faces");
    assert!(html.contains(&format!("<b>{}</b><span>faces found</span>", table.num_rows())));
    // Without faces: no boxes and no faces line.
    let plain = dir.path().join("plain");
    let plain = plain.to_str().unwrap();
    let args =
        ["recommend", "--device", "cpu", "-q", "--faces", "off", "--report", "--images", faces, "--catalog", cat];
    pixtape(&[&args[..], &["--out", plain]].concat());
    let html = std::fs::read_to_string(Path::new(plain).join("report.html")).unwrap();
    assert_eq!(html.matches("class=\"face\"").count(), 0);
    assert!(!html.contains("faces found"));
}

/// Headless Chromium renders the bundled default's report: the screenshot
/// is not blank and the DOM holds a thumbnail per picture and a row per
/// pick. Skipped without Chromium unless PIXTAPE_REQUIRE_CHROMIUM=1 (CI).
#[test]
fn the_bundled_report_renders_in_a_real_browser() {
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    let Some(browser) = browser else {
        assert!(
            std::env::var("PIXTAPE_REQUIRE_CHROMIUM").is_err(),
            "PIXTAPE_REQUIRE_CHROMIUM is set but there is no Chromium"
        );
        eprintln!("skipped: no Chromium here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    pixtape(&["recommend", "--device", "cpu", "-q", "--album", "--report", "--out", out.to_str().unwrap()]);
    let url = format!("file://{}", out.join("report.html").display());
    let profile = dir.path().join("profile");
    let chrome = |extra: &[&str]| {
        let o = Command::new(browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(o.status.success(), "{browser}: {}", String::from_utf8_lossy(&o.stderr));
        o
    };
    let dom = String::from_utf8(chrome(&["--dump-dom"]).stdout).unwrap();
    assert_eq!(dom.matches("class=\"thumb\"").count(), 10, "a thumbnail per bundled photo");
    assert_eq!(dom.matches("class=\"pick\"").count(), 200, "20 picks for each of 10 photos");
    assert_eq!(dom.matches("class=\"album-track\"").count(), 30);
    let shot = dir.path().join("shot.png");
    chrome(&["--window-size=1280,1600", &format!("--screenshot={}", shot.display())]);
    let img = image::open(&shot).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (1280, 1600));
    // Not blank: many distinct colours, and no single colour covers most of it.
    let mut counts = std::collections::HashMap::new();
    for p in img.pixels() {
        *counts.entry([p[0] >> 3, p[1] >> 3, p[2] >> 3]).or_insert(0u32) += 1;
    }
    let top = counts.values().max().copied().unwrap_or(0) as f64 / (1280.0 * 1600.0);
    assert!(counts.len() > 200 && top < 0.8, "{} colours, the commonest covers {top:.2}", counts.len());
}

#[test]
fn coverage_counts_exposure_over_the_whole_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let cat = catalog::load(&CatalogOptions::new(tricky_catalog(dir.path()))).unwrap();
    let pick = |image: &str, track: &str| pixtape::after::finished::Pick {
        image_id: image.into(),
        track_id: track.into(),
        score: 0.5,
        ..Default::default()
    };
    let picks =
        [pick("a", "x1"), pick("a", "x2"), pick("b", "x1"), pick("b", "x3"), pick("c", "x1"), pick("c", "nope")];
    let c = coverage::measure(&picks, &cat);
    assert_eq!((c.catalog_tracks, c.playlists, c.picks, c.distinct_tracks, c.unknown_tracks), (5, 3, 6, 3, 1));
    assert!((c.track_coverage - 0.6).abs() < 1e-12);
    // Exposure 3, 1, 1, 0, 0 over five tracks.
    assert!((c.gini_tracks - coverage::gini(&mut [3, 1, 1, 0, 0])).abs() < 1e-12);
    assert_eq!(c.hubs[0].track_id, "x1");
    assert!((c.hubs[0].share_of_playlists - 1.0).abs() < 1e-12);
    assert!((c.mean_score - 0.5).abs() < 1e-12);
    let shares: f64 = c.styles.iter().map(|r| r.catalog).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    assert!(c.eras.is_none() && c.tempo_bands.is_none() && c.genres.is_none(), "no years, tempi or genres");
}

#[test]
fn the_hub_counter_spreads_picks_over_more_of_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.csv");
    catalog::synth::write(&path, 20_000, 3).unwrap();
    let cat = catalog::load(&CatalogOptions::new(&path)).unwrap();
    assert!(cat.track(0).year.is_some() && cat.track(0).tempo.is_some(), "synth carries years and tempi");
    let backend = Backend::cpu();
    // Picture-like moods: mixtures of two ImageNet classes' moods.
    let table = pixtape::engine::mood::class_table();
    let mut rng = common::Rng(5);
    let mut class = || ((rng.f32() + 1.0) * 500.0) as usize % 1000;
    let moods: Vec<pixtape::engine::mood::MoodVector> = (0..300)
        .map(|_| {
            let (a, b) = (class(), class());
            std::array::from_fn(|d| 0.7 * table[a][d] + 0.3 * table[b][d])
        })
        .collect();
    let measure = |beta: f32| {
        let s = PlaylistSettings { hub_penalty: beta, ..Default::default() };
        let rec = Recommender::new(&backend, &cat, MoodMode::Match, s).unwrap();
        let mut picks = Vec::new();
        for (k, m) in moods.iter().enumerate() {
            let q = rec.query(m).vector;
            let hits = rec.matcher().top_k(&[q], s.candidates()).unwrap();
            for p in pixtape::recommend::playlist::build(&q, m, "", &hits[0], &cat, &s, rec.hubness()) {
                picks.push(pixtape::after::finished::Pick {
                    image_id: k.to_string(),
                    track_id: cat.track(p.track as usize).id.into(),
                    score: p.score,
                    ..Default::default()
                });
            }
        }
        coverage::measure(&picks, &cat)
    };
    let (off, on) = (measure(0.0), measure(0.05));
    assert!(on.distinct_tracks > off.distinct_tracks, "{} vs {}", on.distinct_tracks, off.distinct_tracks);
    assert!(on.gini_tracks < off.gini_tracks, "{} vs {}", on.gini_tracks, off.gini_tracks);
    assert!(on.hubs[0].picks < off.hubs[0].picks, "{} vs {}", on.hubs[0].picks, off.hubs[0].picks);
    assert!(on.mean_score > off.mean_score - 0.05, "the picks stay relevant: {} vs {}", on.mean_score, off.mean_score);
    assert!(off.eras.is_some() && off.tempo_bands.is_some());
    // The synthetic catalog names a genre per track: the mix covers them all.
    let genres = off.genres.as_ref().expect("a genre mix");
    assert!((genres.iter().map(|r| r.catalog).sum::<f64>() - 1.0).abs() < 1e-9);
    assert!((genres.iter().map(|r| r.recommended).sum::<f64>() - 1.0).abs() < 1e-9);
}

#[test]
fn recommend_album_prints_one_playlist_for_the_bundled_photos() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = pixtape(&["recommend", "--device", "cpu", "-q", "--album", "--out", out.to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("album: 30 tracks for 10 photos"), "{text}");
    assert_eq!(text.lines().filter(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit())).count(), 30);
    let t = common::read_parquet(&out.join("album.parquet"));
    assert_eq!(t.num_rows(), 30);
    assert_eq!(t.schema(), pixtape::run::output::album_schema());
}

#[test]
fn an_exposure_cap_bounds_every_track_and_keeps_playlists_full() {
    let dir = tempfile::tempdir().unwrap();
    let run = |cap: &str| {
        let out = dir.path().join(format!("cap-{cap}"));
        pixtape(&["recommend", "--device", "cpu", "-q", "--max-exposure", cap, "--out", out.to_str().unwrap()]);
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("coverage.json")).unwrap()).unwrap();
        let r = common::read_parquet(&out.join("recommendations.parquet"));
        (c, r.num_rows())
    };
    let (free, rows_free) = run("0");
    let (capped, rows_capped) = run("2");
    assert_eq!((rows_free, rows_capped), (200, 200), "every playlist keeps its 20 tracks");
    assert!(free["hubs"][0]["picks"].as_u64().unwrap() > 2, "the bundled run has hubs to cap");
    assert_eq!(capped["hubs"][0]["picks"].as_u64(), Some(2));
    assert!(capped["distinct_tracks"].as_u64() > free["distinct_tracks"].as_u64());
}
