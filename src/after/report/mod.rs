//! The visual report: a finished run as one self-contained HTML file.
//!
//! `report.html` needs nothing but a browser: thumbnails are embedded as
//! small JPEG data URIs, charts are inline SVG, styles are inline, and
//! there is no script at all. It holds a run summary, a mood map of every
//! image and every recommended track on the valence–arousal plane, the
//! album (if any), coverage and bias, a card per image (thumbnail with its
//! faces boxed and labelled, palette, light, top classes, mood, its playlist
//! with each reason) and the errors.
//!
//! Every string that comes from a file name, a manifest or a catalog goes
//! through `escape`, in text and in attributes alike; colours are used only
//! when they are `#rrggbb`. Cards come in pages of `PAGE` images, each a
//! collapsible section whose cards the browser lays out only when shown
//! (`content-visibility`), so 10,000 images stay usable. The file grows
//! linearly, 8–10 KB an image with 20 picks, about half of it thumbnail
//! (80.5 MB for 10,000).

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use rayon::prelude::*;

use crate::after::coverage::{COVERAGE_FILE, Coverage};
use crate::after::export::escape;
use crate::after::finished::{FinishedRun, Image, read_album};
use crate::atomic::write_atomic;
use crate::catalog::Catalog;
use crate::engine::decode::{DecodeLimits, Decoder};
use crate::engine::model::{CROP_BYTES, INPUT_SIZE};
use crate::error::Result;
use crate::run::output::AlbumTrack;
use crate::run::output::{ALBUM_FILE, FACES_FILE, REPORT_FILE};
use faces::{FACE_STYLE, FaceBox, faces_line, read_faces, thumb_with_faces};
use map::{mini_plane, mood_map};
use sections::{album_section, coverage_section};

mod faces;
mod map;
mod sections;

/// Images per page of cards.
pub const PAGE: usize = 200;
/// Thumbnail side in pixels (a centre crop, as the model sees it).
pub const THUMB: u32 = 96;
/// Recommended tracks drawn on the mood map, at most.
const MAP_TRACKS: usize = 5000;

/// Writes `OUT/report.html` for the finished run in `out`. `catalog`, when
/// given, places the recommended tracks on the mood map.
pub fn write(out: &Path, catalog: Option<&Catalog>) -> Result<std::path::PathBuf> {
    let run = FinishedRun::read(out)?;
    let coverage: Option<Coverage> =
        std::fs::read(out.join(COVERAGE_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let album = match out.join(ALBUM_FILE) {
        p if p.exists() => read_album(&p)?,
        _ => Vec::new(),
    };
    let faces = match out.join(FACES_FILE) {
        p if p.exists() => read_faces(&p)?,
        _ => Faces::new(),
    };
    let thumbs: Vec<Option<String>> = run.images.par_iter().map(|im| thumbnail(Path::new(&im.path))).collect();
    let html = render(&run, coverage.as_ref(), &album, &thumbs, &faces, catalog);
    let dest = out.join(REPORT_FILE);
    write_atomic(&dest, html.as_bytes())?;
    Ok(dest)
}

/// The image at `path` as a small JPEG data URI: the model's centre crop,
/// scaled to `THUMB`. `None` when the file is gone or does not decode.
pub fn thumbnail(path: &Path) -> Option<String> {
    let mut crop = vec![0u8; CROP_BYTES];
    Decoder::new(DecodeLimits::default()).decode_file(path, &mut crop).ok()?;
    let img = image::RgbImage::from_raw(INPUT_SIZE as u32, INPUT_SIZE as u32, crop)?;
    let small = image::imageops::resize(&img, THUMB, THUMB, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 72).encode_image(&small).ok()?;
    Some(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg)))
}

/// A colour usable in a style attribute: `#rrggbb` only.
fn css_colour(c: &str) -> &str {
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok { c } else { "#888888" }
}

const STYLE: &str = r#"
:root{--ink:#1d2330;--muted:#667085;--line:#e4e2dc;--bg:#f7f5f0;--card:#fff;--accent:#d9485f;--accent2:#3a6ea5}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{padding:28px 40px 18px;background:linear-gradient(120deg,#2b2d42 0%,#5c3c6e 55%,#d9485f 100%);color:#fff}
header h1{margin:0;font-size:30px;letter-spacing:.5px}header h1 span{font-weight:300;opacity:.8}
header p{margin:6px 0 0;opacity:.9}
main{padding:20px 40px 60px;max-width:1400px;margin:auto}
h2{font-size:20px;margin:34px 0 12px;border-bottom:2px solid var(--line);padding-bottom:6px}
.stats{display:flex;flex-wrap:wrap;gap:12px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px;min-width:150px}
.stat b{display:block;font-size:24px}.stat span{color:var(--muted);font-size:13px}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.panel{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px}
.legend{color:var(--muted);font-size:13px;margin:6px 0 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted)}
details.page{margin:10px 0}details.page>summary{cursor:pointer;font-weight:600;padding:6px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px;align-items:start}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px;display:grid;grid-template-columns:96px 1fr 96px;gap:14px;align-content:start;content-visibility:auto;contain-intrinsic-size:auto 420px}
.card h3{margin:0 0 4px;font-size:15px;word-break:break-all}
.thumb{width:96px;height:96px;border-radius:8px;object-fit:cover;background:#ddd;display:block}
.nothumb{width:96px;height:96px;border-radius:8px;background:repeating-linear-gradient(45deg,#eee,#eee 6px,#e2e2e2 6px,#e2e2e2 12px)}
.swatches{display:flex;height:14px;border-radius:4px;overflow:hidden;margin:8px 0;width:96px}
.facts{color:var(--muted);font-size:13px}
.chip{display:inline-block;background:#f1ecf7;color:#5c3c6e;border-radius:10px;padding:0 8px;margin:2px 4px 2px 0;font-size:12px}
.chip.top{background:var(--accent);color:#fff}
.playlist{grid-column:1/-1;font-size:13px}.playlist td.n{color:var(--muted);width:22px}
.playlist td.s{font-variant-numeric:tabular-nums;width:44px}.why{color:var(--muted)}.drivers{font-size:13px;margin-top:4px}
.bar{display:flex;align-items:center;gap:6px;font-size:12px;margin:2px 0}.bar i{display:block;height:9px;border-radius:3px}
.err td{font-size:13px}.sev-error{color:var(--accent);font-weight:600}
"#;

/// Faces by image id (`faces.parquet`; empty for a run without faces).
pub type Faces = std::collections::HashMap<String, Vec<FaceBox>>;

/// The whole report.
pub fn render(
    run: &FinishedRun,
    coverage: Option<&Coverage>,
    album: &[AlbumTrack],
    thumbs: &[Option<String>],
    faces: &Faces,
    catalog: Option<&Catalog>,
) -> String {
    let mut h = String::with_capacity(4096 + run.images.len() * 6000);
    let m = &run.manifest;
    let title = format!("pixtape report — {}", run.dir.display());
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}{FACE_STYLE}</style></head><body>",
        escape(&title)
    );
    let catalog_name = m["recommend"]["catalog"]["path"].as_str().unwrap_or("");
    let _ = write!(
        h,
        "<header><h1>pixtape <span>report</span></h1><p>{} images → {} playlists{}</p></header><main>",
        run.images.len(),
        run.playlists().len(),
        if catalog_name.is_empty() { String::new() } else { format!(" from {}", escape(catalog_name)) }
    );
    summary(&mut h, run, faces);
    mood_map(&mut h, run, catalog);
    if !album.is_empty() {
        album_section(&mut h, album);
    }
    if let Some(c) = coverage {
        coverage_section(&mut h, c);
    }
    images(&mut h, run, thumbs, faces);
    errors(&mut h, run);
    h.push_str("</main></body></html>\n");
    h
}

fn stat(h: &mut String, value: &str, label: &str) {
    let _ = write!(h, "<div class=\"stat\"><b>{}</b><span>{}</span></div>", escape(value), escape(label));
}

fn summary(h: &mut String, run: &FinishedRun, faces: &Faces) {
    let m = &run.manifest;
    let c = &m["counts"];
    let num = |v: &serde_json::Value| v.as_u64().map_or("–".to_string(), |n| n.to_string());
    h.push_str("<section id=\"summary\"><h2>Run</h2><div class=\"stats\">");
    stat(h, &num(&c["images"]), "images analysed");
    stat(h, &num(&c["errors"]), "inputs failed");
    stat(h, &run.picks.len().to_string(), "picks");
    if !faces.is_empty() {
        stat(h, &faces.values().map(Vec::len).sum::<usize>().to_string(), "faces found");
    }
    stat(h, &num(&m["recommend"]["catalog"]["tracks"]), "tracks in catalog");
    stat(h, &m["wall_seconds"].as_f64().map_or("–".into(), |s| format!("{s:.1} s")), "wall time");
    stat(h, m["engine"].as_str().unwrap_or("–"), "engine");
    stat(h, m["recommend"]["mood_mode"].as_str().unwrap_or("–"), "mood mode");
    h.push_str("</div></section>");
}

fn card(h: &mut String, im: &Image, thumb: Option<&str>, faces: &[FaceBox], picks: &[&crate::after::finished::Pick]) {
    let _ = write!(h, "<article class=\"card\"><div>");
    thumb_with_faces(h, im, thumb, faces);
    h.push_str("<div class=\"swatches\">");
    for (c, share) in &im.palette {
        let _ =
            write!(h, "<span style=\"background:{};flex:{share:.3}\" title=\"{}\"></span>", css_colour(c), escape(c));
    }
    h.push_str("</div></div>");
    let _ = write!(h, "<div><h3>{}</h3>", escape(&im.id));
    let _ = write!(
        h,
        "<div class=\"facts\">{}×{} · brightness {:.2} · warmth {:+.2} · contrast {:.2} · saturation {:.2}</div>",
        im.width, im.height, im.brightness, im.warmth, im.contrast, im.saturation
    );
    let classes: Vec<String> =
        im.top.iter().take(3).map(|(l, p)| format!("{} {:.0} %", escape(l), 100.0 * p)).collect();
    let _ = write!(h, "<div class=\"facts\">{}</div>", classes.join(" · "));
    let line = faces_line(faces);
    if !line.is_empty() {
        let _ = write!(h, "<div class=\"facts faces\">{line}</div>");
    }
    h.push_str("<div>");
    let _ = write!(h, "<span class=\"chip top\">{}</span>", escape(&im.mood_label));
    for l in im.mood_labels.iter().filter(|l| **l != im.mood_label).chain(&im.styles).chain(&im.themes).take(8) {
        let _ = write!(h, "<span class=\"chip\">{}</span>", escape(l));
    }
    let _ = write!(h, "</div><div class=\"facts\">valence {:+.2} · arousal {:+.2}</div>", im.mood[0], im.mood[1]);
    // Every reason opens with what drove the picture's mood: said once.
    let explanations: Vec<&str> = picks.iter().map(|p| p.explanation.as_str()).collect();
    let shared = shared_opening(&explanations);
    if !shared.is_empty() {
        let _ = write!(h, "<div class=\"drivers\">{}</div>", escape(shared.trim_end_matches([' ', '·', '↔'])));
    }
    h.push_str("</div><div>");
    mini_plane(h, im);
    h.push_str("</div>");
    if !picks.is_empty() {
        h.push_str("<table class=\"playlist\">");
        for p in picks {
            let _ = write!(
                h,
                "<tr class=\"pick\"><td class=\"n\">{}</td><td>{}<br><small>{}</small></td><td class=\"s\">{:.2}</td><td class=\"why\">{}</td></tr>",
                p.rank,
                escape(if p.title.is_empty() { &p.track_id } else { &p.title }),
                escape(&p.artist),
                p.score,
                escape(p.explanation[shared.len()..].trim_start_matches([' ', '·']))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</article>");
}

/// The opening the explanations share, up to a " · " or " ↔ " that ends
/// it; empty for fewer than two.
fn shared_opening<'a>(all: &[&'a str]) -> &'a str {
    let Some((first, rest)) = all.split_first() else { return "" };
    if rest.is_empty() {
        return "";
    }
    let mut len = first.len();
    for s in rest {
        len = first.bytes().zip(s.bytes()).take(len).take_while(|(a, b)| a == b).count();
    }
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    let common = &first[..len];
    // Keep the separator: the rest of each reason starts after it.
    match [" · ", " ↔ "].iter().filter_map(|sep| common.rfind(sep).map(|i| i + sep.len())).max() {
        Some(end) => &first[..end],
        None => "",
    }
}

fn images(h: &mut String, run: &FinishedRun, thumbs: &[Option<String>], faces: &Faces) {
    let playlists = run.playlists();
    let _ = write!(h, "<section id=\"images\"><h2>Pictures and their playlists ({})</h2>", run.images.len());
    for (page, chunk) in run.images.chunks(PAGE).enumerate() {
        let first = page * PAGE;
        let _ = write!(
            h,
            "<details class=\"page\"{}><summary>Pictures {}–{}</summary><div class=\"cards\">",
            if page == 0 { " open" } else { "" },
            first + 1,
            first + chunk.len()
        );
        for (k, im) in chunk.iter().enumerate() {
            let picks = playlists.get(im.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            let found = faces.get(im.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            card(h, im, thumbs.get(first + k).and_then(|t| t.as_deref()), found, picks);
        }
        h.push_str("</div></details>");
    }
    h.push_str("</section>");
}

fn errors(h: &mut String, run: &FinishedRun) {
    let _ = write!(h, "<section id=\"errors\"><h2>Errors and warnings ({})</h2>", run.errors.len());
    if run.errors.is_empty() {
        h.push_str("<p class=\"legend\">Every input was analysed without a problem.</p></section>");
        return;
    }
    h.push_str("<table class=\"err\"><tr><th>input</th><th>stage</th><th>severity</th><th>reason</th></tr>");
    for e in &run.errors {
        let _ = write!(
            h,
            "<tr class=\"error-row\"><td>{}</td><td>{}</td><td class=\"sev-{}\">{}</td><td>{}</td></tr>",
            escape(e.image_id.as_deref().unwrap_or(&e.path)),
            escape(&e.stage),
            if e.severity == "error" { "error" } else { "warning" },
            escape(&e.severity),
            escape(&e.reason)
        );
    }
    h.push_str("</table></section>");
}
