//! `pixtape inspect`: one image's analysis, laid out for a person.

use std::fmt;
use std::path::Path;

use crate::decode::{CROP_BYTES, DecodeLimits, DecodedInfo, Decoder, Failure};
use crate::error::{Error, Result};
use crate::model::{self, Engine, FEATURE_DIM, NUM_CLASSES};
use crate::pipeline::TOP_K_LABELS;

pub struct Inspection {
    pub path: String,
    pub info: DecodedInfo,
    /// (label, probability), most probable first.
    pub labels: Vec<(&'static str, f32)>,
}

/// Decodes and classifies one image.
pub fn inspect(path: &Path, engine: &dyn Engine, limits: DecodeLimits) -> Result<Inspection> {
    let mut crop = vec![0u8; CROP_BYTES];
    let info = Decoder::new(limits).decode_file(path, &mut crop).map_err(
        |Failure { stage, reason }| {
            Error::input(path, format!("{} failed: {reason}", stage.as_str()))
        },
    )?;
    let mut features = vec![0.0; FEATURE_DIM];
    let mut logits = vec![0.0; NUM_CLASSES];
    engine.forward(&crop, 1, &mut features, &mut logits)?;
    model::softmax(&mut logits);
    let classes = model::class_names();
    let labels = model::top_k(&logits, TOP_K_LABELS)
        .into_iter()
        .map(|c| (classes[c], logits[c]))
        .collect();
    Ok(Inspection {
        path: path.display().to_string(),
        info,
        labels,
    })
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.info;
        let c = &i.colour;
        writeln!(f, "{}", self.path)?;
        writeln!(
            f,
            "  {} x {} {}, {:.1} KB",
            i.width,
            i.height,
            i.format,
            i.file_bytes as f64 / 1024.0
        )?;
        if let Some(w) = &i.warning {
            writeln!(f, "  warning: {w}")?;
        }
        writeln!(f, "\n  what the model sees (ImageNet-1k)")?;
        for (label, p) in &self.labels {
            writeln!(f, "    {:>5.1}%  {label}", p * 100.0)?;
        }
        writeln!(f, "\n  colour and light")?;
        writeln!(
            f,
            "    brightness     {:.2}   (mean luma, 0 black .. 1 white)",
            c.brightness
        )?;
        writeln!(
            f,
            "    contrast       {:.2}   (luma std. dev., 0 .. 0.5)",
            c.contrast
        )?;
        writeln!(
            f,
            "    saturation     {:.2}   (0 grey .. 1 vivid)",
            c.saturation
        )?;
        writeln!(
            f,
            "    warmth        {:+.2}   (-1 cool/blue .. +1 warm/orange)",
            c.warmth
        )?;
        writeln!(
            f,
            "    colourfulness {:5.1}   (Hasler-Süsstrunk: 33 moderate, 59 quite, 82 highly)",
            c.colourfulness
        )?;
        write!(f, "    palette       ")?;
        for p in c.palette() {
            write!(f, " {} {:>3.0}%", p.hex(), p.share * 100.0)?;
        }
        writeln!(f)
    }
}
