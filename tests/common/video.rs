//! Clips made with FFmpeg for the video tests, and the catalog they match
//! against.

use std::path::{Path, PathBuf};
use std::process::Command;

use pixtape::catalog::{self, CatalogOptions};

/// Whether `ffmpeg` runs; without it the video tests are skipped, unless
/// PIXTAPE_REQUIRE_FFMPEG=1 (CI), which makes its absence a failure.
pub fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PIXTAPE_REQUIRE_FFMPEG").is_err(),
            "PIXTAPE_REQUIRE_FFMPEG is set but there is no ffmpeg"
        );
        eprintln!("skipped: no ffmpeg on the PATH");
    }
    ok
}

pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-y", "-hide_banner", "-loglevel", "error"]).args(args).output().unwrap();
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A clip of the bundled photos, `seconds` each, hard cuts between them;
/// `fades` dips to black across each cut (a second out, a second in).
pub fn photo_clip(dir: &Path, name: &str, photos: &[&str], seconds: f64, fades: bool) -> PathBuf {
    let mut args: Vec<String> = Vec::new();
    let mut graph = String::new();
    for (i, p) in photos.iter().enumerate() {
        let path = super::photos_dir().join(p);
        args.extend(["-loop", "1", "-framerate", "25", "-t"].map(String::from));
        args.push(seconds.to_string());
        args.extend(["-i".to_string(), path.to_string_lossy().into_owned()]);
        let fade = match fades {
            true => format!(",fade=t=in:st=0:d=1,fade=t=out:st={}:d=1", seconds - 1.0),
            false => String::new(),
        };
        graph.push_str(&format!("[{i}]scale=480:270,setsar=1{fade}[v{i}];"));
    }
    for i in 0..photos.len() {
        graph.push_str(&format!("[v{i}]"));
    }
    graph.push_str(&format!("concat=n={}:v=1,format=yuv420p", photos.len()));
    let dest = dir.join(name);
    args.extend(["-filter_complex", &graph, "-c:v", "libx264", "-preset", "veryfast"].map(String::from));
    args.push(dest.to_string_lossy().into_owned());
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    dest
}

pub fn demo_catalog() -> pixtape::catalog::Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/catalog/demo_catalog.csv");
    catalog::load(&CatalogOptions::new(path)).unwrap()
}
