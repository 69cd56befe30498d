//! From a decoded frame to faces: the detector's passes, box decoding as
//! face-api does it (sigmoid offsets within a cell, exponential anchor
//! scales), one non-maximum suppression over every pass, the cap on faces
//! a picture keeps, the face crops (clipped to the frame, padded to a
//! centred square, resized to 112) and their expressions. The networks run
//! on whichever `FaceEngine` the caller passes.

use fast_image_resize as fr;

use super::{
    ANCHORS, CELL, DETECTOR_OUT, FACE_BYTES, FACE_SIDE, FRAME_MAX, Face, FaceEngine, IOU_THRESHOLD, MAX_FACES, PASSES,
    grid_side,
};
use crate::error::{Error, Result};

/// A box in frame pixels and its score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub score: f32,
}

impl Detection {
    fn iou(&self, o: &Detection) -> f32 {
        let iw = ((self.x + self.w).min(o.x + o.w) - self.x.max(o.x)).max(0.0);
        let ih = ((self.y + self.h).min(o.y + o.h) - self.y.max(o.y)).max(0.0);
        let inter = iw * ih;
        inter / (self.w * self.h + o.w * o.h - inter)
    }
}

/// The (side, fill) passes a frame of `fw x fh` gets: those of 416 always,
/// a larger one only where the frame has that much detail.
pub fn passes(fw: usize, fh: usize) -> Vec<(usize, f32, f32)> {
    PASSES.iter().copied().filter(|&(side, _, _)| side <= PASSES[0].0 || fw.max(fh) >= side).collect()
}

/// The scale that fits a frame's long side into `fill` of a square of `side`.
pub fn pass_scale(fw: usize, fh: usize, side: usize, fill: f32) -> f32 {
    (side as f64 * fill as f64 / fw.max(fh) as f64) as f32
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// The boxes above `threshold` in one pass's raw output, in frame pixels;
/// `scale` is the pass's (frame pixels times scale = input pixels).
pub fn decode(raw: &[f32], side: usize, scale: f32, threshold: f32, out: &mut Vec<Detection>) {
    let cells = grid_side(side);
    assert_eq!(raw.len(), cells * cells * DETECTOR_OUT);
    // Relative positions are of the input square (cells * CELL wide).
    let px = (cells * CELL) as f32 / scale;
    for (cell, v) in raw.chunks_exact(DETECTOR_OUT).enumerate() {
        let (row, col) = (cell / cells, cell % cells);
        for (a, &(ax, ay)) in ANCHORS.iter().enumerate() {
            let t = &v[a * 5..a * 5 + 5];
            let score = sigmoid(t[4]);
            if score <= threshold {
                continue;
            }
            let cx = (col as f32 + sigmoid(t[0])) / cells as f32;
            let cy = (row as f32 + sigmoid(t[1])) / cells as f32;
            let bw = t[2].exp() * ax / cells as f32;
            let bh = t[3].exp() * ay / cells as f32;
            out.push(Detection { x: (cx - bw / 2.0) * px, y: (cy - bh / 2.0) * px, w: bw * px, h: bh * px, score });
        }
    }
}

/// Greedy non-maximum suppression, strongest first (ties keep input order).
pub fn suppress(mut boxes: Vec<Detection>) -> Vec<Detection> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for b in boxes {
        if b.w > 0.0 && b.h > 0.0 && kept.iter().all(|k| k.iou(&b) <= IOU_THRESHOLD) {
            kept.push(b);
        }
    }
    kept
}

/// The frame pixels a box covers: floor of its corner, ceiling of the far
/// one, within the frame; `None` if nothing is left.
pub fn clip(d: &Detection, fw: usize, fh: usize) -> Option<(usize, usize, usize, usize)> {
    let x0 = d.x.floor().max(0.0) as usize;
    let y0 = d.y.floor().max(0.0) as usize;
    let x1 = ((d.x + d.w).ceil().max(0.0) as usize).min(fw);
    let y1 = ((d.y + d.h).ceil().max(0.0) as usize).min(fh);
    (x1 > x0 && y1 > y0).then_some((x0, y0, x1 - x0, y1 - y0))
}

/// Finds faces in frames, one worker's buffers reused across images.
pub struct FaceFinder {
    threshold: f32,
    resizer: fr::Resizer,
    scaled: Vec<u8>,
    inputs: Vec<u8>,
    canvas: Vec<u8>,
    crops: Vec<u8>,
}

impl FaceFinder {
    /// `threshold`: the detector score a face needs, in (0, 1).
    pub fn new(threshold: f32) -> FaceFinder {
        FaceFinder {
            threshold,
            resizer: fr::Resizer::new(),
            scaled: Vec::new(),
            inputs: Vec::new(),
            canvas: Vec::new(),
            crops: Vec::new(),
        }
    }

    /// The boxes, in frame pixels and strongest first, of the RGB8 frame
    /// `fw x fh`, before the cap.
    pub fn detect(&mut self, engine: &dyn FaceEngine, frame: &[u8], fw: usize, fh: usize) -> Result<Vec<Detection>> {
        let mut boxes = Vec::new();
        let all = passes(fw, fh);
        // Passes of one side go to the engine as one batch.
        let mut sides: Vec<usize> = all.iter().map(|p| p.0).collect();
        sides.dedup();
        for side in sides {
            // The fine pass looks for the small faces beside those the
            // coarse passes found (a group photo); a frame where they found
            // none is spared its cost (see `PASSES`).
            if side > PASSES[0].0 && boxes.is_empty() {
                break;
            }
            let group: Vec<(f32, f32)> = all.iter().filter(|p| p.0 == side).map(|p| (p.1, p.2)).collect();
            let per = side * side * 3;
            self.inputs.clear();
            self.inputs.resize(per * group.len(), 0);
            for (i, &(fill, _)) in group.iter().enumerate() {
                let fit = |n: usize| {
                    ((n as f64 * side as f64 * fill as f64 / fw.max(fh) as f64).round() as usize).clamp(1, side)
                };
                let (sw, sh) = (fit(fw), fit(fh));
                resize(&mut self.resizer, frame, fw, fh, (0, 0, fw, fh), sw, sh, &mut self.scaled)?;
                let dst = &mut self.inputs[i * per..(i + 1) * per];
                for y in 0..sh {
                    dst[y * side * 3..][..sw * 3].copy_from_slice(&self.scaled[y * sw * 3..][..sw * 3]);
                }
            }
            let raw = engine.detect(&self.inputs, side, group.len())?;
            let per_out = grid_side(side).pow(2) * DETECTOR_OUT;
            for (i, &(fill, least)) in group.iter().enumerate() {
                let scale = pass_scale(fw, fh, side, fill);
                let start = boxes.len();
                decode(&raw[i * per_out..(i + 1) * per_out], side, scale, self.threshold, &mut boxes);
                let least = least * fw.max(fh) as f32;
                let mut j = 0;
                boxes.retain(|b| (j < start || b.w.max(b.h) >= least, j += 1).0);
            }
        }
        Ok(suppress(boxes))
    }

    /// The `FACE_SIDE` crop of box `b` of the frame into `out`: clipped,
    /// padded with black to a centred square, resized. `None` if the box
    /// lies outside the frame.
    pub fn crop(&mut self, frame: &[u8], fw: usize, fh: usize, b: &Detection, out: &mut [u8]) -> Result<Option<()>> {
        let Some((x0, y0, w, h)) = clip(b, fw, fh) else { return Ok(None) };
        let side = w.max(h);
        self.canvas.clear();
        self.canvas.resize(side * side * 3, 0);
        let (ox, oy) = ((side - w) / 2, (side - h) / 2);
        for y in 0..h {
            let src = &frame[((y0 + y) * fw + x0) * 3..][..w * 3];
            self.canvas[((oy + y) * side + ox) * 3..][..w * 3].copy_from_slice(src);
        }
        let canvas = std::mem::take(&mut self.canvas);
        let r =
            resize(&mut self.resizer, &canvas, side, side, (0, 0, side, side), FACE_SIDE, FACE_SIDE, &mut self.scaled);
        self.canvas = canvas;
        r?;
        out.copy_from_slice(&self.scaled[..FACE_BYTES]);
        Ok(Some(()))
    }

    /// The faces of the RGB8 frame `fw x fh` of an image `width x height`
    /// (EXIF-oriented), boxes in the image's pixels, strongest first: at
    /// most `MAX_FACES`, the largest kept.
    pub fn find(
        &mut self,
        engine: &dyn FaceEngine,
        frame: &[u8],
        (fw, fh): (usize, usize),
        (width, height): (u32, u32),
    ) -> Result<Vec<Face>> {
        if fw == 0 || fh == 0 || frame.len() < fw * fh * 3 {
            return Err(Error::Model(format!("face frame of {fw}x{fh} pixels with {} bytes", frame.len())));
        }
        let mut boxes = self.detect(engine, frame, fw, fh)?;
        boxes.retain(|b| clip(b, fw, fh).is_some());
        if boxes.len() > MAX_FACES {
            let mut by_area: Vec<usize> = (0..boxes.len()).collect();
            by_area.sort_by(|&a, &b| (boxes[b].w * boxes[b].h).total_cmp(&(boxes[a].w * boxes[a].h)));
            let mut keep = vec![false; boxes.len()];
            by_area[..MAX_FACES].iter().for_each(|&i| keep[i] = true);
            let mut i = 0;
            boxes.retain(|_| (keep[i], i += 1).0);
        }
        let mut crops = std::mem::take(&mut self.crops);
        crops.clear();
        crops.resize(boxes.len() * FACE_BYTES, 0);
        for (i, b) in boxes.iter().enumerate() {
            self.crop(frame, fw, fh, b, &mut crops[i * FACE_BYTES..(i + 1) * FACE_BYTES])?;
        }
        let probs = if boxes.is_empty() { Vec::new() } else { engine.express(&crops, boxes.len())? };
        self.crops = crops;
        let (kx, ky) = (width as f32 / fw as f32, height as f32 / fh as f32);
        Ok(boxes
            .iter()
            .zip(probs)
            .map(|(b, probs)| {
                let (x0, y0) = ((b.x * kx).max(0.0), (b.y * ky).max(0.0));
                let (x1, y1) = (((b.x + b.w) * kx).min(width as f32), ((b.y + b.h) * ky).min(height as f32));
                Face { x: x0, y: y0, width: x1 - x0, height: y1 - y0, confidence: b.score, probs }
            })
            .collect())
    }
}

/// Bilinear resize (antialiased, as Pillow) of the `src_box` of an RGB8 image into `dst`.
#[allow(clippy::too_many_arguments)]
pub fn resize(
    resizer: &mut fr::Resizer,
    src: &[u8],
    w: usize,
    h: usize,
    src_box: (usize, usize, usize, usize),
    dw: usize,
    dh: usize,
    dst: &mut Vec<u8>,
) -> Result<()> {
    let err = |e: String| Error::Model(format!("face resize: {e}"));
    let image = fr::images::ImageRef::new(w as u32, h as u32, &src[..w * h * 3], fr::PixelType::U8x3)
        .map_err(|e| err(e.to_string()))?;
    dst.clear();
    dst.resize(dw * dh * 3, 0);
    let mut out = fr::images::Image::from_slice_u8(dw as u32, dh as u32, dst, fr::PixelType::U8x3)
        .map_err(|e| err(e.to_string()))?;
    let b = src_box;
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
        .crop(b.0 as f64, b.1 as f64, b.2 as f64, b.3 as f64);
    resizer.resize(&image, &mut out, &options).map_err(|e| err(e.to_string()))
}

/// The face frame's size for a decoded image of `w x h`: the long side at
/// most `FRAME_MAX`, each side at least 1.
pub fn frame_size(w: usize, h: usize) -> (usize, usize) {
    let long = w.max(h);
    if long <= FRAME_MAX {
        return (w, h);
    }
    let s = FRAME_MAX as f64 / long as f64;
    (((w as f64 * s).round() as usize).max(1), ((h as f64 * s).round() as usize).max(1))
}
