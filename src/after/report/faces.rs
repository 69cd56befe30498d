//! Faces on the report's thumbnails: each face of `faces.parquet` as a box
//! drawn over its image's thumbnail, labelled with its expression.
//!
//! The thumbnail is the model's centre crop: the image scaled so its short
//! side is `RESIZE_SHORT`, then the centre `INPUT_SIZE` square. A face box
//! in the original image's pixels maps into it by the same transform; boxes
//! are clipped to the square, and a face wholly outside it is still counted
//! in the card's text, which lists every face.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::after::export::escape;
use crate::after::finished::{Image, batches, floats, strings};
use crate::engine::decode::RESIZE_SHORT;
use crate::engine::model::INPUT_SIZE;
use crate::error::Result;

/// One face, as the report shows it.
#[derive(Clone, Debug)]
pub struct FaceBox {
    /// Left, top, width, height in the original image's pixels.
    pub rect: [f32; 4],
    pub confidence: f32,
    pub expression: String,
}

/// The faces of `faces.parquet` by image id, in file order (a run writes
/// them largest first).
pub fn read_faces(path: &Path) -> Result<HashMap<String, Vec<FaceBox>>> {
    let mut out: HashMap<String, Vec<FaceBox>> = HashMap::new();
    for b in batches(path)? {
        let ids = strings(path, &b, "image_id")?;
        let expressions = strings(path, &b, "expression")?;
        let [x, y, w, h, c] = ["x", "y", "width", "height", "confidence"].map(|n| floats(path, &b, n));
        let (x, y, w, h, c) = (x?, y?, w?, h?, c?);
        for (i, id) in ids.into_iter().enumerate() {
            let face = FaceBox { rect: [x[i], y[i], w[i], h[i]], confidence: c[i], expression: expressions[i].clone() };
            out.entry(id).or_default().push(face);
        }
    }
    Ok(out)
}

/// `face`'s box in percent of a `width x height` image's thumbnail (left,
/// top, width, height), clipped to it; `None` when none of it shows.
pub fn thumb_box(face: &FaceBox, width: u32, height: u32) -> Option<[f32; 4]> {
    let short = width.min(height) as f32;
    if short <= 0.0 {
        return None;
    }
    let side = short * INPUT_SIZE as f32 / RESIZE_SHORT as f32;
    let (x0, y0) = ((width as f32 - side) / 2.0, (height as f32 - side) / 2.0);
    let [x, y, w, h] = face.rect;
    let clip = |v: f32| ((v / side) * 100.0).clamp(0.0, 100.0);
    let (left, top) = (clip(x - x0), clip(y - y0));
    let (right, bottom) = (clip(x + w - x0), clip(y + h - y0));
    (right - left >= 1.0 && bottom - top >= 1.0).then_some([left, top, right - left, bottom - top])
}

/// The thumbnail (or its placeholder) with the faces drawn over it.
pub fn thumb_with_faces(h: &mut String, im: &Image, thumb: Option<&str>, faces: &[FaceBox]) {
    h.push_str("<div class=\"thumbwrap\">");
    match thumb {
        Some(uri) => {
            let _ = write!(h, "<img class=\"thumb\" alt=\"{}\" src=\"{uri}\">", escape(&im.id));
        }
        None => h.push_str("<div class=\"thumb nothumb\" title=\"the file is no longer readable\"></div>"),
    }
    for face in faces {
        if let Some([l, t, w, ht]) = thumb_box(face, im.width, im.height) {
            let _ = write!(
                h,
                "<span class=\"face\" style=\"left:{l:.1}%;top:{t:.1}%;width:{w:.1}%;height:{ht:.1}%\" \
                 title=\"{} ({:.0} % sure)\"><b>{}</b></span>",
                escape(&face.expression),
                100.0 * face.confidence,
                escape(&face.expression)
            );
        }
    }
    h.push_str("</div>");
}

/// "2 faces: happy, neutral" for the card's facts; empty without faces.
pub fn faces_line(faces: &[FaceBox]) -> String {
    match faces.len() {
        0 => String::new(),
        n => {
            let names: Vec<&str> = faces.iter().map(|f| f.expression.as_str()).collect();
            format!("{n} face{}: {}", if n == 1 { "" } else { "s" }, escape(&names.join(", ")))
        }
    }
}

/// Styles of the boxes.
pub const FACE_STYLE: &str = r#"
.thumbwrap{position:relative;width:96px;height:96px}
.face{position:absolute;border:2px solid #ffd23f;border-radius:3px;box-shadow:0 0 0 1px rgba(0,0,0,.45)}
.face b{position:absolute;left:-2px;top:100%;background:#ffd23f;color:#1d2330;font-size:9px;font-weight:600;line-height:1.2;padding:0 3px;border-radius:0 0 3px 3px;white-space:nowrap}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn face(rect: [f32; 4]) -> FaceBox {
        FaceBox { rect, confidence: 0.9, expression: "happy".into() }
    }

    #[test]
    fn boxes_map_through_the_centre_crop() {
        // A 512x256 landscape: the shown square is 224 of 256 rows, centred.
        let side = 256.0 * 224.0 / 256.0;
        let x0 = (512.0 - side) / 2.0;
        let b = thumb_box(&face([x0, 16.0, side / 2.0, side / 4.0]), 512, 256).unwrap();
        assert!((b[0] - 0.0).abs() < 1e-3 && (b[1] - 0.0).abs() < 1e-3, "{b:?}");
        assert!((b[2] - 50.0).abs() < 1e-3 && (b[3] - 25.0).abs() < 1e-3, "{b:?}");
        // Wholly left of the square: not drawn; half outside: clipped.
        assert!(thumb_box(&face([0.0, 20.0, 50.0, 50.0]), 512, 256).is_none());
        let c = thumb_box(&face([x0 - 20.0, 40.0, 40.0, 40.0]), 512, 256).unwrap();
        assert!((c[0] - 0.0).abs() < 1e-3 && (c[2] - 100.0 * 20.0 / side).abs() < 1e-3, "{c:?}");
        assert!(thumb_box(&face([0.0, 0.0, 10.0, 10.0]), 0, 0).is_none());
    }

    #[test]
    fn faces_line_counts_and_escapes() {
        assert_eq!(faces_line(&[]), "");
        let mut odd = face([0.0; 4]);
        odd.expression = "<b>".into();
        assert_eq!(faces_line(&[face([0.0; 4]), odd]), "2 faces: happy, &lt;b&gt;");
    }
}
