//! `pixtape catalog synth`: a realistic synthetic catalog for scale tests
//! and benchmarks. Tracks come from style profiles (ambient, classical,
//! electronic, hip-hop, ...) with their own tempo range, typical moods,
//! themes and valence/arousal centre; artists release several tracks in one
//! profile; every draw comes from a seeded generator, so the same arguments
//! give the same file. Written as CSV or Parquet (by extension), streamed in
//! batches, so millions of tracks need little memory.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, StringBuilder, UInt16Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::atomic::AtomicFile;
use crate::error::{Error, Result};
use crate::rng::Rng;

struct Profile {
    genres: &'static [&'static str],
    moods: &'static [&'static str],
    themes: &'static [&'static str],
    bpm: (f32, f32),
    va: (f32, f32),
    share: f32,
}

const PROFILES: &[Profile] = &[
    Profile {
        genres: &["ambient", "new age", "drone", "chillout"],
        moods: &["calm", "dreamy", "meditative", "peaceful", "ethereal"],
        themes: &["nature", "water", "night", "space"],
        bpm: (55.0, 90.0),
        va: (0.3, -0.65),
        share: 0.08,
    },
    Profile {
        genres: &["classical", "baroque", "romantic era", "chamber music", "opera"],
        moods: &["calm", "epic", "romantic", "melancholic", "dramatic", "majestic"],
        themes: &["love", "nature", "winter"],
        bpm: (50.0, 150.0),
        va: (0.2, -0.2),
        share: 0.10,
    },
    Profile {
        genres: &["house", "techno", "trance", "drum and bass", "synthpop", "edm", "electro"],
        moods: &["energetic", "euphoric", "groovy", "party", "hypnotic", "dark"],
        themes: &["night", "city", "club", "party"],
        bpm: (118.0, 175.0),
        va: (0.35, 0.7),
        share: 0.16,
    },
    Profile {
        genres: &["hip hop", "rap", "trap", "lo-fi", "g-funk"],
        moods: &["confident", "dark", "groovy", "aggressive", "chill"],
        themes: &["urban", "night", "street", "city"],
        bpm: (75.0, 150.0),
        va: (0.0, 0.45),
        share: 0.12,
    },
    Profile {
        genres: &["rock", "indie rock", "alternative", "punk", "classic rock"],
        moods: &["energetic", "powerful", "rebellious", "melancholic", "raw"],
        themes: &["road trip", "youth", "freedom"],
        bpm: (95.0, 170.0),
        va: (0.1, 0.6),
        share: 0.13,
    },
    Profile {
        genres: &["pop", "dance pop", "indie pop", "k-pop"],
        moods: &["happy", "upbeat", "catchy", "romantic", "sentimental"],
        themes: &["love", "summer", "party"],
        bpm: (90.0, 130.0),
        va: (0.6, 0.4),
        share: 0.13,
    },
    Profile {
        genres: &["jazz", "bebop", "smooth jazz", "swing", "bossa nova"],
        moods: &["smooth", "romantic", "mellow", "groovy", "playful"],
        themes: &["night", "bar", "coffee shop", "city"],
        bpm: (60.0, 200.0),
        va: (0.4, -0.1),
        share: 0.07,
    },
    Profile {
        genres: &["folk", "singer-songwriter", "country", "americana", "celtic"],
        moods: &["calm", "nostalgic", "soft", "melancholic", "hopeful"],
        themes: &["nature", "road trip", "home", "autumn"],
        bpm: (65.0, 125.0),
        va: (0.3, -0.3),
        share: 0.08,
    },
    Profile {
        genres: &["soul", "funk", "r&b", "disco", "neo soul"],
        moods: &["groovy", "sensual", "happy", "smooth"],
        themes: &["love", "party", "night"],
        bpm: (85.0, 125.0),
        va: (0.5, 0.3),
        share: 0.06,
    },
    Profile {
        genres: &["reggae", "salsa", "afrobeat", "samba", "latin"],
        moods: &["happy", "festive", "groovy", "carefree"],
        themes: &["summer", "beach", "party", "tropical"],
        bpm: (85.0, 130.0),
        va: (0.65, 0.45),
        share: 0.04,
    },
    Profile {
        genres: &["metal", "heavy metal", "death metal", "metalcore"],
        moods: &["aggressive", "dark", "powerful", "intense"],
        themes: &["night"],
        bpm: (110.0, 200.0),
        va: (-0.5, 0.85),
        share: 0.02,
    },
    Profile {
        genres: &["soundtrack", "film score", "orchestral", "video game music"],
        moods: &["epic", "dramatic", "heroic", "suspenseful", "hopeful"],
        themes: &["adventure", "film", "space"],
        bpm: (60.0, 150.0),
        va: (0.1, 0.35),
        share: 0.01,
    },
];

const WORDS: &[&str] = &[
    "Midnight", "Golden", "Silver", "Neon", "Quiet", "Broken", "Electric", "Velvet", "Summer", "Winter", "Ocean",
    "City", "River", "Paper", "Glass", "Wild", "Distant", "Hollow", "Crimson", "Blue", "Morning", "Northern", "Little",
    "Endless", "Secret", "Falling", "Rising", "Lonely", "Sweet", "Dark", "Bright", "Slow", "Heavy",
];
const NOUNS: &[&str] = &[
    "Lights",
    "Dreams",
    "Heart",
    "Road",
    "Sky",
    "Rain",
    "Fire",
    "Waves",
    "Streets",
    "Shadows",
    "Garden",
    "Echoes",
    "Horizon",
    "Lullaby",
    "Machine",
    "Signal",
    "Harbor",
    "Mirror",
    "Fields",
    "Satellite",
    "Avenue",
    "Tide",
    "Forest",
    "Motel",
    "Skyline",
    "Dance",
    "Letters",
    "Canyon",
    "Arcade",
    "Lantern",
    "Engine",
    "Ballad",
];
const FIRST: &[&str] = &[
    "Ada", "Ben", "Clara", "Dmitri", "Elena", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kira", "Luis", "Mara", "Nils",
    "Olu", "Priya", "Quinn", "Rosa", "Sami", "Tove", "Umar", "Vera", "Wen", "Yara", "Zoe",
];

struct SynthTrack {
    id: String,
    title: String,
    artist: String,
    year: u16,
    genre: &'static str,
    tags: String,
    bpm: f32,
    energy: f32,
    valence: f32,
    arousal: f32,
}

fn profile_for(r: f32) -> &'static Profile {
    let total: f32 = PROFILES.iter().map(|p| p.share).sum();
    let mut acc = 0.0;
    for p in PROFILES {
        acc += p.share / total;
        if r < acc {
            return p;
        }
    }
    &PROFILES[PROFILES.len() - 1]
}

/// Track `i` of a catalog made with `seed`; each artist owns a run of 8 tracks.
fn track(i: u64, seed: u64) -> SynthTrack {
    // The artist is a function of the block of 8 tracks, so an artist's
    // tracks share a profile and a name without any state across rows.
    let artist_no = i / 8;
    let mut ar = Rng(seed ^ artist_no.wrapping_mul(0xd1b5_4a32_d192_ed03));
    let profile = profile_for(ar.unit());
    let artist = if ar.unit() < 0.35 {
        format!("The {} {}", ar.pick(WORDS), ar.pick(NOUNS))
    } else {
        format!("{} {}{}", ar.pick(FIRST), ar.pick(NOUNS), artist_no % 97)
    };
    let genre = *ar.pick(profile.genres);
    let mut r = Rng(seed ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1));
    let n_moods = 1 + (r.next() % 3) as usize;
    let mut tags: Vec<&str> = vec![genre];
    for _ in 0..n_moods {
        let m = *r.pick(profile.moods);
        if !tags.contains(&m) {
            tags.push(m);
        }
    }
    if r.unit() < 0.6 {
        tags.push(*r.pick(profile.themes));
    }
    let bpm = profile.bpm.0 + (profile.bpm.1 - profile.bpm.0) * r.unit();
    let valence = (profile.va.0 + 0.25 * r.normal()).clamp(-1.0, 1.0);
    let arousal = (profile.va.1 + 0.2 * r.normal() + 0.2 * ((bpm - 110.0) / 60.0)).clamp(-1.0, 1.0);
    SynthTrack {
        id: format!("syn-{i:08}"),
        title: format!("{} {}", r.pick(WORDS), r.pick(NOUNS)),
        artist,
        year: 1960 + (r.next() % 65) as u16,
        genre,
        tags: tags.join("|"),
        bpm: (bpm * 10.0).round() / 10.0,
        energy: ((arousal + 1.0) / 2.0 * 0.9 + 0.1 * r.unit()).clamp(0.0, 1.0),
        valence: (valence + 1.0) / 2.0,
        arousal: (arousal + 1.0) / 2.0,
    }
}

/// Writes `n` synthetic tracks to `out` (.csv or .parquet).
pub fn write(out: &Path, n: u64, seed: u64) -> Result<()> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => write_csv(out, n, seed),
        "parquet" | "pq" => write_parquet(out, n, seed),
        _ => Err(Error::Config(format!("{}: catalog synth writes .csv or .parquet", out.display()))),
    }
}

const HEADER: [&str; 10] =
    ["track_id", "title", "artist", "year", "genre", "tags", "bpm", "energy", "valence", "arousal"];

fn write_csv(out: &Path, n: u64, seed: u64) -> Result<()> {
    let mut file = AtomicFile::create(out)?;
    {
        let buf = std::io::BufWriter::with_capacity(1 << 20, file.file());
        let mut w = csv::Writer::from_writer(buf);
        let err = |e: csv::Error| Error::output(out, e);
        w.write_record(HEADER).map_err(err)?;
        for i in 0..n {
            let t = track(i, seed);
            w.write_record([
                t.id,
                t.title,
                t.artist,
                t.year.to_string(),
                t.genre.to_string(),
                t.tags,
                format!("{:.1}", t.bpm),
                format!("{:.3}", t.energy),
                format!("{:.3}", t.valence),
                format!("{:.3}", t.arousal),
            ])
            .map_err(err)?;
        }
        let mut buf = w.into_inner().map_err(|e| Error::output(out, e.to_string()))?;
        buf.flush().map_err(|e| Error::io(out, e))?;
    }
    file.commit(None)
}

fn write_parquet(out: &Path, n: u64, seed: u64) -> Result<()> {
    let schema = Arc::new(Schema::new(
        HEADER
            .iter()
            .map(|h| {
                let t = match *h {
                    "year" => DataType::UInt16,
                    "bpm" | "energy" | "valence" | "arousal" => DataType::Float32,
                    _ => DataType::Utf8,
                };
                Field::new(*h, t, false)
            })
            .collect::<Vec<_>>(),
    ));
    let mut file = AtomicFile::create(out)?;
    let handle = file.file().try_clone().map_err(|e| Error::io(out, e))?;
    let mut w = ArrowWriter::try_new(handle, schema.clone(), None).map_err(|e| Error::output(out, e))?;
    let mut i = 0;
    while i < n {
        let end = (i + 65_536).min(n);
        let mut s: [StringBuilder; 5] = std::array::from_fn(|_| StringBuilder::new());
        let mut year = UInt16Builder::new();
        let mut f: [Float32Builder; 4] = std::array::from_fn(|_| Float32Builder::new());
        for j in i..end {
            let t = track(j, seed);
            s[0].append_value(&t.id);
            s[1].append_value(&t.title);
            s[2].append_value(&t.artist);
            s[3].append_value(t.genre);
            s[4].append_value(&t.tags);
            year.append_value(t.year);
            for (b, v) in f.iter_mut().zip([t.bpm, t.energy, t.valence, t.arousal]) {
                b.append_value(v);
            }
        }
        let [id, title, artist, genre, tags] = s.map(|mut b| Arc::new(b.finish()) as ArrayRef);
        let [bpm, energy, valence, arousal] = f.map(|mut b| Arc::new(b.finish()) as ArrayRef);
        let cols =
            vec![id, title, artist, Arc::new(year.finish()) as ArrayRef, genre, tags, bpm, energy, valence, arousal];
        let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::output(out, e))?;
        w.write(&batch).map_err(|e| Error::output(out, e))?;
        i = end;
    }
    w.close().map_err(|e| Error::output(out, e))?;
    file.commit(None)
}
