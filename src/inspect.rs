//! `pixtape inspect`: one image's analysis, laid out for a person.

use std::fmt;
use std::path::Path;

use crate::decode::{CROP_BYTES, DecodeLimits, DecodedInfo, Decoder, Failure};
use crate::error::{Error, Result};
use crate::model::{self, Engine, ModelOutput};
use crate::mood::{self, Group, MoodVector};
use crate::pipeline::{Recommend, TOP_K_LABELS};
use crate::playlist::{self, Pick};

pub struct Inspection {
    pub path: String,
    pub info: DecodedInfo,
    /// (label, probability), most probable first.
    pub labels: Vec<(&'static str, f32)>,
    pub mood: MoodVector,
    /// With a catalog: the playlist, each pick with its track's identity.
    pub playlist: Vec<(Pick, String)>,
    pub mode: &'static str,
}

/// Decodes and classifies one image, and builds its playlist when given a catalog.
pub fn inspect(
    path: &Path,
    engine: &dyn Engine,
    limits: DecodeLimits,
    recommend: Option<&Recommend>,
) -> Result<Inspection> {
    let mut crop = vec![0u8; CROP_BYTES];
    let info = Decoder::new(limits)
        .decode_file(path, &mut crop)
        .map_err(|Failure { stage, reason }| Error::input(path, format!("{} failed: {reason}", stage.as_str())))?;
    let mut out = ModelOutput::default();
    engine.forward(&crop, 1, &mut out)?;
    let mut probs = out.logits(0).to_vec();
    model::softmax(&mut probs);
    let classes = model::class_names();
    let labels = model::top_k(&probs, TOP_K_LABELS).into_iter().map(|c| (classes[c], probs[c])).collect();
    let mood = mood::image_mood_from(&out.semantic(0), &info.colour);
    let mut picks = Vec::new();
    if let Some(r) = recommend {
        let target = r.mode.apply(&mood);
        let q = mood::sim_vector(&target, mood::Groups::ALL, &r.weights, false);
        let hits = r.matcher.top_k(&[q], r.playlist.candidates())?;
        for pick in playlist::build(&q, &target, &info.colour, &hits[0], r.catalog, &r.playlist) {
            let t = r.catalog.track(pick.track as usize);
            let who = match (t.title.is_empty(), t.artist.is_empty()) {
                (false, false) => format!("{} — {}", t.title, t.artist),
                (false, true) => t.title.to_string(),
                (true, false) => format!("{} — {}", t.id, t.artist),
                (true, true) => t.id.to_string(),
            };
            picks.push((pick, who));
        }
    }
    let mode = recommend.map_or("match", |r| r.mode.as_str());
    Ok(Inspection { path: path.display().to_string(), info, labels, mood, playlist: picks, mode })
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.info;
        let c = &i.colour;
        writeln!(f, "{}", self.path)?;
        writeln!(f, "  {} x {} {}, {:.1} KB", i.width, i.height, i.format, i.file_bytes as f64 / 1024.0)?;
        if let Some(w) = &i.warning {
            writeln!(f, "  warning: {w}")?;
        }
        writeln!(f, "\n  what the model sees (ImageNet-1k)")?;
        for (label, p) in &self.labels {
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
        let m = &self.mood;
        writeln!(f, "\n  mood")?;
        writeln!(f, "    valence {:+.2}  arousal {:+.2}  ({})", m[0], m[1], mood::top_mood(m))?;
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
