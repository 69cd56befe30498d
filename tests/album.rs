//! Album playlists and collapsed versions: an album whose mood rises from
//! calm to energetic gets a playlist whose arousal follows it in small
//! steps, with no track, song or over-capped artist twice; photos are put
//! in capture-time order; versions of a song collapse to the best one.

mod common;

use pixtape::after::album::{self, AlbumSettings, MAX_AROUSAL_STEP};
use pixtape::after::finished::Image;
use pixtape::catalog::{Catalog, TrackRef};
use pixtape::engine::backend::Backend;
use pixtape::engine::mood::{self, Groups, MoodMode, MoodVector, NUM_DIMS, Weights};
use pixtape::recommend::Recommender;
use pixtape::recommend::playlist::{self, PlaylistSettings};

/// A mood at (valence, arousal) with its implied mood labels.
fn mood_at(v: f32, a: f32) -> MoodVector {
    let mut m = [0.0f32; NUM_DIMS];
    m[0] = v;
    m[1] = a;
    m[2..14].copy_from_slice(&mood::moods_from_affect(v, a));
    m
}

/// 800 tracks over the whole plane, 4 per artist, tempo rising with
/// arousal; every 40th song also comes as a live, a remastered and a
/// "feat." version of the same mood.
fn catalog() -> Catalog {
    let mut cat = Catalog::new(Weights::default());
    let groups = Groups::NONE.with(mood::Group::Affect).with(mood::Group::Moods);
    let mut rng = common::Rng(11);
    for i in 0..800 {
        let (v, a) = (rng.f32(), rng.f32());
        let title = format!("Song {i}");
        let artist = format!("Artist {}", i / 4);
        let tempo = 75.0 + 60.0 * (a + 1.0) + 5.0 * rng.f32();
        let mut push = |title: &str, id: String| {
            let t = TrackRef {
                id: &id,
                title,
                artist: &artist,
                descriptor: "",
                location: "",
                genre: "",
                year: None,
                tempo: Some(tempo),
            };
            cat.push(t, &mood_at(v, a), groups);
        };
        push(&title, format!("t{i}"));
        if i % 40 == 0 {
            for (k, suffix) in [" (Live)", " - 2011 Remaster", " feat. Somebody"].iter().enumerate() {
                push(&format!("{title}{suffix}"), format!("t{i}-v{k}"));
            }
        }
    }
    cat
}

fn image(id: &str, m: MoodVector) -> Image {
    Image {
        id: id.into(),
        path: format!("/nonexistent/{id}"),
        width: 640,
        height: 480,
        top: vec![],
        brightness: 0.5,
        contrast: 0.2,
        saturation: 0.3,
        warmth: 0.0,
        colourfulness: 30.0,
        palette: vec![],
        mood: m,
        mood_label: mood::top_mood(&m).into(),
        mood_labels: vec![],
        styles: vec![],
        themes: vec![],
    }
}

fn pearson(x: &[f32], y: &[f32]) -> f32 {
    let n = x.len() as f32;
    let (mx, my) = (x.iter().sum::<f32>() / n, y.iter().sum::<f32>() / n);
    let cov: f32 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sx: f32 = x.iter().map(|a| (a - mx).powi(2)).sum::<f32>().sqrt();
    let sy: f32 = y.iter().map(|b| (b - my).powi(2)).sum::<f32>().sqrt();
    cov / (sx * sy)
}

#[test]
fn the_playlist_follows_an_album_from_calm_to_energetic_in_small_steps() {
    let cat = catalog();
    let backend = Backend::cpu();
    let rec = Recommender::new(&backend, &cat, MoodMode::Match, PlaylistSettings::default()).unwrap();
    // Twelve photos, named out of order so that name order is what sorts them.
    let images: Vec<Image> = (0..12)
        .rev()
        .map(|k| image(&format!("img{}.jpg", k + 1), mood_at(0.3, -0.8 + 1.6 * k as f32 / 11.0)))
        .collect();
    let a = album::build(&images, &rec, &AlbumSettings { length: 30 }).unwrap();
    assert_eq!(a.ordered_by, "name");
    assert_eq!(a.photos.first().unwrap().id, "img1.jpg");
    assert_eq!(a.photos.last().unwrap().id, "img12.jpg");
    assert_eq!(a.tracks.len(), 30);

    let arousal: Vec<f32> = a.tracks.iter().map(|t| t.arousal.expect("every track has an arousal")).collect();
    let position: Vec<f32> = (0..arousal.len()).map(|p| p as f32).collect();
    let r = pearson(&position, &arousal);
    assert!(r >= 0.9, "arousal follows the album: r = {r}, {arousal:?}");
    assert!(arousal[..5].iter().all(|&x| x < -0.3), "it starts calm: {arousal:?}");
    assert!(arousal[25..].iter().all(|&x| x > 0.3), "it ends energetic: {arousal:?}");
    for w in arousal.windows(2) {
        assert!((w[1] - w[0]).abs() <= MAX_AROUSAL_STEP + 1e-6, "a step of {} in {arousal:?}", w[1] - w[0]);
    }
    // Tempo changes gradually too: no neighbour more than 25 % faster or slower.
    let tempo: Vec<f32> = a.tracks.iter().map(|t| t.tempo.unwrap()).collect();
    for w in tempo.windows(2) {
        assert!((w[1] / w[0]).ln().abs() <= 0.25f32.ln_1p(), "a tempo step {} → {} in {tempo:?}", w[0], w[1]);
    }
    // No track, no song and no artist past the cap, across the whole album.
    let mut ids: Vec<&str> = a.tracks.iter().map(|t| t.track_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);
    let mut songs: Vec<String> =
        a.tracks.iter().map(|t| pixtape::recommend::versions::version(&t.title, &t.artist).unwrap().key).collect();
    songs.sort();
    songs.dedup();
    assert_eq!(songs.len(), 30, "one version per song");
    let mut per_artist = std::collections::HashMap::new();
    for t in &a.tracks {
        *per_artist.entry(&t.artist).or_insert(0) += 1;
    }
    assert!(per_artist.values().all(|&n| n <= 2), "{per_artist:?}");
    // Each stretch of the playlist serves its photos, in album order.
    let order: Vec<usize> =
        a.tracks.iter().map(|t| a.photos.iter().position(|p| p.id == t.photos[0]).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    assert!(a.tracks[0].photos.contains(&"img1.jpg".to_string()));
    assert!(a.tracks[29].photos.contains(&"img12.jpg".to_string()));
    let served: std::collections::HashSet<&String> = a.tracks.iter().flat_map(|t| &t.photos).collect();
    assert_eq!(served.len(), 12, "every photo is served");
}

/// Inserts an EXIF block (IFD0 with DateTime) after a JPEG's SOI marker.
fn with_capture_time(jpeg: &[u8], when: &str) -> Vec<u8> {
    assert_eq!(when.len(), 19);
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(1u16.to_le_bytes()); // one entry
    tiff.extend(0x0132u16.to_le_bytes()); // DateTime
    tiff.extend(2u16.to_le_bytes()); // ASCII
    tiff.extend(20u32.to_le_bytes());
    tiff.extend(26u32.to_le_bytes()); // value offset: after this IFD
    tiff.extend(0u32.to_le_bytes()); // no next IFD
    tiff.extend(when.as_bytes());
    tiff.push(0);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

#[test]
fn photos_go_in_capture_time_order_then_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = common::photo("cat.jpg");
    let write = |name: &str, when: Option<&str>| {
        let p = dir.path().join(name);
        std::fs::write(&p, when.map_or(jpeg.clone(), |w| with_capture_time(&jpeg, w))).unwrap();
        let mut im = image(name, mood_at(0.0, 0.0));
        im.path = p.to_string_lossy().into_owned();
        im
    };
    let images = vec![
        write("a.jpg", Some("2024:07:03 09:00:00")),
        write("b.jpg", None),
        write("m.jpg", Some("2024:07:02 18:30:00")),
        write("z.jpg", Some("2024:07:01 10:00:00")),
        write("c10.jpg", None),
        write("c9.jpg", None),
    ];
    assert_eq!(album::capture_time(std::path::Path::new(&images[0].path)).as_deref(), Some("2024:07:03 09:00:00"));
    let (photos, by) = album::order(&images);
    let ids: Vec<&str> = photos.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["z.jpg", "m.jpg", "a.jpg", "b.jpg", "c9.jpg", "c10.jpg"]);
    assert_eq!(by, "capture time, then name");
}

#[test]
fn versions_of_a_song_collapse_to_the_best_scoring_one() {
    let cat = catalog();
    let backend = Backend::cpu();
    let rec = Recommender::new(&backend, &cat, MoodMode::Match, PlaylistSettings::default()).unwrap();
    // Song 0 has three extra versions of its mood: query right at it.
    let i0 = (0..cat.len()).find(|&i| cat.track(i).id == "t0").unwrap();
    let v = cat.matrix().vector(i0);
    let (val, aro) = (0.5 * v[0] / v[mood::ANCHOR], 0.5 * v[1] / v[mood::ANCHOR]);
    let m = mood_at(val, aro);
    let q = rec.query(&m).vector;
    let hits = pixtape::engine::similarity::top_k(&[q], cat.matrix(), 200);
    // Titles are "Song N" and its versions: only song 0's start so.
    let versions: Vec<&pixtape::engine::similarity::Hit> =
        hits[0].iter().filter(|h| cat.track(h.track as usize).title.starts_with("Song 0")).collect();
    assert_eq!(versions.len(), 4, "all four versions are candidates");
    let s = PlaylistSettings { length: 10, per_artist: 0, relevance: 1.0, hub_penalty: 0.0, max_exposure: 0 };
    let picks = playlist::build(&q, &m, "why", &hits[0], &cat, &s, None);
    let of_song: Vec<_> = picks.iter().filter(|p| versions.iter().any(|h| h.track == p.track)).collect();
    assert_eq!(of_song.len(), 1, "one version of the song: {picks:?}");
    assert_eq!(of_song[0].track, versions[0].track, "the best-scoring version is kept");
    assert!(of_song[0].explanation.contains("best-scoring of 4 versions"), "{}", of_song[0].explanation);
    // Without collapsing there would have been room for all four.
    assert_eq!(picks.len(), 10);
}
