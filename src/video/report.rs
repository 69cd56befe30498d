//! The video report: `report.html`, one strip per film of its scenes in
//! order, each with its middle keyframe, its in and out times, its mood and
//! the soundtrack's track for it, and the failed videos below.
//!
//! Like the photo report (`after::report`) it needs nothing but a browser:
//! keyframes are small JPEG data URIs, styles are inline, there is no
//! script, and every name from a file or the catalog goes through `escape`.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::after::export::escape;
use crate::catalog::Catalog;
use crate::video::read::Film;
use crate::video::scenes::timecode;
use crate::video::soundtrack::Cue;

const STYLE: &str = r#"
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f7f5f0}
header{padding:24px 40px 16px;background:linear-gradient(120deg,#2b2d42 0%,#5c3c6e 55%,#d9485f 100%);color:#fff}
header h1{margin:0;font-size:28px}header p{margin:6px 0 0;opacity:.9}
main{padding:16px 40px 60px}h2{font-size:19px;margin:28px 0 4px}.meta{color:#667085;font-size:13px;margin:0 0 10px}
.strip{display:flex;gap:10px;overflow-x:auto;padding-bottom:10px}
.scene{flex:0 0 200px;background:#fff;border:1px solid #e4e2dc;border-radius:10px;padding:8px;font-size:12px}
.scene img,.scene .noframe{display:block;height:90px;max-width:184px;border-radius:6px;background:#ddd;margin-bottom:6px}
.tc{font-variant-numeric:tabular-nums;color:#667085}.mood{font-weight:600;color:#d9485f}
.track{margin-top:4px}.track small{color:#667085}.why{color:#667085;margin-top:2px}
.failed td{padding:3px 8px;font-size:13px;border-bottom:1px solid #e4e2dc}
"#;

/// The page's opening, up to the first film: `films` read, `scenes` in all.
pub fn head(films: usize, scenes: u64) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>pixtape video report</title>\
         <style>{STYLE}</style></head><body><header><h1>pixtape video report</h1>\
         <p>{films} video{} → {scenes} scenes, a soundtrack each</p></header><main>",
        if films == 1 { "" } else { "s" }
    )
}

/// One film's section: its scenes as a strip. A run writes each film's as
/// soon as the film is read (see `video::parts`), so the page is joined
/// from pieces and no keyframe outlives its film.
pub fn strip(film: &Film, cues: &[Cue], catalog: &Catalog) -> String {
    let mut h = String::with_capacity(256 + film.scenes.len() * 5000);
    let _ = write!(
        h,
        "<section class=\"film\"><h2>{}</h2><p class=\"meta\">{} · {} scenes · {}×{}</p><div class=\"strip\">",
        escape(&film.id),
        timecode(film.duration),
        film.scenes.len(),
        film.probe.width,
        film.probe.height
    );
    for (i, (scene, mood)) in film.scenes.iter().enumerate() {
        h.push_str("<article class=\"scene\">");
        if mood.thumb.is_empty() {
            h.push_str("<div class=\"noframe\"></div>");
        } else {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&mood.thumb);
            let _ = write!(h, "<img alt=\"scene {i}\" src=\"data:image/jpeg;base64,{b64}\">");
        }
        let a = &mood.analysis;
        let _ = write!(
            h,
            "<div class=\"tc\">{} – {}</div><div><span class=\"mood\">{}</span> · valence {:+.2} · arousal {:+.2}</div>",
            timecode(scene.start_s),
            timecode(scene.end_s),
            escape(a.label),
            a.mood[0],
            a.mood[1]
        );
        if let Some(cue) = cues.iter().find(|c| c.scene == i) {
            let t = catalog.track(cue.track as usize);
            let title = if t.title.is_empty() { t.id } else { t.title };
            let _ = write!(
                h,
                "<div class=\"track\">♪ {}<br><small>{} · {:.2}</small></div><div class=\"why\">{}</div>",
                escape(title),
                escape(t.artist),
                cue.score,
                escape(&cue.explanation)
            );
        }
        h.push_str("</article>");
    }
    h.push_str("</div></section>");
    h
}

/// The page's end: the videos that could not be read, with why.
pub fn tail(failed: &[(String, String)]) -> String {
    let mut h = String::new();
    if !failed.is_empty() {
        let _ = write!(h, "<h2>Videos not read ({})</h2><table class=\"failed\">", failed.len());
        for (id, why) in failed {
            let _ = write!(h, "<tr class=\"failed-video\"><td>{}</td><td>{}</td></tr>", escape(id), escape(why));
        }
        h.push_str("</table>");
    }
    h.push_str("</main></body></html>\n");
    h
}
