//! From photos to playlists: the seed scenarios on real photos, the mood
//! modes, playlist rules, and the recommendations table read back.

mod common;

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type};
use common::{Rng, photos_dir, read_parquet, strings};
use pixtape::catalog::{self, Catalog, CatalogOptions};
use pixtape::engine::analysis::Analysis;
use pixtape::engine::backend::Backend;
use pixtape::engine::decode::{DecodeLimits, Decoder};
use pixtape::engine::model::{CROP_BYTES, ModelOutput};
use pixtape::engine::mood::{self, MoodMode, MoodVector, Weights, head::MoodHead};
use pixtape::recommend::Recommender;
use pixtape::recommend::playlist::{self, PlaylistSettings};
use pixtape::run::{self, AnalyzeSettings, Silent};

/// A test catalog of clear-cut tracks, six per family.
fn test_catalog(dir: &Path) -> Catalog {
    let families: [(&str, &str, &str); 6] = [
        ("calm", "ambient|calm|peaceful|slow|water", "Drift"),
        ("acoustic", "acoustic guitar|soft|relaxing|folk|nature", "Fireside"),
        ("club", "techno|energetic|party|night|club", "Pulse"),
        ("street", "hip hop|urban|night|groovy|confident", "Block"),
        ("metal", "heavy metal|aggressive|dark|powerful", "Anvil"),
        ("pomp", "orchestral|epic|triumphant|majestic", "Crown"),
    ];
    let mut csv = String::from("track_id,title,artist,tags,bpm\n");
    for (f, tags, title) in families {
        for i in 0..6 {
            let bpm = match f {
                "calm" | "acoustic" => 62 + 4 * i,
                "pomp" => 100 + 4 * i,
                _ => 124 + 5 * i,
            };
            csv += &format!("{f}-{i},{title} {i},{f} artist {},{tags},{bpm}\n", i / 2);
        }
    }
    let path = dir.join("families.csv");
    std::fs::write(&path, csv).unwrap();
    catalog::load(&CatalogOptions::new(path)).unwrap()
}

/// One bundled photo analysed as the pipeline does it.
fn analysis(name: &str) -> Analysis {
    let backend = Backend::cpu();
    let model = backend.model(Some(1)).unwrap();
    let mut crop = vec![0u8; CROP_BYTES];
    let info = Decoder::new(DecodeLimits::default()).decode_file(&photos_dir().join(name), &mut crop).unwrap();
    let mut out = ModelOutput::default();
    model.engine.forward(&crop, 1, &mut out).unwrap();
    Analysis::new(&model.head, info, &out, 0, &mut Vec::new())
}

/// A bundled photo's mood.
fn analyse(name: &str) -> MoodVector {
    analysis(name).mood
}

fn playlist_for(name: &str, cat: &Catalog, mode: MoodMode, settings: &PlaylistSettings) -> Vec<String> {
    let a = analysis(name);
    let backend = Backend::cpu();
    let r = Recommender::new(&backend, cat, mode, *settings).unwrap();
    r.playlist(&a).unwrap().iter().map(|p| cat.track(p.track as usize).id.to_string()).collect()
}

fn family(id: &str) -> &str {
    id.split('-').next().unwrap()
}

fn v(m: &MoodVector, d: &str) -> f32 {
    m[mood::dim(d).unwrap()]
}

#[test]
fn beach_at_sunset_is_calm_and_gets_soft_acoustic_or_ambient_music() {
    let m = analyse("sunset_bay.jpg");
    assert!(v(&m, "valence") > 0.1 && v(&m, "arousal") < 0.0, "pleasant and calm: {:?}", &m[..2]);
    let top = MoodHead::embedded().unwrap().top_mood(&m);
    assert!(["calm", "dreamy", "romantic"].contains(&top), "{top}");
    // A summer evening: the themes the rated set gives this photo
    // (`models/ratings`, p049: summer, urban), not night or winter.
    let themes: Vec<&str> = mood::ranked(&m, mood::Group::Themes).iter().take(3).map(|t| t.0).collect();
    assert!(themes[0] == "summer" && v(&m, "night") < 0.2 && v(&m, "winter") < 0.2, "{:?}", &m[27..37]);
    let ranked = mood::ranked(&m, mood::Group::Styles);
    assert!(["ambient", "acoustic"].contains(&ranked[0].0), "{ranked:?}");

    let cat = test_catalog(tempfile::tempdir().unwrap().path());
    let list =
        playlist_for("sunset_bay.jpg", &cat, MoodMode::Match, &PlaylistSettings { length: 6, ..Default::default() });
    let soft = list.iter().filter(|id| ["calm", "acoustic"].contains(&family(id))).count();
    assert!(soft >= 5, "sunset playlist: {list:?}");
    assert!(["calm", "acoustic"].contains(&family(&list[0])));
}

#[test]
fn city_at_night_is_urban_and_lively_and_gets_electronic_or_hiphop() {
    let sunset = analyse("sunset_bay.jpg");
    let cat = test_catalog(tempfile::tempdir().unwrap().path());
    for photo in ["night_bridge.jpg", "night_gateway.jpg"] {
        let m = analyse(photo);
        assert!(
            v(&m, "night") > 0.3 && v(&m, "urban") > 0.3,
            "{photo}: night/urban {:.2}/{:.2}",
            v(&m, "night"),
            v(&m, "urban")
        );
        if photo == "night_bridge.jpg" {
            // Lit streets and bridges at night read livelier than a beach at sunset.
            assert!(v(&m, "arousal") > v(&sunset, "arousal") + 0.1, "{photo} livelier than the beach");
        }
        let styles: Vec<&str> = mood::ranked(&m, mood::Group::Styles).iter().take(2).map(|s| s.0).collect();
        assert!(styles.iter().any(|s| ["electronic", "hiphop"].contains(s)), "{photo}: {styles:?}");
        let list = playlist_for(photo, &cat, MoodMode::Match, &PlaylistSettings { length: 6, ..Default::default() });
        let urban = list.iter().filter(|id| ["club", "street"].contains(&family(id))).count();
        assert!(["club", "street"].contains(&family(&list[0])), "{photo} playlist: {list:?}");
        // The floodlit monument with strollers is calmer than the lit bridge,
        // so half its playlist may be soft; the bridge's is mostly urban.
        let want = if photo == "night_bridge.jpg" { 4 } else { 3 };
        assert!(urban >= want, "{photo} playlist: {list:?}");
    }
    // The festival at night is the liveliest of the bundled photos.
    let fest = analyse("night_festival.jpg");
    assert!(v(&fest, "arousal") > 0.3 && v(&fest, "party") > 0.5, "{:?}", &fest[..2]);
    assert_eq!(MoodHead::embedded().unwrap().top_mood(&fest), "energetic");
}

#[test]
fn mood_modes_move_the_query() {
    let m = analyse("night_festival.jpg");
    let up = MoodMode::Uplift.apply(&m);
    let calm = MoodMode::Calm.apply(&m);
    assert!(up[0] > m[0] && v(&up, "happy") > v(&m, "happy") && v(&up, "tense") <= v(&m, "tense"));
    assert!(calm[1] < m[1] && v(&calm, "calm") > v(&m, "calm") && v(&calm, "energetic") < v(&m, "energetic"));
    assert_eq!(MoodMode::Match.apply(&m), m);
    let cat = test_catalog(tempfile::tempdir().unwrap().path());
    let s = PlaylistSettings { length: 6, ..Default::default() };
    let calm_list = playlist_for("night_festival.jpg", &cat, MoodMode::Calm, &s);
    let match_list = playlist_for("night_festival.jpg", &cat, MoodMode::Match, &s);
    let quiet = |l: &[String]| l.iter().filter(|id| ["calm", "acoustic"].contains(&family(id))).count();
    assert!(quiet(&calm_list) > quiet(&match_list), "calm {calm_list:?} vs match {match_list:?}");
}

#[test]
fn playlists_respect_the_artist_cap_and_diversify() {
    let cat = test_catalog(tempfile::tempdir().unwrap().path());
    let capped = playlist_for(
        "sunset_bay.jpg",
        &cat,
        MoodMode::Match,
        &PlaylistSettings { length: 12, per_artist: 1, relevance: 1.0, hub_penalty: 0.0, max_exposure: 0 },
    );
    let mut artists: Vec<&str> = capped.iter().map(|id| cat.track(cat_index(&cat, id)).artist).collect();
    let n = artists.len();
    artists.sort();
    artists.dedup();
    assert_eq!(artists.len(), n, "one track per artist: {capped:?}");
    // λ = 1 is pure relevance: the playlist is the top of the ranking.
    let sunset = analysis("sunset_bay.jpg");
    let m = sunset.mood;
    let backend = Backend::cpu();
    let r = Recommender::new(&backend, &cat, MoodMode::Match, PlaylistSettings::default()).unwrap();
    let q = r.query(&m).vector;
    let hits = pixtape::engine::similarity::top_k(&[q], cat.matrix(), 200);
    let pure = playlist::build(
        &q,
        &m,
        "why",
        &hits[0],
        &cat,
        &PlaylistSettings { length: 5, per_artist: 0, relevance: 1.0, hub_penalty: 0.0, max_exposure: 0 },
        None,
    );
    assert_eq!(
        pure.iter().map(|p| p.track).collect::<Vec<_>>(),
        hits[0][..5].iter().map(|h| h.track).collect::<Vec<_>>()
    );
    // A low λ spreads over more families than pure relevance.
    let diverse = playlist::build(
        &q,
        &m,
        "why",
        &hits[0],
        &cat,
        &PlaylistSettings { length: 5, per_artist: 0, relevance: 0.3, hub_penalty: 0.0, max_exposure: 0 },
        None,
    );
    let fams = |p: &[playlist::Pick]| {
        let mut f: Vec<&str> = p.iter().map(|x| family(cat.track(x.track as usize).id)).collect();
        f.sort();
        f.dedup();
        f.len()
    };
    assert!(fams(&diverse) >= fams(&pure), "diverse {} vs pure {}", fams(&diverse), fams(&pure));
    for p in &pure {
        assert!(!p.contributions.is_empty() && p.explanation.contains(" ↔ "), "{}", p.explanation);
    }
    // Through the recommender, each reason opens with what drove the mood:
    // the light, what the model sees and the top mood.
    let picks = r.playlist(&sunset).unwrap();
    let why = &picks[0].explanation;
    let score = sunset.mood[mood::dim(sunset.label).unwrap()];
    let drivers = playlist::mood_drivers(&sunset.info.colour, "seashore", None, sunset.label, score);
    assert!(why.starts_with(&format!("{drivers} · ")), "{why}");
    assert!(why.contains("seashore → calm"), "{why}");
}

fn cat_index(cat: &Catalog, id: &str) -> usize {
    (0..cat.len()).find(|&i| cat.track(i).id == id).unwrap()
}

#[test]
fn recommend_writes_every_table_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cat = test_catalog(dir.path());
    let backend = Backend::cpu();
    let rec = Recommender::new(&backend, &cat, MoodMode::Match, PlaylistSettings { length: 4, ..Default::default() })
        .unwrap();
    let out = dir.path().join("out");
    let settings = AnalyzeSettings::new(photos_dir(), &out);
    let summary = run::run(&settings, &backend.model(Some(4)).unwrap(), Some(&rec), &Silent).unwrap();
    assert_eq!(summary.counts.recommendations, 40);

    let r = read_parquet(&out.join("recommendations.parquet"));
    assert_eq!(r.schema(), pixtape::run::output::recommendations_schema());
    assert_eq!(r.num_rows(), 40);
    let ids = strings(&r, "image_id");
    let ranks = r.column_by_name("rank").unwrap().as_primitive::<UInt16Type>().values().to_vec();
    assert_eq!(&ranks[..4], &[1, 2, 3, 4]);
    assert!(ids[..4].iter().all(|i| i.as_deref() == Some("bee_flower.jpg")));
    let scores = r.column_by_name("score").unwrap().as_primitive::<Float32Type>().values().to_vec();
    assert!(scores.iter().all(|s| (-1.0..=1.0).contains(s)));
    for (col, n) in [("track_id", 40), ("title", 40), ("artist", 40), ("explanation", 40)] {
        assert_eq!(strings(&r, col).iter().filter(|s| s.as_deref().is_some_and(|s| !s.is_empty())).count(), n, "{col}");
    }
    let dims = r.column_by_name("dimensions").unwrap().as_list::<i32>().clone();
    let contribs = r.column_by_name("contributions").unwrap().as_list::<i32>().clone();
    for i in 0..40 {
        let d = dims.value(i);
        assert!((1..=3).contains(&d.len()));
        assert_eq!(d.len(), contribs.value(i).len());
        assert!(d.as_string::<i32>().iter().all(|n| mood::dim(n.unwrap()).is_some()));
    }

    let images = read_parquet(&out.join("images.parquet"));
    let labels = strings(&images, "mood_label");
    assert!(labels.iter().all(|l| mood::dim(l.as_deref().unwrap()).is_some_and(|d| (2..14).contains(&d))));
    let vectors = images.column_by_name("mood_vector").unwrap().as_list::<i32>().clone();
    assert!((0..images.num_rows()).all(|i| vectors.value(i).len() == mood::NUM_DIMS));
    let valence = images.column_by_name("valence").unwrap().as_primitive::<Float32Type>().values().to_vec();
    assert_eq!(valence[0], vectors.value(0).as_primitive::<Float32Type>().value(0));

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["command"], "recommend");
    let c = &manifest["recommend"]["catalog"];
    assert_eq!(c["tracks"], 36);
    assert_eq!(c["sha256"].as_str().unwrap().len(), 64);
    assert!(c["columns"].as_array().unwrap().iter().any(|p| p[0] == "tags"));
    assert_eq!(manifest["recommend"]["mood_mode"], "match");
    let affect = manifest["recommend"]["weights"]["affect"].as_f64().unwrap();
    assert!((affect - Weights::default().affect as f64).abs() < 1e-6, "{affect}");
    assert_eq!(manifest["mood_space"]["dimensions"].as_array().unwrap().len(), mood::NUM_DIMS);
    assert_eq!(manifest["outputs"]["recommendations"], "recommendations.parquet");
}

#[test]
fn derived_tables_match_the_mood_space() {
    // Parsing asserts each table's header equals the Rust dimension order.
    let m = analyse("coffee.jpg");
    assert!(m.iter().all(|x| x.is_finite()));
    for (i, (name, def)) in mood::DEFINITIONS.iter().enumerate() {
        assert_eq!(*name, mood::DIM_NAMES[i]);
        assert!(!def.is_empty());
    }
    let header = include_str!("../models/mood/imagenet_mood.tsv")
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .skip(1)
        .collect::<Vec<_>>();
    assert_eq!(header, mood::DIM_NAMES);
    let py = include_str!("../models/mood_space.py");
    for name in mood::DIM_NAMES.iter().skip(2) {
        assert!(py.contains(&format!("\"{name}\":")), "{name} missing from models/mood_space.py");
    }
}

#[test]
fn queries_take_their_weights_from_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("families.csv");
    test_catalog(dir.path());
    let w = Weights { affect: 0.1, moods: 0.6, styles: 0.05, themes: 0.25 };
    let cat = catalog::load(&CatalogOptions { weights: w, ..CatalogOptions::new(&path) }).unwrap();
    assert_eq!(cat.weights(), w);
    let backend = Backend::cpu();
    let r = Recommender::new(&backend, &cat, MoodMode::Uplift, PlaylistSettings::default()).unwrap();
    // The recommender has no weights of its own: the query is built with the
    // very weights the track vectors were.
    assert_eq!(r.weights(), w);
    let m = analyse("coffee.jpg");
    let target = MoodMode::Uplift.apply(&m);
    assert_eq!(r.query(&m).vector, mood::sim_vector(&target, mood::Groups::ALL, &w, false));
    assert_ne!(r.query(&m).vector, mood::sim_vector(&target, mood::Groups::ALL, &Weights::default(), false));
    // Weights that cannot weigh anything are refused when the catalog loads.
    let zero = Weights { affect: 0.0, moods: 0.0, styles: 0.0, themes: 0.0 };
    let err = catalog::load(&CatalogOptions { weights: zero, ..CatalogOptions::new(&path) }).unwrap_err();
    assert!(err.to_string().starts_with("weights:"), "{err}");
}

/// cos(a, b), 0 when either is all zeros.
fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let (na, nb) = (a.iter().map(|x| x * x).sum::<f64>().sqrt(), b.iter().map(|x| x * x).sum::<f64>().sqrt());
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}

/// The README's similarity, written from its definition and nothing of the
/// library's: Σ_g W_g · cos(q_g, t_g) / Σ_g W_g, affect compared as
/// (valence, arousal, 0.5).
fn weighted_group_cosine(image: &[f32], track: &[f32], w: [f64; 4]) -> f64 {
    let groups = [0..2, 2..14, 14..27, 27..37];
    let mut total = 0.0;
    for (g, r) in groups.iter().enumerate() {
        let mut q: Vec<f64> = image[r.clone()].iter().map(|&x| x as f64).collect();
        let mut t: Vec<f64> = track[r.clone()].iter().map(|&x| x as f64).collect();
        if g == 0 {
            q.push(0.5);
            t.push(0.5);
        }
        total += w[g] * cosine(&q, &t);
    }
    total / w.iter().sum::<f64>()
}

#[test]
fn scores_equal_an_independent_weighted_cosine_with_non_default_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(71);
    let mut csv = String::from("track_id,title,artist,embedding\n");
    let mut embeddings = std::collections::HashMap::new();
    for i in 0..300 {
        let e: Vec<f32> =
            (0..mood::NUM_DIMS).map(|d| if d < 2 { rng.f32() } else { (rng.f32() + 1.0) / 2.0 }).collect();
        let text: Vec<String> = e.iter().map(|x| format!("{x}")).collect();
        csv += &format!("t{i},Track {i},Artist {},{}\n", i % 50, text.join("|"));
        embeddings.insert(format!("t{i}"), e);
    }
    let cat = dir.path().join("embedded.csv");
    std::fs::write(&cat, csv).unwrap();
    let out = dir.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pixtape"))
        .args(["recommend", "--device", "cpu", "--quiet", "--top-k", "8", "--per-artist", "0"])
        .args(["--weights", "affect=0.05,moods=0.15,styles=0.6,themes=0.2"])
        .arg("--catalog")
        .arg(&cat)
        .arg("--out")
        .arg(&out)
        .arg("--images")
        .arg(photos_dir())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let images = read_parquet(&out.join("images.parquet"));
    let ids = strings(&images, "image_id");
    let vectors = images.column_by_name("mood_vector").unwrap().as_list::<i32>().clone();
    let mood_of: std::collections::HashMap<String, Vec<f32>> = (0..images.num_rows())
        .map(|i| (ids[i].clone().unwrap(), vectors.value(i).as_primitive::<Float32Type>().values().to_vec()))
        .collect();
    let recs = read_parquet(&out.join("recommendations.parquet"));
    assert_eq!(recs.num_rows(), 8 * mood_of.len());
    let (rid, tid) = (strings(&recs, "image_id"), strings(&recs, "track_id"));
    let scores = recs.column_by_name("score").unwrap().as_primitive::<Float32Type>().values().to_vec();
    let w = [0.05, 0.15, 0.6, 0.2];
    let mut worst = 0.0f64;
    for i in 0..recs.num_rows() {
        let image = &mood_of[rid[i].as_deref().unwrap()];
        let track = &embeddings[tid[i].as_deref().unwrap()];
        let want = weighted_group_cosine(image, track, w);
        worst = worst.max((scores[i] as f64 - want).abs());
    }
    // f32 vectors normalised once, against an f64 computation: 1e-5 absolute
    // on scores in [-1, 1]. The default weights would be off by ~1e-2.
    assert!(worst < 1e-5, "largest score error {worst}");
    let wrong = (0..recs.num_rows())
        .map(|i| {
            let image = &mood_of[rid[i].as_deref().unwrap()];
            let want = weighted_group_cosine(image, &embeddings[tid[i].as_deref().unwrap()], [0.35, 0.30, 0.20, 0.15]);
            (scores[i] as f64 - want).abs()
        })
        .fold(0.0, f64::max);
    assert!(wrong > 1e-3, "the test cannot tell the weights apart ({wrong})");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert!((manifest["recommend"]["weights"]["styles"].as_f64().unwrap() - 0.6).abs() < 1e-6);
}
