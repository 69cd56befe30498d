//! Learning from feedback: reading and checking feedback tables (every bad
//! row named by its line), the fits' behaviour on synthetic users whose
//! preferences are known (feedback helps them, random feedback changes
//! nothing significant), the profile file, and `pixtape learn` and
//! `--profile` end to end.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Rng, read_parquet};
use pixtape::catalog::{self, CatalogOptions};
use pixtape::engine::colour::ColourFeatures;
use pixtape::engine::model::{FEATURE_DIM, NUM_CLASSES, softmax};
use pixtape::engine::mood::{self, Weights, head::MoodHead};
use pixtape::learn::feedback::{self, Feedback, Response};
use pixtape::learn::simulate::{self, Gives, User};
use pixtape::learn::{Profile, Run, RunImage, fit};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn err(path: &Path) -> String {
    feedback::read(path).unwrap_err().to_string()
}

#[test]
fn feedback_tables_are_read_by_kind_and_bad_rows_are_named_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ratings = write(d, "r.csv", "image_id,valence,arousal,labels\na.jpg,7,2,\"calm, water\"\nb.jpg,3,8,\n");
    match feedback::read(&ratings).unwrap() {
        Feedback::Ratings(r) => {
            assert_eq!(r.len(), 2);
            assert_eq!((r[0].valence, r[0].arousal), (7.0, 2.0));
            let calm = mood::dim("calm").unwrap();
            assert_eq!(r[0].labels.as_deref(), Some(&[calm, mood::dim("water").unwrap()][..]));
            assert_eq!(r[1].labels.as_deref(), Some(&[][..]));
        }
        other => panic!("{other:?}"),
    }
    let reactions = write(d, "x.tsv", "image_id\ttrack_id\tliked\na.jpg\tt1\tyes\na.jpg\tt2\t0\n");
    match feedback::read(&reactions).unwrap() {
        Feedback::Reactions(r) => {
            assert_eq!(r[0].response, Response::Liked(true));
            assert_eq!(r[1].response, Response::Liked(false));
            assert_eq!(r[1].track_id, "t2");
        }
        other => panic!("{other:?}"),
    }
    let rated = write(d, "y.json", r#"[{"image_id": "a", "track_id": "t", "rating": 4}]"#);
    assert!(
        matches!(feedback::read(&rated).unwrap(), Feedback::Reactions(r) if r[0].response == Response::Rating(4.0))
    );

    let cases = [
        ("image_id,valence,arousal\na,5,5\nb,10,5\n", "line 3", "`valence` is 10, outside 1–9"),
        ("image_id,valence,arousal\na,5,x\n", "line 2", "not a number"),
        ("image_id,valence,arousal\na,5,\n", "line 2", "`arousal` is empty"),
        ("image_id,valence,arousal,labels\na,5,5,calm|sleepy\n", "line 2", "\"sleepy\" is not a mood or theme"),
        ("image_id,track_id,liked\na,t,maybe\n", "line 2", "`liked` is \"maybe\""),
        ("image_id,track_id,rating\na,t,1\nb,t,6\n", "line 3", "outside 1–5"),
        ("image_id,track_id\na,t\n", "", "a `liked` or a `rating` column"),
        ("image_id,score\na,1\n", "", "not feedback"),
    ];
    for (i, (text, line, message)) in cases.iter().enumerate() {
        let e = err(&write(d, &format!("bad{i}.csv"), text));
        assert!(e.contains(line) && e.contains(message), "case {i}: {e}");
    }
}

/// A run of `n` synthetic images: random pooled features, peaked class
/// probabilities, random colour; moods through the bundled head, exactly as
/// the pipeline computes them.
fn synthetic_run(n: usize, seed: u64) -> Run {
    let head = MoodHead::embedded().unwrap();
    let mut rng = Rng(seed);
    let images = (0..n)
        .map(|i| {
            let features: Vec<f32> = (0..FEATURE_DIM).map(|_| (rng.f32() + 0.6).max(0.0) * 1.5).collect();
            let mut logits = rng.vec(NUM_CLASSES, 2.0);
            for _ in 0..3 {
                let c = (rng.next_u64() % NUM_CLASSES as u64) as usize;
                logits[c] += 8.0 + 4.0 * rng.f32();
            }
            softmax(&mut logits);
            let semantic = mood::semantic(&logits);
            let colour = ColourFeatures {
                brightness: 0.45 + 0.2 * rng.f32(),
                contrast: 0.22 + 0.06 * rng.f32(),
                saturation: 0.4 + 0.2 * rng.f32(),
                warmth: 0.2 * rng.f32(),
                colourfulness: 40.0 + 25.0 * rng.f32(),
                ..ColourFeatures::default()
            };
            let prior = mood::image_mood_from(&semantic, &colour);
            // Cues spread over the range photos have (models/README.md), so
            // the head sees no picture unlike any it was fitted on.
            let spread = [
                (0.1, 0.25),
                (0.03, 0.07),
                (0.3, 0.5),
                (0.0, 0.5),
                (0.0, 1.0),
                (0.1, 0.1),
                (0.0, 0.08),
                (0.0, 0.4),
                (0.0, 0.1),
            ];
            let cues = spread.map(|(lo, width)| lo + width * (rng.f32() + 1.0) / 2.0);
            let mut image = RunImage {
                id: format!("img{i:04}.jpg"),
                colour,
                cues,
                faces: [0.0; 9],
                mood: prior,
                features,
                semantic,
                prior,
            };
            image.mood = simulate::mood_with(head, &image);
            image
        })
        .collect();
    Run::from_images(images)
}

#[test]
fn synthetic_users_gain_from_their_feedback_and_random_feedback_changes_nothing_significant() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.csv");
    catalog::synth::write(&path, 3000, 7).unwrap();
    let options = CatalogOptions::new(&path);
    let cat = catalog::load(&options).unwrap();
    let catalog_for = |w: Weights| catalog::load(&CatalogOptions { weights: w, ..options.clone() });
    let run = synthetic_run(160, 99);
    let users = [
        User { tastes: vec![("jazz", 0.3), ("metal", -0.3)], ..User::new("jazz, not metal", Gives::Reactions) },
        User { arousal_shift: -0.5, ..User::new("calmer", Gives::Ratings) },
    ];
    for user in &users {
        let r = simulate::replicate(&run, &cat, &catalog_for, user, 20, 5, 5).unwrap();
        println!("{r:?}");
        assert!(r.held_out_images >= 20, "{r:?}");
        let (gain, _) = r.change(&r.after);
        let (noise, t) = r.change(&r.random);
        // Every draw of the user's feedback helps.
        assert!(r.after.iter().all(|a| *a > r.ndcg_before + 0.05), "{}: no gain: {r:?}", user.name);
        // Random feedback: no change that the draws tell from zero (t with
        // 4 degrees of freedom, two-sided 5 %: 2.78), and small beside the gain.
        assert!(t.abs() < 2.78 && noise.abs() < 0.2 * gain, "{}: random feedback moved NDCG: {r:?}", user.name);
    }
}

#[test]
fn learning_refuses_unknown_ids_and_too_few_rows_naming_the_row() {
    let run = synthetic_run(30, 3);
    let head = MoodHead::embedded().unwrap();
    let rating = |id: &str, line: usize| feedback::ImageRating {
        image_id: id.into(),
        valence: 5.0,
        arousal: 3.0,
        labels: None,
        locator: format!("f.csv:{line}"),
    };
    let mut ratings: Vec<_> = run.images.iter().take(12).enumerate().map(|(i, m)| rating(&m.id, i + 2)).collect();
    assert!(fit::fit_head(head, &run, &ratings).is_ok());
    ratings[4] = rating("nowhere.jpg", 6);
    let e = fit::fit_head(head, &run, &ratings).unwrap_err().to_string();
    assert!(e.contains("f.csv:6") && e.contains("\"nowhere.jpg\" is not in the run"), "{e}");
    let e = fit::fit_head(head, &run, &ratings[..4]).unwrap_err().to_string();
    assert!(e.contains("too few"), "{e}");
}

#[test]
fn a_learned_head_moves_moods_the_way_the_ratings_say() {
    let run = synthetic_run(120, 11);
    let head = MoodHead::embedded().unwrap();
    // Someone who rates every picture three points calmer than pixtape reads it.
    let ratings: Vec<_> = run
        .images
        .iter()
        .map(|m| feedback::ImageRating {
            image_id: m.id.clone(),
            valence: (5.0 + 4.0 * m.mood[0]).clamp(1.0, 9.0),
            arousal: (5.0 + 4.0 * m.mood[1] - 3.0).clamp(1.0, 9.0),
            labels: None,
            locator: String::new(),
        })
        .collect();
    let (adjusted, line) = fit::fit_head(head, &run, &ratings).unwrap();
    assert!(line.contains("held out"), "{line}");
    let mean = |h: &MoodHead, d: usize| {
        run.images.iter().map(|m| simulate::mood_with(h, m)[d] as f64).sum::<f64>() / run.images.len() as f64
    };
    let (a0, a1) = (mean(head, 1), mean(&adjusted, 1));
    let (v0, v1) = (mean(head, 0), mean(&adjusted, 0));
    assert!(a1 < a0 - 0.4, "arousal {a0:.3} → {a1:.3}");
    assert!((v1 - v0).abs() < 0.1, "valence {v0:.3} → {v1:.3}");
}

#[test]
fn profiles_round_trip_and_refuse_other_files() {
    let mut p = Profile::neutral().unwrap();
    let mut db = vec![0.0; 24];
    db[1] = -0.25;
    p.head = p.head.adjusted(&vec![0.0; mood::head::INPUTS * 24], &db);
    p.weights = Some(Weights { affect: 0.5, moods: 0.2, styles: 0.25, themes: 0.05 });
    p.style_bias[7] = 0.2;
    p.info.held_out.push("a line".into());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.safetensors");
    p.save(&path).unwrap();
    let (q, report) = Profile::load(&path).unwrap();
    assert_eq!(q.head, p.head);
    assert_eq!(q.weights, p.weights);
    assert_eq!(q.style_bias, p.style_bias);
    assert_eq!(q.info, p.info);
    assert!(report.adjusted_mood_head);
    assert_eq!(report.sha256.len(), 64);
    // The style shift adds the bias times the track's style share.
    let shift = q.query_shift(&q.weights.unwrap()).unwrap();
    assert!((shift[7] - 0.2 / 0.25f32.sqrt()).abs() < 1e-6);
    let e = Profile::load(Path::new("models/mood/imagenet_mood.tsv")).unwrap_err().to_string();
    assert!(e.contains("not a pixtape profile"), "{e}");
}

fn pixtape(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pixtape")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn floats(batch: &arrow_array::RecordBatch, name: &str) -> Vec<f32> {
    use arrow_array::cast::AsArray;
    batch.column_by_name(name).unwrap().as_primitive::<arrow_array::types::Float32Type>().values().to_vec()
}

#[test]
fn learn_and_profile_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = d.join("run");
    let o = pixtape(&["recommend", "--features", "--device", "cpu", "-q", "--out", run.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let images = read_parquet(&run.join("images.parquet"));
    let ids: Vec<String> = common::strings(&images, "image_id").into_iter().flatten().collect();
    let arousal = floats(&images, "arousal");
    // `pixtape learn` on this run.
    let learn = |feedback: &[&Path], out: &Path| {
        let mut args = vec!["learn", "--run", run.to_str().unwrap()];
        for f in feedback {
            args.extend(["--feedback", f.to_str().unwrap()]);
        }
        args.extend(["--out", out.to_str().unwrap()]);
        pixtape(&args)
    };

    // Image ratings: two SAM points calmer than pixtape reads each photo.
    let mut text = String::from("image_id,valence,arousal\n");
    for (id, a) in ids.iter().zip(&arousal) {
        text += &format!("{id},6,{:.0}\n", (5.0 + 4.0 * a - 2.0).clamp(1.0, 9.0));
    }
    let ratings = write(d, "ratings.csv", &text);
    let profile = d.join("calm.safetensors");
    let o = learn(&[&ratings], &profile);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("arousal bias -") && stderr.contains("held out"), "{stderr}");

    // Reactions: every third pick liked (any rule will do: the profile must
    // record weights and preferences).
    let recs = read_parquet(&run.join("recommendations.parquet"));
    let (rid, tid) = (common::strings(&recs, "image_id"), common::strings(&recs, "track_id"));
    let mut text = String::from("image_id,track_id,liked\n");
    for (i, (a, b)) in rid.iter().zip(&tid).enumerate() {
        text += &format!("{},{},{}\n", a.as_deref().unwrap(), b.as_deref().unwrap(), i % 3 == 0);
    }
    let reactions = write(d, "reactions.csv", &text);
    let both = d.join("both.safetensors");
    let o = learn(&[&ratings, &reactions], &both);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));

    let after = d.join("after");
    let o = pixtape(&[
        "recommend",
        "--device",
        "cpu",
        "-q",
        "--profile",
        both.to_str().unwrap(),
        "--out",
        after.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let calmer = floats(&read_parquet(&after.join("images.parquet")), "arousal");
    let mean = |x: &[f32]| x.iter().sum::<f32>() / x.len() as f32;
    assert!(mean(&calmer) < mean(&arousal) - 0.2, "{arousal:?} → {calmer:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(after.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["profile"]["adjusted_mood_head"], true);
    assert_eq!(manifest["profile"]["fitted_on"].as_array().unwrap().len(), 2);
    let (p, _) = Profile::load(&both).unwrap();
    let w = p.weights.unwrap();
    assert!((manifest["recommend"]["weights"]["affect"].as_f64().unwrap() - w.affect as f64).abs() < 1e-6);
    assert_eq!(manifest["recommend"]["style_preferences"].as_array().unwrap().len(), 13);

    // Feedback about images the run never saw is refused, with its line.
    let stranger = write(d, "stranger.csv", "image_id,valence,arousal\nzebra.jpg,5,5\n");
    let o = learn(&[&stranger], &d.join("no.safetensors"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stranger.csv:2"), "{stderr}");
    assert!(!d.join("no.safetensors").exists());
}
