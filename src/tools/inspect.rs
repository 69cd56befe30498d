//! `pixtape inspect`: one image's analysis, laid out for a person.

use std::fmt;
use std::path::Path;

use crate::engine::analysis::Analysis;
use crate::engine::backend::Model;
use crate::engine::decode::{DecodeLimits, Decoder};
use crate::engine::faces::{EXPRESSIONS, FaceFinder, Search};
use crate::engine::model::{CROP_BYTES, ModelOutput};
use crate::engine::mood::{self, Group};
use crate::error::{Error, Failure, Result};
use crate::recommend::Recommender;
use crate::recommend::playlist::Pick;

pub struct Inspection {
    pub path: String,
    pub analysis: Analysis,
    /// With a catalog: the playlist, each pick with its track's identity.
    pub playlist: Vec<(Pick, String)>,
    pub mode: &'static str,
}

/// Decodes and classifies one image, and builds its playlist when given a recommender.
pub fn inspect(
    path: &Path,
    model: &Model,
    limits: DecodeLimits,
    faces: Option<Search>,
    recommend: Option<&Recommender>,
) -> Result<Inspection> {
    let mut crop = vec![0u8; CROP_BYTES];
    let mut decoder = Decoder::new(limits).with_face_frame();
    let mut info = decoder
        .decode_file(path, &mut crop)
        .map_err(|Failure { stage, reason }| Error::input(path, format!("{} failed: {reason}", stage.as_str())))?;
    let mut out = ModelOutput::default();
    model.engine.forward(&crop, 1, &mut out)?;
    // As in a run: faces are searched once the model sees people.
    if let (Some(search), Some(frame)) = (faces, decoder.face_frame()) {
        let mut finder = FaceFinder::new(search.threshold);
        let size = (info.width, info.height);
        info.faces = search.run(&mut finder, model.faces.as_ref(), frame, size, out.logits(0), &mut Vec::new())?;
    }
    let analysis = Analysis::new(&model.head, info, &out, 0, &mut Vec::new());
    let mut picks = Vec::new();
    if let Some(r) = recommend {
        for pick in r.playlist(&analysis)? {
            let t = r.catalog().track(pick.track as usize);
            let who = match (t.title.is_empty(), t.artist.is_empty()) {
                (false, false) => format!("{} — {}", t.title, t.artist),
                (false, true) => t.title.to_string(),
                (true, false) => format!("{} — {}", t.id, t.artist),
                (true, true) => t.id.to_string(),
            };
            picks.push((pick, who));
        }
    }
    let mode = recommend.map_or("match", |r| r.mode().as_str());
    Ok(Inspection { path: path.display().to_string(), analysis, playlist: picks, mode })
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.analysis.info;
        let c = &i.colour;
        writeln!(f, "{}", self.path)?;
        writeln!(f, "  {} x {} {}, {:.1} KB", i.width, i.height, i.format, i.file_bytes as f64 / 1024.0)?;
        if let Some(w) = &i.warning {
            writeln!(f, "  warning: {w}")?;
        }
        writeln!(f, "\n  what the model sees (ImageNet-1k)")?;
        for (_, label, p) in self.analysis.labels() {
            writeln!(f, "    {:>5.1}%  {label}", p * 100.0)?;
        }
        writeln!(f, "\n  colour and light")?;
        writeln!(f, "    brightness     {:.2}   (mean luma, 0 black .. 1 white)", c.brightness)?;
        writeln!(f, "    contrast       {:.2}   (luma std. dev., 0 .. 0.5)", c.contrast)?;
        writeln!(f, "    saturation     {:.2}   (0 grey .. 1 vivid)", c.saturation)?;
        writeln!(f, "    warmth        {:+.2}   (-1 cool/blue .. +1 warm/orange)", c.warmth)?;
        writeln!(
            f,
            "    colourfulness {:5.1}   (Hasler-Süsstrunk: 33 moderate, 59 quite, 82 highly)",
            c.colourfulness
        )?;
        write!(f, "    palette       ")?;
        for p in c.palette() {
            write!(f, " {} {:>3.0}%", p.hex(), p.share * 100.0)?;
        }
        writeln!(f)?;
        if !i.faces.is_empty() {
            writeln!(f, "\n  faces")?;
            for face in &i.faces {
                let mut probs: Vec<(usize, f32)> = face.probs.iter().copied().enumerate().collect();
                probs.sort_by(|a, b| b.1.total_cmp(&a.1));
                let mix: Vec<String> =
                    probs.iter().take(3).map(|&(e, p)| format!("{} {:.0}%", EXPRESSIONS[e], p * 100.0)).collect();
                writeln!(
                    f,
                    "    {:>4.0}x{:<4.0} at ({:.0}, {:.0})  score {:.2}  {}",
                    face.width,
                    face.height,
                    face.x,
                    face.y,
                    face.confidence,
                    mix.join(", ")
                )?;
            }
        }
        let m = &self.analysis.mood;
        writeln!(f, "\n  mood")?;
        writeln!(f, "    valence {:+.2}  arousal {:+.2}  ({})", m[0], m[1], self.analysis.label)?;
        for g in [Group::Moods, Group::Styles, Group::Themes] {
            let top: Vec<String> = mood::ranked(m, g).into_iter().take(4).map(|(n, x)| format!("{n} {x:.2}")).collect();
            writeln!(f, "    {:<7} {}", g.name(), top.join(", "))?;
        }
        if !self.playlist.is_empty() {
            writeln!(f, "\n  playlist ({} the mood)", self.mode)?;
            for (i, (pick, who)) in self.playlist.iter().enumerate() {
                writeln!(f, "    {:>2}. {:.3}  {who}", i + 1, pick.score)?;
                writeln!(f, "             {}", pick.explanation)?;
            }
        }
        Ok(())
    }
}
