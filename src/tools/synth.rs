//! Synthetic photos: JPEG scenes made from a seed, for scale tests, the
//! cluster and resume tests, and benchmarks, so that none of them needs a
//! download or the user's pictures.
//!
//! A scene is a sky-to-ground gradient between two random colours, a few
//! soft discs (a sun, trees, faces at a distance) and mild sensor noise,
//! which gives the decoder real entropy to chew on and the model a spread
//! of outputs, unlike flat or pure-noise images. Sizes vary around the one
//! asked for, and some photos are portrait, as a camera roll is.

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;

use crate::error::{Error, Result};
use crate::rng::Rng;

/// What `photos` makes.
#[derive(Clone, Copy, Debug)]
pub struct PhotoSpec {
    /// Width and height of a landscape photo; each photo varies by up to
    /// ±25 % unless `exact`, and one in five is portrait.
    pub width: u32,
    pub height: u32,
    pub exact: bool,
    pub quality: u8,
    pub seed: u64,
}

impl Default for PhotoSpec {
    fn default() -> Self {
        PhotoSpec { width: 640, height: 480, exact: false, quality: 88, seed: 7 }
    }
}

/// Writes `count` photos `photo-000000.jpg`, ... into `dir` (created if
/// missing); returns their paths. The same spec gives the same files.
pub fn photos(dir: &Path, count: usize, spec: &PhotoSpec) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths = Vec::with_capacity(count);
    for i in 0..count {
        let path = dir.join(format!("photo-{i:06}.jpg"));
        // Renamed into place, so a stopped generator leaves no torn photo;
        // not synced, as test data can be made again.
        let tmp = dir.join(format!(".photo-{i:06}.jpg.partial"));
        std::fs::write(&tmp, photo(spec, i as u64)).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Photo number `index` of `spec`, JPEG-encoded.
pub fn photo(spec: &PhotoSpec, index: u64) -> Vec<u8> {
    let mut rng = Rng(spec.seed.wrapping_mul(0x9e37_79b9).wrapping_add(index.wrapping_mul(0x85eb_ca6b)));
    let (mut w, mut h) = (spec.width.max(8), spec.height.max(8));
    if !spec.exact {
        let s = 0.75 + 0.5 * rng.unit();
        w = ((w as f32 * s) as u32).max(8);
        h = ((h as f32 * s) as u32).max(8);
        if rng.unit() < 0.2 {
            std::mem::swap(&mut w, &mut h);
        }
    }
    let colour = |rng: &mut Rng| [rng.unit() * 255.0, rng.unit() * 255.0, rng.unit() * 255.0];
    let (top, bottom) = (colour(&mut rng), colour(&mut rng));
    let horizon = 0.3 + 0.4 * rng.unit();
    let discs: Vec<([f32; 3], f32, f32, f32)> = (0..2 + rng.next() % 5)
        .map(|_| (colour(&mut rng), rng.unit() * w as f32, rng.unit() * h as f32, (0.03 + 0.2 * rng.unit()) * w as f32))
        .collect();
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    for y in 0..h {
        let t = y as f32 / h as f32;
        // A soft horizon: the gradient bends around it.
        let k = (0.5 + (t - horizon) * 4.0).clamp(0.0, 1.0);
        let base: [f32; 3] = std::array::from_fn(|c| top[c] * (1.0 - k) + bottom[c] * k);
        for x in 0..w {
            let mut p = base;
            for (c, cx, cy, r) in &discs {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                let a = (1.0 - (d - r) / (0.25 * r)).clamp(0.0, 1.0);
                for ch in 0..3 {
                    p[ch] = p[ch] * (1.0 - a) + c[ch] * a;
                }
            }
            let noise = (rng.next() >> 58) as f32 - 32.0;
            let o = ((y * w + x) * 3) as usize;
            for ch in 0..3 {
                pixels[o + ch] = (p[ch] + noise * 0.25).clamp(0.0, 255.0) as u8;
            }
        }
    }
    let mut bytes = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut bytes, spec.quality.clamp(1, 100));
    encoder
        .encode(&pixels, w, h, image::ExtendedColorType::Rgb8)
        .expect("encoding an RGB buffer of matching size into memory cannot fail");
    bytes
}
