//! The report's drawings of the mood space, as inline SVG: the bars of the
//! run's moods, the valence–arousal map of every image and recommended
//! track, and each card's small plane.

use std::fmt::Write as _;

use super::{MAP_TRACKS, css_colour};
use crate::after::export::escape;
use crate::after::finished::{FinishedRun, Image};
use crate::catalog::Catalog;
use crate::engine::mood::ANCHOR;

/// Plane coordinates (0..size) of a valence–arousal point.
pub(super) fn plane(v: f32, a: f32, size: f32, pad: f32) -> (f32, f32) {
    let s = size - 2.0 * pad;
    (pad + (v.clamp(-1.0, 1.0) + 1.0) / 2.0 * s, pad + (1.0 - (a.clamp(-1.0, 1.0) + 1.0) / 2.0) * s)
}

/// The run's top moods, a bar per label.
fn mood_bars(h: &mut String, run: &FinishedRun) {
    // The run's top moods, as a bar per label.
    let mut counts: Vec<(String, usize)> = Vec::new();
    for im in &run.images {
        match counts.iter_mut().find(|(l, _)| *l == im.mood_label) {
            Some(e) => e.1 += 1,
            None => counts.push((im.mood_label.clone(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if !counts.is_empty() {
        h.push_str("<div class=\"panel\" style=\"min-width:340px\"><b>Top mood of each picture</b>");
        let max = counts[0].1.max(1) as f32;
        for (label, n) in counts.iter().take(12) {
            let _ = write!(
                h,
                "<div class=\"bar\"><span style=\"width:92px\">{}</span><i style=\"width:{:.0}px;background:var(--accent)\"></i>{n}</div>",
                escape(label),
                300.0 * *n as f32 / max
            );
        }
        h.push_str("</div>");
    }
}

/// Every image (a dot in its main colour) and every recommended track (a
/// small diamond) on the valence–arousal plane.
pub(super) fn mood_map(h: &mut String, run: &FinishedRun, catalog: Option<&Catalog>) {
    const S: f32 = 560.0;
    const P: f32 = 36.0;
    h.push_str("<section id=\"mood-map\"><h2>Mood map</h2><div class=\"row\"><div class=\"panel\">");
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{S}\" height=\"{S}\" viewBox=\"0 0 {S} {S}\" role=\"img\" aria-label=\"mood map\">"
    );
    let (x0, y0) = plane(-1.0, 1.0, S, P);
    let (x1, y1) = plane(1.0, -1.0, S, P);
    let (cx, cy) = plane(0.0, 0.0, S, P);
    let _ = write!(
        h,
        "<defs><linearGradient id=\"q\" x1=\"0\" y1=\"1\" x2=\"1\" y2=\"0\"><stop offset=\"0\" stop-color=\"#dfe7f2\"/>\
         <stop offset=\"1\" stop-color=\"#fbe3d6\"/></linearGradient></defs>\
         <rect x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" rx=\"10\" fill=\"url(#q)\"/>\
         <line x1=\"{x0}\" y1=\"{cy}\" x2=\"{x1}\" y2=\"{cy}\" stroke=\"#b9b4aa\"/><line x1=\"{cx}\" y1=\"{y0}\" x2=\"{cx}\" y2=\"{y1}\" stroke=\"#b9b4aa\"/>",
        x1 - x0,
        y1 - y0
    );
    for (label, v, a) in
        [("tense", -0.55, 0.9), ("energetic", 0.55, 0.9), ("melancholic", -0.55, -0.9), ("calm", 0.55, -0.9)]
    {
        let (x, y) = plane(v, a, S, P);
        let _ = write!(
            h,
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" fill=\"#8a8478\" font-size=\"13\">{label}</text>"
        );
    }
    let _ = write!(
        h,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#667085\" font-size=\"12\">valence →</text>\
         <text x=\"12\" y=\"{}\" fill=\"#667085\" font-size=\"12\" transform=\"rotate(-90 12 {})\">arousal →</text>",
        x1,
        y1 + 22.0,
        cy + 30.0,
        cy + 30.0
    );
    if let Some(cat) = catalog {
        let index = cat.positions();
        let mut seen = std::collections::HashSet::new();
        for p in &run.picks {
            if seen.len() >= MAP_TRACKS {
                break;
            }
            let Some(&i) = index.get(p.track_id.as_str()) else { continue };
            if !seen.insert(i) {
                continue;
            }
            let v = cat.matrix().vector(i);
            if v[ANCHOR] <= 0.0 {
                continue;
            }
            let (x, y) = plane(0.5 * v[0] / v[ANCHOR], 0.5 * v[1] / v[ANCHOR], S, P);
            let _ = write!(
                h,
                "<path d=\"M{x} {}l4 4l-4 4l-4-4z\" fill=\"#3a6ea5\" fill-opacity=\".45\"><title>{} — {}</title></path>",
                y - 4.0,
                escape(&p.title),
                escape(&p.artist)
            );
        }
    }
    for im in &run.images {
        let (x, y) = plane(im.mood[0], im.mood[1], S, P);
        let colour = im.palette.first().map_or("#888888", |(c, _)| css_colour(c));
        let _ = write!(
            h,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"7\" fill=\"{colour}\" stroke=\"#1d2330\" stroke-width=\"1.5\"><title>{} — {}</title></circle>",
            escape(&im.id),
            escape(&im.mood_label)
        );
    }
    h.push_str("</svg><p class=\"legend\">● a picture, in its main colour &nbsp; ◆ a recommended track</p></div>");
    mood_bars(h, run);
    h.push_str("</div></section>");
}

/// A small valence–arousal plane with the picture's point.
pub(super) fn mini_plane(h: &mut String, im: &Image) {
    let (x, y) = plane(im.mood[0], im.mood[1], 96.0, 6.0);
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"96\" height=\"96\" viewBox=\"0 0 96 96\" aria-label=\"valence {:+.2}, arousal {:+.2}\">\
         <rect x=\"6\" y=\"6\" width=\"84\" height=\"84\" rx=\"6\" fill=\"#f3efe8\"/><line x1=\"6\" y1=\"48\" x2=\"90\" y2=\"48\" stroke=\"#d6d0c4\"/>\
         <line x1=\"48\" y1=\"6\" x2=\"48\" y2=\"90\" stroke=\"#d6d0c4\"/><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"#d9485f\"/></svg>",
        im.mood[0], im.mood[1]
    );
}
