//! The report's album and coverage sections: the album's tracks in order
//! with their stretches of photos, and what the run recommends against
//! what the catalog holds (exposure, hubs, the style, era and tempo mix).

use std::fmt::Write as _;

use super::stat;
use crate::after::coverage::Coverage;
use crate::after::export::escape;
use crate::run::output::AlbumTrack;

pub(super) fn album_section(h: &mut String, album: &[AlbumTrack]) {
    h.push_str("<section id=\"album\"><h2>Album playlist</h2><div class=\"panel\">");
    // Arousal along the album: the slots' targets and the tracks chosen.
    let (w, ht, pad) = (760.0f32, 140.0f32, 16.0f32);
    let n = album.len().max(2) as f32;
    let x = |i: usize| pad + i as f32 * (w - 2.0 * pad) / (n - 1.0);
    let y = |a: f32| pad + (1.0 - (a.clamp(-1.0, 1.0) + 1.0) / 2.0) * (ht - 2.0 * pad);
    let line = |vals: Vec<(usize, f32)>| {
        vals.iter().map(|(i, a)| format!("{:.1},{:.1}", x(*i), y(*a))).collect::<Vec<_>>().join(" ")
    };
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" preserveAspectRatio=\"none\">\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>\
         <polyline points=\"{}\" fill=\"none\" stroke=\"#d9485f\" stroke-dasharray=\"4 3\" stroke-width=\"2\"/>\
         <polyline points=\"{}\" fill=\"none\" stroke=\"#3a6ea5\" stroke-width=\"2.5\"/></svg>",
        y(0.0),
        w - pad,
        y(0.0),
        line(album.iter().enumerate().map(|(i, t)| (i, t.target_arousal)).collect()),
        line(album.iter().enumerate().filter_map(|(i, t)| t.arousal.map(|a| (i, a))).collect())
    );
    h.push_str(
        "<p class=\"legend\">arousal along the album: <span style=\"color:#d9485f\">- - target</span>, \
         <span style=\"color:#3a6ea5\">— tracks</span></p><table><tr><th>#</th><th>track</th><th>photos</th><th>why</th></tr>",
    );
    for t in album {
        let _ = write!(
            h,
            "<tr class=\"album-track\"><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td class=\"why\">{}</td></tr>",
            t.position,
            escape(if t.title.is_empty() { &t.track_id } else { &t.title }),
            escape(&t.artist),
            escape(&t.photos.join(", ")),
            escape(&t.explanation)
        );
    }
    h.push_str("</table></div></section>");
}

pub(super) fn mix_bars(h: &mut String, title: &str, rows: &[crate::after::coverage::MixRow]) {
    let _ = write!(h, "<div class=\"panel\" style=\"min-width:320px\"><b>{}</b>", escape(title));
    let max = rows.iter().map(|r| r.catalog.max(r.recommended)).fold(0.0f64, f64::max).max(1e-9);
    for r in rows.iter().filter(|r| r.catalog > 0.0 || r.recommended > 0.0).take(16) {
        let _ = write!(
            h,
            "<div class=\"bar\"><span style=\"width:96px\">{}</span><i style=\"width:{:.0}px;background:var(--accent)\" title=\"recommended\"></i>\
             <i style=\"width:{:.0}px;background:#b9c7da\" title=\"catalog\"></i>{:.0} % / {:.0} %</div>",
            escape(&r.name),
            120.0 * r.recommended / max,
            120.0 * r.catalog / max,
            100.0 * r.recommended,
            100.0 * r.catalog
        );
    }
    h.push_str("<p class=\"legend\">recommended (red) against the catalog (blue)</p></div>");
}

pub(super) fn coverage_section(h: &mut String, c: &Coverage) {
    h.push_str("<section id=\"coverage\"><h2>Coverage and bias</h2><div class=\"stats\">");
    stat(h, &format!("{:.2} %", 100.0 * c.track_coverage), "of the catalog's tracks recommended");
    stat(h, &format!("{:.1} %", 100.0 * c.artist_coverage), "of its artists");
    stat(h, &format!("{:.3}", c.gini_tracks), "Gini of track exposure");
    stat(h, &format!("{:.3}", c.gini_artists), "Gini of artist exposure");
    stat(h, &format!("{:.3}", c.mean_score), "mean score");
    h.push_str("</div><div class=\"row\" style=\"margin-top:14px\">");
    mix_bars(h, "Styles", &c.styles);
    if let Some(g) = &c.genres {
        mix_bars(h, "Genres", g);
    }
    if let Some(e) = &c.eras {
        mix_bars(h, "Eras", e);
    }
    if let Some(t) = &c.tempo_bands {
        mix_bars(h, "Tempo", t);
    }
    h.push_str("<div class=\"panel\" style=\"min-width:320px\"><b>Hubs: the most recommended tracks</b><table><tr><th>track</th><th>playlists</th></tr>");
    for hub in c.hubs.iter().take(10) {
        let _ = write!(
            h,
            "<tr><td>{}<br><small>{}</small></td><td>{} ({:.0} %)</td></tr>",
            escape(if hub.title.is_empty() { &hub.track_id } else { &hub.title }),
            escape(&hub.artist),
            hub.picks,
            100.0 * hub.share_of_playlists
        );
    }
    h.push_str("</table></div></div></section>");
}
