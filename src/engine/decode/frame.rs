//! Frame geometry and pixel layout for the decode stage: the resize plan,
//! the centre crop, EXIF orientation and the conversion of decoded pixels
//! to RGB8, each as torchvision and Pillow do it.

use image::ColorType;
use image::metadata::Orientation;

use super::{MAX_ASPECT, RESIZE_SHORT};
use crate::engine::model::INPUT_SIZE;

/// Source box (left, top, width, height) and resized size for an oriented
/// image of `w x h`: torchvision's `Resize(256)` (short side 256, long side
/// truncated), with the long side first cropped to `MAX_ASPECT` times the short.
pub fn resize_plan(w: usize, h: usize) -> ((f64, f64, f64, f64), (usize, usize)) {
    let (short, long) = (w.min(h), w.max(h));
    let kept = long.min(short * MAX_ASPECT);
    let offset = (long - kept) as f64 / 2.0;
    let new_long = RESIZE_SHORT * kept / short;
    if w <= h {
        ((0.0, offset, w as f64, kept as f64), (RESIZE_SHORT, new_long))
    } else {
        ((offset, 0.0, kept as f64, h as f64), (new_long, RESIZE_SHORT))
    }
}

/// Python's `round` (half to even), which torchvision's CenterCrop uses.
pub(super) fn round_half_even(x: f64) -> usize {
    let f = x.floor();
    let up = x - f > 0.5 || (x - f == 0.5 && f % 2.0 != 0.0);
    (if up { f + 1.0 } else { f }) as usize
}

/// Copies the centre `INPUT_SIZE` square of an RGB8 frame.
pub fn centre_crop(frame: &[u8], w: usize, h: usize, crop: &mut [u8]) {
    let top = round_half_even((h - INPUT_SIZE) as f64 / 2.0);
    let left = round_half_even((w - INPUT_SIZE) as f64 / 2.0);
    for y in 0..INPUT_SIZE {
        let src = &frame[((top + y) * w + left) * 3..][..INPUT_SIZE * 3];
        crop[y * INPUT_SIZE * 3..][..INPUT_SIZE * 3].copy_from_slice(src);
    }
}

/// Applies an EXIF orientation to an RGB8 image of `w x h`.
pub fn orient(src: &[u8], w: usize, h: usize, o: Orientation, dst: &mut Vec<u8>) {
    let swaps = matches!(
        o,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    );
    let (ow, oh) = if swaps { (h, w) } else { (w, h) };
    dst.clear();
    dst.resize(ow * oh * 3, 0);
    for y in 0..oh {
        for x in 0..ow {
            let (sx, sy) = match o {
                Orientation::NoTransforms => (x, y),
                Orientation::FlipHorizontal => (w - 1 - x, y),
                Orientation::FlipVertical => (x, h - 1 - y),
                Orientation::Rotate180 => (w - 1 - x, h - 1 - y),
                Orientation::Rotate90 => (y, h - 1 - x),
                Orientation::Rotate270 => (w - 1 - y, x),
                Orientation::Rotate90FlipH => (y, x),
                Orientation::Rotate270FlipH => (w - 1 - y, h - 1 - x),
            };
            let s = (sy * w + sx) * 3;
            dst[(y * ow + x) * 3..][..3].copy_from_slice(&src[s..s + 3]);
        }
    }
}

/// Converts decoded pixels to RGB8 the way Pillow's `convert("RGB")` does
/// for these modes: grey is replicated and alpha is dropped.
pub(super) fn to_rgb8(raw: &[u8], color: ColorType, pixels: usize, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    out.reserve(pixels * 3);
    let u16_at = |i: usize| u16::from_ne_bytes([raw[2 * i], raw[2 * i + 1]]);
    let from16 = |v: u16| ((v as u32 + 128) / 257) as u8;
    let f32_at = |i: usize| f32::from_ne_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]);
    let from_f = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    match color {
        ColorType::L8 => raw[..pixels].iter().for_each(|&v| out.extend_from_slice(&[v, v, v])),
        ColorType::La8 => raw.chunks_exact(2).take(pixels).for_each(|p| out.extend_from_slice(&[p[0], p[0], p[0]])),
        ColorType::Rgba8 => raw.chunks_exact(4).take(pixels).for_each(|p| out.extend_from_slice(&p[..3])),
        ColorType::L16 | ColorType::La16 => {
            let step = if color == ColorType::L16 { 1 } else { 2 };
            (0..pixels).for_each(|i| {
                let v = from16(u16_at(i * step));
                out.extend_from_slice(&[v, v, v]);
            })
        }
        ColorType::Rgb16 | ColorType::Rgba16 => {
            let step = if color == ColorType::Rgb16 { 3 } else { 4 };
            (0..pixels).for_each(|i| (0..3).for_each(|c| out.push(from16(u16_at(i * step + c)))))
        }
        ColorType::Rgb32F | ColorType::Rgba32F => {
            let step = if color == ColorType::Rgb32F { 3 } else { 4 };
            (0..pixels).for_each(|i| (0..3).for_each(|c| out.push(from_f(f32_at(i * step + c)))))
        }
        other => return Err(format!("unsupported pixel layout {other:?}")),
    }
    Ok(())
}
