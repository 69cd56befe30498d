//! Catalog loading: every format, every mood source, and every kind of bad
//! catalog, with catalogs the tests write themselves.

use std::path::{Path, PathBuf};

use pixtape::catalog::{self, CatalogOptions, columns::Role, features::VaRange};
use pixtape::engine::mood::{self, Group};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load(path: &Path) -> catalog::Catalog {
    catalog::load(&CatalogOptions::new(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load_err(path: &Path) -> String {
    match catalog::load(&CatalogOptions::new(path)) {
        Ok(c) => panic!("{} loaded {} tracks but should fail", path.display(), c.len()),
        Err(e) => e.to_string(),
    }
}

const CSV: &str = "track_id,title,artist,valence,arousal\n\
t1,Calm One,Ann,0.8,0.1\n\
t2,Loud Two,Bob,0.7,0.95\n\
t3,Sad Three,Cid,0.1,0.2\n";

#[test]
fn every_format_gives_the_same_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "c.csv", CSV);
    let tsv = write(dir.path(), "c.tsv", &CSV.replace(',', "\t"));
    let json = write(
        dir.path(),
        "c.json",
        r#"[{"track_id":"t1","title":"Calm One","artist":"Ann","valence":0.8,"arousal":0.1},
            {"track_id":"t2","title":"Loud Two","artist":"Bob","valence":0.7,"arousal":0.95},
            {"track_id":"t3","title":"Sad Three","artist":"Cid","valence":0.1,"arousal":0.2}]"#,
    );
    let jsonl = write(
        dir.path(),
        "c.jsonl",
        "{\"track_id\":\"t1\",\"title\":\"Calm One\",\"artist\":\"Ann\",\"valence\":0.8,\"arousal\":0.1}\n\
         {\"track_id\":\"t2\",\"title\":\"Loud Two\",\"artist\":\"Bob\",\"valence\":0.7,\"arousal\":0.95}\n\n\
         {\"track_id\":\"t3\",\"title\":\"Sad Three\",\"artist\":\"Cid\",\"valence\":0.1,\"arousal\":0.2}\n",
    );
    let parquet = dir.path().join("c.parquet");
    write_parquet(&parquet);
    let reference = load(&csv);
    assert_eq!(reference.len(), 3);
    assert_eq!(reference.report.va_range.as_deref(), Some("0..1"));
    for p in [&tsv, &json, &jsonl, &parquet] {
        let c = load(p);
        assert_eq!(c.len(), 3, "{}", p.display());
        for i in 0..3 {
            assert_eq!(c.track(i), reference.track(i), "{}", p.display());
            assert_eq!(c.matrix().vector(i), reference.matrix().vector(i), "{}", p.display());
        }
    }
    assert_eq!(reference.track(1).title, "Loud Two");
    assert_eq!(reference.report.columns.iter().find(|(r, _)| r == "valence").map(|(_, c)| c.as_str()), Some("valence"));
}

fn write_parquet(path: &Path) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["t1", "t2", "t3"]));
    let titles: ArrayRef = Arc::new(StringArray::from(vec!["Calm One", "Loud Two", "Sad Three"]));
    let artists: ArrayRef = Arc::new(StringArray::from(vec!["Ann", "Bob", "Cid"]));
    let v: ArrayRef = Arc::new(Float64Array::from(vec![0.8, 0.7, 0.1]));
    let a: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 0.95, 0.2]));
    let batch = RecordBatch::try_from_iter([
        ("track_id", ids),
        ("title", titles),
        ("artist", artists),
        ("valence", v),
        ("arousal", a),
    ])
    .unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn valence_arousal_scales_are_detected_or_declared() {
    let dir = tempfile::tempdir().unwrap();
    for (rows, want) in [
        ("a,0.9,0.1\nb,0.1,0.9\n", VaRange::Unit),
        ("a,0.9,-0.8\nb,-0.5,0.9\n", VaRange::Signed),
        ("a,8,2\nb,2,8.5\nc,5,5\n", VaRange::Likert9),
        ("a,80,20\nb,10,95\n", VaRange::Percent),
        ("a,1.7,-0.4\nb,-1.3,0.6\nc,0.1,-1.2\nd,-0.5,1.0\n", VaRange::ZScore),
    ] {
        let p = write(dir.path(), "va.csv", &format!("id,valence,arousal\n{rows}"));
        let c = load(&p);
        assert_eq!(c.report.va_range.as_deref(), Some(want.name()), "{rows}");
        assert!(c.report.va_range_detected);
    }
    // The same numbers mean different things on different scales: 0.9 on
    // [0, 1] is very pleasant, on [-1, 1] slightly less so, as a z-score mild.
    assert_eq!(VaRange::Unit.normalise(0.9), 0.8);
    assert_eq!(VaRange::Likert9.normalise(9.0), 1.0);
    assert_eq!(VaRange::Percent.normalise(25.0), -0.5);
    assert!((VaRange::ZScore.normalise(1.5) - 1f32.tanh()).abs() < 1e-6);
    // Declared scales win over detection and reject values outside them.
    let p = write(dir.path(), "declared.csv", "id,valence,arousal\na,0.5,0.5\nb,3,0.5\n");
    let opts = CatalogOptions { va_range: Some(VaRange::Unit), ..CatalogOptions::new(&p) };
    let c = catalog::load(&opts).unwrap();
    assert_eq!(c.len(), 1);
    let issue = &c.issues[0];
    assert!(issue.locator.ends_with("declared.csv:3"), "{}", issue.locator);
    assert!(issue.reason.contains("column valence") && issue.reason.contains("outside"), "{}", issue.reason);
}

#[test]
fn tags_map_through_the_vocabulary_in_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "tags.csv",
        "id,tags,genre\n\
         a,\"Relaxing, Acoustic Guitar\",Folk\n\
         b,party|energetic|night,Drum & Bass\n\
         c,hip-hop;urban,HipHop\n\
         d,zzzunknown|also-unknown,\n",
    );
    let c = catalog::load(&CatalogOptions::new(&p)).unwrap();
    assert_eq!(c.len(), 3, "the row with only unknown tags has no mood");
    assert_eq!(c.report.unknown_tag_uses, 3);
    assert!(c.report.unknown_tags.iter().any(|(t, n)| t == "drum & bass" && *n == 1), "{:?}", c.report.unknown_tags);
    assert!(c.issues.iter().any(|i| i.locator.ends_with(":5") && !i.is_error));
    // Track a leans calm and acoustic; b energetic and night; c hip-hop and urban.
    let v = |i: usize, d: &str| c.matrix().vector(i)[mood::dim(d).unwrap()];
    assert!(v(0, "calm") > v(0, "energetic"));
    assert!(v(0, "acoustic") > 0.0 && v(0, "folk") > 0.0);
    assert!(v(1, "energetic") > v(1, "calm"));
    assert!(v(1, "night") > 0.0 && v(1, "party") > 0.0);
    assert!(v(2, "hiphop") > v(2, "classical") && v(2, "urban") > 0.0);
    assert!(c.groups[2].has(Group::Styles) && c.groups[2].has(Group::Themes));
}

#[test]
fn mtg_jamendo_trailing_tag_columns() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "autotagging.tsv",
        "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n\
         track_1\tartist_1\talbum_1\t1/1.mp3\t120.0\tgenre---ambient\tmood/theme---relaxing\tinstrument---piano\n\
         track_2\tartist_2\talbum_2\t2/2.mp3\t200.5\tgenre---techno\n",
    );
    let c = load(&p);
    assert_eq!(c.len(), 2);
    assert!(c.report.columns.iter().any(|(r, col)| r == "tags" && col == "trailing columns"));
    assert_eq!(c.report.known_tag_uses, 4);
    assert_eq!(c.track(0).artist, "artist_1");
    let v = c.matrix().vector(0);
    assert!(v[mood::dim("ambient").unwrap()] > 0.0 && v[mood::dim("calm").unwrap()] > 0.0);
    assert!(c.matrix().vector(1)[mood::dim("electronic").unwrap()] > 0.0);
    assert!(c.track(0).descriptor.contains("relaxing"));
    // What playlist files and coverage read: the audio's path and the genre.
    assert_eq!((c.track(0).location, c.track(0).genre), ("1/1.mp3", "ambient"));
    assert_eq!((c.track(1).location, c.track(1).genre), ("2/2.mp3", "techno"));
}

#[test]
fn locations_genres_years_and_tempi_are_kept_per_track() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "meta.csv",
        "track_id,title,artist,genre,tags,bpm,release_date,url,valence,arousal\n\
         a,A,X,Jazz|Swing,calm,92,1959-08-17,https://x.org/a.mp3,0.6,0.3\n\
         b,B,Y,,happy,not-a-number-is-fine?,,/m/b.flac,0.4,0.5\n\
         c,C,Z,rock,energetic,,sometime,,0.5,0.9\n",
    );
    let c = load(&p);
    // Row b's tempo is not a number: the row is rejected, as any bad number.
    assert_eq!(c.len(), 2);
    let (a, z) = (c.track(0), c.track(1));
    assert_eq!((a.genre, a.year, a.tempo, a.location), ("Jazz", Some(1959), Some(92.0), "https://x.org/a.mp3"));
    assert_eq!((z.genre, z.year, z.tempo, z.location), ("rock", None, None, ""));
    let names: Vec<&str> = c.report.columns.iter().map(|(r, _)| r.as_str()).collect();
    assert!(names.contains(&"location") && names.contains(&"year"), "{names:?}");
}

#[test]
fn audio_features_and_embeddings_are_mood_sources() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "spotify.csv",
        "track_id,name,artists,valence,energy,danceability,tempo,acousticness,instrumentalness,loudness,mode,speechiness\n\
         s1,Quiet,A,0.6,0.1,0.2,70,0.95,0.8,-25,1,0.03\n\
         s2,Club,B,0.7,0.95,0.9,128,0.01,0.6,-4,1,0.05\n",
    );
    let c = load(&p);
    assert!(c.report.sources.contains(&"audio features".to_string()));
    let names: Vec<&str> = c.report.columns.iter().map(|(r, _)| r.as_str()).collect();
    for role in ["id", "title", "artist", "valence", "energy", "tempo", "acousticness"] {
        assert!(names.contains(&role), "{role} not detected: {names:?}");
    }
    let d = |i: usize, n: &str| c.matrix().vector(i)[mood::dim(n).unwrap()];
    assert!(d(0, "acoustic") > d(1, "acoustic"));
    assert!(d(1, "electronic") > d(0, "electronic"));
    assert!(d(1, "arousal") > d(0, "arousal"));

    let values: Vec<String> = (0..mood::NUM_DIMS)
        .map(|i| if i == 1 { "-0.5".into() } else { format!("{:.1}", (i % 3) as f32 / 2.0) })
        .collect();
    let p = write(dir.path(), "emb.csv", &format!("id,embedding\ne1,\"[{}]\"\ne2,\"[1, 2]\"\n", values.join(", ")));
    let c = catalog::load(&CatalogOptions::new(&p)).unwrap();
    assert_eq!(c.len(), 1);
    assert!(c.issues[0].reason.contains("has 2 numbers"), "{:?}", c.issues);
    assert!(c.issues[0].locator.ends_with(":3"));
}

#[test]
fn column_overrides_take_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "odd.csv", "key,song,who,pleasure_score,activation_score\nk1,S,W,0.2,0.9\n");
    assert!(load_err(&p).contains("no track id column"));
    let role = |r: Role, c: &str| (r, vec![c.to_string()]);
    let opts = CatalogOptions {
        overrides: vec![
            role(Role::Id, "key"),
            role(Role::Title, "song"),
            role(Role::Artist, "who"),
            role(Role::Valence, "pleasure_score"),
            role(Role::Arousal, "activation_score"),
        ],
        ..CatalogOptions::new(&p)
    };
    let c = catalog::load(&opts).unwrap();
    assert_eq!(c.track(0).id, "k1");
    assert_eq!(c.track(0).artist, "W");
    let bad = CatalogOptions { overrides: vec![role(Role::Id, "nope")], ..CatalogOptions::new(&p) };
    assert!(catalog::load(&bad).unwrap_err().to_string().contains("`nope`"));
}

#[test]
fn bad_catalogs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.csv", "");
    let e = load_err(&empty);
    assert!(e.contains("empty.csv") && e.contains("empty"), "{e}");

    let header_only = write(dir.path(), "header.csv", "track_id,valence,arousal\n");
    assert!(load_err(&header_only).contains("no rows"));

    let no_id = write(dir.path(), "noid.csv", "title,valence,arousal\nA,0.1,0.2\n");
    let e = load_err(&no_id);
    assert!(
        e.contains("noid.csv")
            && e.contains("line 1")
            && e.contains("no track id column")
            && e.contains("`columns` setting (id=COLUMN)"),
        "{e}"
    );

    let no_mood = write(dir.path(), "nomood.csv", "track_id,title,year\na,A,1999\n");
    let e = load_err(&no_mood);
    assert!(e.contains("no usable mood source") && e.contains("track_id, title, year"), "{e}");

    let semi = write(dir.path(), "semi.csv", "track_id;valence;arousal\na;0.1;0.2\n");
    let e = load_err(&semi);
    assert!(e.contains("semicolon-separated") && e.contains("set the `delimiter` to ';'"), "{e}");
    let opts = CatalogOptions { delimiter: Some(b';'), ..CatalogOptions::new(&semi) };
    assert_eq!(catalog::load(&opts).unwrap().len(), 1);

    let unknown_ext = write(dir.path(), "tracks.xlsx", "x");
    assert!(load_err(&unknown_ext).contains("unknown catalog format"));
}

#[test]
fn bad_rows_are_reported_with_line_and_column_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "rows.csv",
        "track_id,title,valence,arousal,tempo\n\
         a,Fine,0.5,0.5,120\n\
         b,NotANumber,abc,0.5,100\n\
         c,NaN,NaN,0.5,100\n\
         a,Duplicate,0.1,0.1,100\n\
         ,NoId,0.2,0.2,100\n\
         d,BadTempo,0.2,0.2,9000\n\
         e,Fine too,0.9,0.2,90\n",
    );
    let c = load(&p);
    assert_eq!(c.len(), 2);
    assert_eq!((c.report.rows, c.report.rejected_rows, c.report.duplicate_ids), (7, 4, 1));
    let find = |line: usize| c.issues.iter().find(|i| i.locator.ends_with(&format!("rows.csv:{line}"))).unwrap();
    assert!(find(3).reason.contains("column valence") && find(3).reason.contains("`abc` is not a number"));
    assert!(find(4).reason.contains("column valence") && find(4).reason.contains("NaN"));
    let dup = find(5);
    assert!(!dup.is_error && dup.reason.contains("duplicate track id `a`") && dup.reason.contains("first"));
    assert_eq!(c.track(0).title, "Fine", "the first row with a duplicated id is kept");
    assert!(find(6).reason.contains("no track id"));
    assert!(find(7).reason.contains("column tempo"));
}

#[test]
fn synthetic_catalogs_are_realistic_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("synth.csv");
    let pq = dir.path().join("synth.parquet");
    catalog::synth::write(&csv, 2000, 7).unwrap();
    catalog::synth::write(&pq, 2000, 7).unwrap();
    let a = load(&csv);
    let b = load(&pq);
    assert_eq!((a.len(), b.len()), (2000, 2000));
    for i in [0, 1, 999, 1999] {
        assert_eq!(a.track(i), b.track(i));
    }
    let artists: std::collections::HashSet<&str> = (0..a.len()).map(|i| a.track(i).artist).collect();
    assert!(artists.len() > 150, "varied artists: {}", artists.len());
    assert_eq!(a.report.unknown_tag_uses, 0, "{:?}", a.report.unknown_tags);
    let again = dir.path().join("again.csv");
    catalog::synth::write(&again, 2000, 7).unwrap();
    assert_eq!(std::fs::read(&csv).unwrap(), std::fs::read(&again).unwrap());
    // Every style family is represented.
    for style in ["ambient", "classical", "electronic", "hiphop", "rock", "jazz", "folk"] {
        let d = mood::dim(style).unwrap();
        assert!((0..a.len()).any(|i| a.matrix().vector(i)[d] > 0.1), "no {style} track");
    }
}

/// Catalogs are read in chunks on every core and merged in file order: the
/// tracks, their order, the issues and their line numbers must be those of
/// reading row by row, wherever the chunk boundaries fall, in every format.
#[test]
fn chunked_parallel_reading_keeps_file_order_lines_and_first_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 3 * catalog::read::CHUNK_ROWS + 123;
    let mut csv = String::from("track_id,title,artist,valence,arousal\n");
    let mut expect_ids = Vec::new();
    let mut expect_issues = Vec::new();
    for i in 0..rows {
        let line = i + 2;
        let v = (i % 97) as f32 / 96.0;
        if i == 4200 {
            // A bad row just past the first chunk boundary.
            csv.push_str(&format!("bad{i},Bad,Nobody,loud,0.5\n"));
            expect_issues.push((format!("{line}"), true));
        } else if i % 1000 == 999 {
            // A duplicate of a row from an earlier chunk: the first is kept.
            csv.push_str(&format!("t{},Again,Someone,{v},0.5\n", i / 2 - 1));
            expect_issues.push((format!("{line}"), false));
        } else {
            csv.push_str(&format!("t{i},Song {i},Artist {},{v},{}\n", i % 50, 1.0 - v));
            expect_ids.push(format!("t{i}"));
        }
    }
    // Duplicates must name a track that exists earlier.
    let csv_path = write(dir.path(), "big.csv", &csv);
    let tsv_path = write(dir.path(), "big.tsv", &csv.replace(',', "\t"));
    let mut jsonl = String::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let valence = if f[3].parse::<f64>().is_ok() { f[3].to_string() } else { format!("\"{}\"", f[3]) };
        jsonl.push_str(&format!(
            "{{\"track_id\":\"{}\",\"title\":\"{}\",\"artist\":\"{}\",\"valence\":{valence},\"arousal\":{}}}\n",
            f[0], f[1], f[2], f[4]
        ));
    }
    let json_path = write(dir.path(), "big.jsonl", &jsonl);
    for path in [csv_path, tsv_path, json_path] {
        let cat = load(&path);
        let ids: Vec<String> = (0..cat.len()).map(|i| cat.track(i).id.to_string()).collect();
        let dups = expect_issues.iter().filter(|(_, e)| !e).count();
        assert_eq!(ids.len(), expect_ids.len(), "{}", path.display());
        assert_eq!(ids, expect_ids, "{}: tracks in file order", path.display());
        let got: Vec<(String, bool)> =
            cat.issues.iter().map(|i| (i.locator.rsplit(':').next().unwrap().trim().to_string(), i.is_error)).collect();
        // JSON lines count the header-less file: one line less.
        let shift = if path.extension().unwrap() == "jsonl" { 1 } else { 0 };
        let want: Vec<(String, bool)> =
            expect_issues.iter().map(|(l, e)| ((l.parse::<usize>().unwrap() - shift).to_string(), *e)).collect();
        assert_eq!(got, want, "{}: issues in file order, with their lines", path.display());
        assert_eq!(cat.report.duplicate_ids, dups as u64);
        assert_eq!(cat.report.rows, rows as u64);
    }
}

/// The Parquet reader hands record batches to the workers: the tracks come
/// out in file order all the same.
#[test]
fn chunked_parquet_keeps_file_order() {
    use arrow_array::cast::AsArray;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.parquet");
    catalog::synth::write(&path, 2 * catalog::read::CHUNK_ROWS as u64 + 77, 5).unwrap();
    let cat = load(&path);
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut ids = Vec::new();
    for b in reader {
        let b = b.unwrap();
        ids.extend(b.column_by_name("track_id").unwrap().as_string::<i32>().iter().map(|s| s.unwrap().to_string()));
    }
    assert_eq!(cat.len(), ids.len());
    assert!((0..cat.len()).all(|i| cat.track(i).id == ids[i]), "tracks in file order");
}
