//! Bad input never stops a run: each kind of broken file becomes a row of the
//! errors table, every good image is still written, and the exit code says
//! that something failed. Every file here is made by the test itself.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Rng, photo, png_claiming, png_solid, read_parquet, strings};
use pixtape::engine::backend::Backend;
use pixtape::engine::decode::{DecodeLimits, Decoder};
use pixtape::engine::model::CROP_BYTES;
use pixtape::run::{self, AnalyzeSettings, Silent};

fn settings(images: &Path, out: &Path) -> AnalyzeSettings {
    AnalyzeSettings { decode_threads: 2, ..AnalyzeSettings::new(images.to_path_buf(), out.to_path_buf()) }
}

/// Decodes one in-memory file the way the pipeline would.
fn decode(bytes: &[u8], name: &str) -> Result<pixtape::engine::decode::DecodedInfo, pixtape::Failure> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let mut crop = vec![0u8; CROP_BYTES];
    Decoder::new(DecodeLimits::default()).decode_file(&path, &mut crop)
}

fn expect_error(bytes: &[u8], name: &str, stage: &str, needle: &str) {
    let failure = decode(bytes, name).expect_err(name);
    assert_eq!(failure.stage.as_str(), stage, "{name}: {failure:?}");
    assert!(failure.reason.contains(needle), "{name}: reason {:?} lacks {needle:?}", failure.reason);
}

#[test]
fn zero_byte_file() {
    expect_error(b"", "empty.jpg", "decode", "empty file");
}

#[test]
fn truncated_jpeg_and_png() {
    let jpeg = photo("coffee.jpg");
    expect_error(&jpeg[..jpeg.len() / 2], "half.jpg", "decode", "truncated");
    expect_error(&jpeg[..600], "headers_only.jpg", "decode", "truncated");
    let png = png_solid(64, 48, [10, 200, 30]);
    expect_error(&png[..png.len() - 30], "cut.png", "decode", "png");
}

#[test]
fn corrupt_files() {
    // Random bytes with an image extension: no format can be recognised.
    let noise = Rng(0xbadc_0ffe_e0dd_f00d).bytes(4096);
    expect_error(&noise, "noise.bmp", "decode", "bmp");
    // A JPEG whose header segments were overwritten.
    let mut jpeg = photo("coffee.jpg");
    jpeg[2..600].iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    expect_error(&jpeg, "scrambled.jpg", "decode", "jpeg");
    // A PNG with a broken chunk checksum.
    let mut png = png_solid(32, 32, [200, 100, 0]);
    png[29] ^= 0xFF;
    expect_error(&png, "badcrc.png", "decode", "png");
}

#[test]
fn damaged_but_complete_jpeg_is_kept_with_a_warning() {
    let mut jpeg = photo("coffee.jpg");
    let n = jpeg.len();
    for i in (n / 2..n - 4).step_by(97) {
        jpeg[i] = jpeg[i].wrapping_add(0x5b);
    }
    let info = decode(&jpeg, "flipped.jpg").expect("a complete but damaged JPEG decodes leniently");
    assert!(info.warning.as_deref().unwrap_or("").contains("damaged jpeg"), "{:?}", info.warning);
}

#[test]
fn wrong_extension_is_decoded_by_content_with_a_warning() {
    let info = decode(&png_solid(40, 30, [0, 0, 255]), "actually_png.jpg").unwrap();
    assert_eq!(info.format, "png");
    assert!(info.warning.unwrap().contains("content is png but the extension says jpeg"));
}

#[test]
fn unsupported_formats() {
    // ICO and AVIF are recognised by their magic bytes but not decoded.
    let ico = [0u8, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0, 0, 0, 0, 22, 0, 0, 0];
    expect_error(&ico, "icon.png", "decode", "not supported");
    let avif = b"\0\0\0\x20ftypavif\0\0\0\0avifmif1miaf";
    expect_error(avif, "photo.jpg", "decode", "not supported");
    // SVG is text: nothing to recognise, and the extension names no raster format.
    expect_error(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "drawing.svg", "decode", "unrecognised");
}

#[test]
fn huge_dimensions_are_refused_before_allocation() {
    // 100000 x 100000 RGB would be 30 GB; the header check must refuse it.
    expect_error(&png_claiming(100_000, 100_000), "bomb.png", "decode", "megapixel limit");
    // Within the pixel budget but still too large for the decoder's allocation limit
    // is not possible by construction; a tighter budget applies per run.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok_size.png");
    std::fs::write(&path, png_solid(2000, 1000, [1, 2, 3])).unwrap();
    let mut crop = vec![0u8; CROP_BYTES];
    let tight = DecodeLimits { max_pixels: 1_000_000, ..DecodeLimits::default() };
    let failure = Decoder::new(tight).decode_file(&path, &mut crop).unwrap_err();
    assert!(failure.reason.contains("2000x1000"), "{}", failure.reason);
}

#[test]
fn unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut crop = vec![0u8; CROP_BYTES];
    let mut dec = Decoder::new(DecodeLimits::default());
    let missing = dec.decode_file(&dir.path().join("missing.jpg"), &mut crop).unwrap_err();
    assert_eq!((missing.stage.as_str(), missing.reason.as_str()), ("read", "file not found"));
    std::fs::create_dir(dir.path().join("folder.jpg")).unwrap();
    let folder = dec.decode_file(&dir.path().join("folder.jpg"), &mut crop).unwrap_err();
    assert!(folder.reason.contains("directory"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.path().join("locked.jpg");
        std::fs::write(&locked, photo("cat.jpg")).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::File::open(&locked).is_ok() {
            println!("skipping the permission case: running as root, which reads mode-000 files");
        } else {
            let denied = dec.decode_file(&locked, &mut crop).unwrap_err();
            assert_eq!((denied.stage.as_str(), denied.reason.as_str()), ("read", "permission denied"));
        }
    }
}

/// Builds a folder mixing good photos and every kind of bad file. Returns
/// the folder and, for each bad file, the stage its error row must name.
fn mixed_folder(root: &Path) -> (PathBuf, BTreeMap<String, &'static str>) {
    let dir = root.join("photos");
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::write(dir.join("a_cat.jpg"), photo("cat.jpg")).unwrap();
    std::fs::write(dir.join("nested/coffee.JPG"), photo("coffee.jpg")).unwrap();
    std::fs::write(dir.join("sunset.jpeg"), photo("sunset_bay.jpg")).unwrap();
    std::fs::write(dir.join("blue.png"), png_solid(300, 200, [20, 40, 220])).unwrap();
    std::fs::write(dir.join("notes.txt"), "not an image, skipped").unwrap();
    let mut bad = BTreeMap::new();
    let coffee = photo("coffee.jpg");
    for (name, bytes, stage) in [
        ("empty.jpg", Vec::new(), "decode"),
        ("truncated.jpg", coffee[..coffee.len() / 3].to_vec(), "decode"),
        ("corrupt.png", vec![0x42u8; 1000], "decode"),
        ("bomb.png", png_claiming(60_000, 60_000), "decode"),
        ("unsupported.gif", b"\0\0\0\x20ftypavif\0\0\0\0avif".to_vec(), "decode"),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
        bad.insert(name.to_string(), stage);
    }
    // (A name that is not UTF-8 is a good image: see the test below.)
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("nowhere.jpg"), dir.join("dangling.jpg")).unwrap();
        bad.insert("dangling.jpg".to_string(), "ingest");
    }
    (dir, bad)
}

#[test]
fn mixed_folder_writes_every_good_image_and_one_error_per_bad_file() {
    let root = tempfile::tempdir().unwrap();
    let (dir, bad) = mixed_folder(root.path());
    let out = root.path().join("out");
    let backend = Backend::cpu();
    let summary = run::analyze(&settings(&dir, &out), &backend.model(Some(4)).unwrap(), &Silent).unwrap();

    let images = read_parquet(&out.join("images.parquet"));
    let ids: Vec<String> = strings(&images, "image_id").into_iter().flatten().collect();
    assert_eq!(ids, ["a_cat.jpg", "blue.png", "nested/coffee.JPG", "sunset.jpeg"], "good images, in walk order");

    let errors = read_parquet(&out.join("errors.parquet"));
    let paths = strings(&errors, "path");
    let stages = strings(&errors, "stage");
    let severities = strings(&errors, "severity");
    let reasons = strings(&errors, "reason");
    let mut seen = BTreeMap::new();
    for i in 0..errors.num_rows() {
        assert_eq!(severities[i].as_deref(), Some("error"), "{:?}", reasons[i]);
        let path = paths[i].clone().unwrap();
        let name = Path::new(&path).file_name().unwrap().to_string_lossy().into_owned();
        assert!(!reasons[i].as_deref().unwrap_or("").is_empty());
        assert!(seen.insert(name.clone(), stages[i].clone().unwrap()).is_none(), "two rows for {name}");
    }
    let want: BTreeMap<String, String> = bad.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
    assert_eq!(seen, want, "one error row per bad file, with its stage");
    assert_eq!(summary.counts.images, 4);
    assert_eq!(summary.counts.errors, bad.len() as u64);
    assert_eq!(summary.counts.skipped_files, 1);
    assert!(out.join("manifest.json").exists());
}

#[test]
fn binary_exit_code_reports_failed_inputs() {
    let root = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_pixtape");
    let good = root.path().join("good");
    std::fs::create_dir(&good).unwrap();
    std::fs::write(good.join("cat.jpg"), photo("cat.jpg")).unwrap();
    let status = Command::new(bin)
        .args(["analyze", "--quiet", "--images"])
        .arg(&good)
        .arg("--out")
        .arg(root.path().join("o1"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));

    std::fs::write(good.join("broken.jpg"), b"").unwrap();
    let status = Command::new(bin)
        .args(["analyze", "--quiet", "--images"])
        .arg(&good)
        .arg("--out")
        .arg(root.path().join("o2"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "a failed input means exit code 1");

    let out = Command::new(bin)
        .args(["analyze", "--images"])
        .arg(root.path().join("does-not-exist"))
        .arg("--out")
        .arg(root.path().join("o3"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a run that cannot start exits 2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does-not-exist"), "{stderr}");
}

/// A name that is not UTF-8 is analysed under a printable, lossless escape,
/// with its raw bytes kept and a warning; a symbolic-link loop and a folder
/// named like an image are passed over and counted, and the walk ends.
#[cfg(unix)]
#[test]
fn odd_names_and_links_are_analysed_or_skipped_and_never_followed_forever() {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("in");
    std::fs::create_dir_all(images.join("album.jpg")).unwrap();
    let jpeg =
        photo(&std::fs::read_dir(common::photos_dir()).unwrap().next().unwrap().unwrap().file_name().to_string_lossy());
    // "café\.jpg" in Latin-1: 0xE9 is not UTF-8; the backslash must survive too.
    let raw_name: &[u8] = b"caf\xe9\\.jpg";
    std::fs::write(images.join(OsStr::from_bytes(raw_name)), &jpeg).unwrap();
    std::fs::write(images.join("ok.jpg"), &jpeg).unwrap();
    std::fs::write(images.join("album.jpg/inside.png"), png_solid(64, 48, [200, 120, 40])).unwrap();
    std::os::unix::fs::symlink("..", images.join("album.jpg/up")).unwrap();
    let out = dir.path().join("out");
    let s = run::analyze(&settings(&images, &out), &Backend::cpu().model(Some(4)).unwrap(), &Silent).unwrap();
    let c = &s.counts;
    assert_eq!((c.images, c.errors, c.warnings), (3, 0, 1), "{c:?}");
    assert_eq!((c.symlink_loops, c.folders_named_like_images), (1, 1), "{c:?}");

    let b = read_parquet(&out.join("images.parquet"));
    let ids: Vec<String> = strings(&b, "image_id").into_iter().map(Option::unwrap).collect();
    let escaped = "caf\\xE9\\\\.jpg";
    assert_eq!(ids, ["album.jpg/inside.png", escaped, "ok.jpg"]);
    assert_eq!(unescape(escaped), raw_name, "the escape is lossless");
    let bytes = b.column_by_name("path_bytes").unwrap().as_binary::<i32>().clone();
    let mut want = images.as_os_str().as_bytes().to_vec();
    want.extend_from_slice(b"/");
    want.extend_from_slice(raw_name);
    assert_eq!(bytes.value(1), &want[..], "the raw path is kept");
    assert!(bytes.is_null(0) && bytes.is_null(2), "UTF-8 paths need no raw copy");
    let e = read_parquet(&out.join("errors.parquet"));
    assert_eq!(strings(&e, "image_id"), [Some(escaped.to_string())]);
    assert_eq!(strings(&e, "severity"), [Some("warning".to_string())]);
    assert!(strings(&e, "reason")[0].as_deref().unwrap().contains("not valid UTF-8"));
}

/// The inverse of `ingest::escape_path`, to show that it loses nothing.
fn unescape(s: &str) -> Vec<u8> {
    let (b, mut out, mut i) = (s.as_bytes(), Vec::new(), 0);
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'\\')) => (out.push(b'\\'), i += 2).1,
            (b'\\', Some(b'x')) => {
                out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                i += 4;
            }
            (c, _) => (out.push(c), i += 1).1,
        }
    }
    out
}
