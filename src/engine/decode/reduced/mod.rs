//! Baseline JPEGs decoded at 1/8 or 1/4 scale straight from their DCT
//! coefficients, for the large photos (phone cameras: 12 MP and up) whose
//! decode would otherwise cost more than everything after it.
//!
//! At 1/8 scale a block's one output pixel is the mean of its 64 pixels,
//! which is the DC coefficient alone (`DC·q/8 + 128`). At 1/4 scale each of
//! its four output pixels is the mean of a 4x4 quadrant, a fixed sum over
//! the coefficients whose row and column frequencies are 0 or odd (the
//! even ones average to zero over each half); we keep frequencies 0, 1 and
//! 3, the first 14 coefficients in zigzag order, which carry nearly all of
//! it at photo qualities (libjpeg's 2x2 IDCT also adds 5 and 7).
//!
//! Everything after those coefficients still has to be read, since Huffman
//! codes have no boundaries, but not decoded: where libjpeg decodes every
//! coefficient's value, a 12-bit table here says how many bits the complete
//! (code, magnitude bits) pairs at the head of the stream take and how many
//! positions they cover, so one lookup steps over one to several
//! coefficients. The values a block does need come from a 10-bit table that
//! decodes code and magnitude in one lookup. On 12-MP photos the entropy
//! data is nearly all of the work, and this is where the reduced decode's
//! time went.
//!
//! The decoder takes only what it fully understands: baseline or extended
//! sequential Huffman coding, 8-bit samples, one scan holding all of one
//! (grey) or three (YCbCr) components, integer sampling ratios. Anything
//! else (progressive, arithmetic, CMYK, Adobe RGB, several scans) is
//! `Unsupported`, and damaged data (a bad code, a block past 64
//! coefficients, a restart interval that does not end where its marker is)
//! is `Damaged`; the caller then takes its other paths, which judge the
//! file exactly as before.

mod chroma;
mod entropy;
mod header;
mod pixels;
mod skip;
#[cfg(test)]
mod tests;

use entropy::{Bits, Huffman, dc_diff};
pub(super) use header::{Header, parse};
use pixels::{Geometry, Weights, block_values, weights};
use skip::skip_ac;

/// Why the fast path declined a file.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Declined {
    /// A JPEG feature this decoder does not handle.
    Unsupported(&'static str),
    /// The file breaks the format somewhere; the caller's other paths judge it.
    Damaged(&'static str),
}

use Declined::{Damaged, Unsupported};

/// Bits looked at by one step of the skipping table; 2^12 u16 entries per
/// table (8 KiB) keep both AC tables in L1.
const SKIP_BITS: u32 = 12;
/// Zero bytes after the entropy data, more than one block can consume
/// (64 codes of at most 31 bits), so the bit reader never needs a bounds
/// branch beyond the per-block check.
const PAD: usize = 512;

/// Reusable buffers of the fast path.
#[derive(Default)]
pub(super) struct ReducedDecoder {
    clean: Vec<u8>,
    segments: Vec<(usize, usize)>,
    planes: [Vec<f32>; 3],
    /// Components decoded below the output's resolution, upsampled.
    upsampled: Vec<f32>,
}

impl ReducedDecoder {
    /// Releases buffers one huge image grew past `keep` bytes.
    pub(super) fn trim(&mut self, keep: usize) {
        if self.clean.capacity() > keep {
            self.clean = Vec::new();
        }
        for plane in self.planes.iter_mut().chain([&mut self.upsampled]) {
            if plane.capacity() * 4 > keep {
                *plane = Vec::new();
            }
        }
    }

    /// Decodes at 1/`factor` scale (8 or 4) into `out` as RGB8, returning
    /// its size: `ceil(width / factor)` x `ceil(height / factor)`, as
    /// libjpeg's scaled decode.
    pub(super) fn decode(
        &mut self,
        header: &Header,
        factor: usize,
        out: &mut Vec<u8>,
    ) -> Result<(usize, usize), Declined> {
        assert!(factor == 8 || factor == 4, "the fast path reduces by 8 or 4");
        let s = 8 / factor;
        let comps = &header.components;
        let (hmax, vmax) = (comps.iter().map(|c| c.h).max().unwrap(), comps.iter().map(|c| c.v).max().unwrap());
        let (mcus_x, mcus_y) = (header.width.div_ceil(8 * hmax), header.height.div_ceil(8 * vmax));
        self.destuff(header.scan)?;
        let mcus = mcus_x * mcus_y;
        let per_interval = if header.restart == 0 { mcus } else { header.restart };
        if self.segments.len() != mcus.div_ceil(per_interval) {
            return Err(Damaged("restart markers do not match the restart interval"));
        }
        let geometry: Vec<Geometry> = comps.iter().map(|c| Geometry::new(s * hmax / c.h, s * vmax / c.v)).collect();
        let widths: Vec<usize> = comps.iter().zip(&geometry).map(|(c, g)| mcus_x * c.h * g.nx).collect();
        for ((plane, c), (g, &w)) in self.planes.iter_mut().zip(comps).zip(geometry.iter().zip(&widths)) {
            plane.clear();
            plane.resize(w * mcus_y * c.v * g.ny, 0.0);
        }
        let weights: Vec<Box<Weights>> =
            comps.iter().zip(&geometry).map(|(c, g)| weights(g, &header.quant[c.quant])).collect();
        // Each block of an MCU, in stream order: its tables, its plane and
        // its offset there from the MCU's corner.
        let slots: Vec<Slot> = comps
            .iter()
            .enumerate()
            .flat_map(|(k, c)| {
                let (dc, ac) = (header.dc[c.dc_table].as_ref().unwrap(), header.ac[c.ac_table].as_ref().unwrap());
                let (g, width, weights) = (geometry[k], widths[k], &*weights[k]);
                (0..c.v).flat_map(move |by| {
                    (0..c.h).map(move |bx| Slot {
                        dc,
                        ac,
                        weights,
                        plane: k,
                        offset: by * g.ny * width + bx * g.nx,
                        width,
                        geometry: g,
                    })
                })
            })
            .collect();
        // Per plane: how far one MCU moves right, and one MCU row down.
        let step: Vec<(usize, usize)> =
            comps.iter().zip(&geometry).zip(&widths).map(|((c, g), &w)| (c.h * g.nx, c.v * g.ny * w)).collect();
        let limit = self.clean.len() - PAD;
        let mut mcu = 0;
        for &(start, end) in &self.segments {
            let mut bits = Bits::new(&self.clean, start);
            let mut pred = [0i32; 3];
            let last = (mcu + per_interval).min(mcus);
            // Where each plane's block of the current MCU starts: set at the
            // interval's start and at each new MCU row, moved right between.
            let corners_at = |mx: usize, my: usize| -> [usize; 3] {
                std::array::from_fn(|k| step.get(k).map_or(0, |&(right, down)| my * down + mx * right))
            };
            let (mut mx, mut my) = (mcu % mcus_x, mcu / mcus_x);
            let mut corners = corners_at(mx, my);
            while mcu < last {
                if bits.pos > limit + 64 {
                    return Err(Damaged("entropy data ends early"));
                }
                for slot in &slots {
                    let at = corners[slot.plane] + slot.offset;
                    let pred = &mut pred[slot.plane];
                    let plane = &mut self.planes[slot.plane];
                    let g = slot.geometry;
                    if g.need == 1 {
                        *pred += dc_diff(&mut bits, slot.dc)?;
                        skip_ac(&mut bits, slot.ac, 1)?;
                        plane[at] = *pred as f32 * slot.weights[0][0] + 128.0;
                    } else {
                        // One copy of the block loop per cell count, so the
                        // per-coefficient update is exactly as wide as needed.
                        let mut cells = [0f32; 16];
                        let n = g.nx * g.ny;
                        let (dc, ac, w) = (slot.dc, slot.ac, slot.weights);
                        match n {
                            2 => cells[..2].copy_from_slice(&block_values::<2>(&mut bits, dc, ac, pred, g.need, w)?),
                            4 => cells[..4].copy_from_slice(&block_values::<4>(&mut bits, dc, ac, pred, g.need, w)?),
                            8 => cells[..8].copy_from_slice(&block_values::<8>(&mut bits, dc, ac, pred, g.need, w)?),
                            _ => cells = block_values::<16>(&mut bits, dc, ac, pred, g.need, w)?,
                        }
                        for (row, values) in cells[..n].chunks_exact(g.nx).enumerate() {
                            plane[at + row * slot.width..][..g.nx].copy_from_slice(values);
                        }
                    }
                }
                mcu += 1;
                mx += 1;
                if mx == mcus_x {
                    (mx, my) = (0, my + 1);
                    corners = corners_at(mx, my);
                } else {
                    for (corner, &(right, _)) in corners.iter_mut().zip(&step) {
                        *corner += right;
                    }
                }
            }
            // Each interval ends with at most 7 padding bits before its marker.
            let used = bits.position();
            if used > end * 8 || end * 8 - used >= 8 {
                return Err(Damaged("restart interval does not end where its data does"));
            }
        }
        let (w, h) = (header.width.div_ceil(factor), header.height.div_ceil(factor));
        self.write_rgb(&geometry, &widths, (w, h), out);
        Ok((w, h))
    }

    /// Copies the entropy data without its byte stuffing, one segment per
    /// restart interval, up to the marker that ends the scan.
    fn destuff(&mut self, scan: &[u8]) -> Result<(), Declined> {
        self.clean.clear();
        self.clean.reserve(scan.len() + PAD);
        self.segments.clear();
        let mut start = 0;
        let mut i = 0;
        loop {
            // Find the next 0xFF (stuffing or a marker) eight bytes at a
            // time, then copy the run before it in one go.
            let run = i;
            while i + 8 <= scan.len() {
                let w = u64::from_le_bytes(scan[i..i + 8].try_into().unwrap());
                let ff = !w;
                if (ff.wrapping_sub(0x0101_0101_0101_0101) & !ff & 0x8080_8080_8080_8080) != 0 {
                    break;
                }
                i += 8;
            }
            self.clean.extend_from_slice(&scan[run..i]);
            let Some(&b) = scan.get(i) else {
                return Err(Damaged("entropy data ends without a marker"));
            };
            if b != 0xFF {
                self.clean.push(b);
                i += 1;
                continue;
            }
            let mut m = i + 1;
            while scan.get(m) == Some(&0xFF) {
                m += 1;
            }
            match scan.get(m) {
                None => return Err(Damaged("entropy data ends without a marker")),
                Some(0x00) => {
                    self.clean.push(0xFF);
                    i = m + 1;
                }
                Some(0xD0..=0xD7) => {
                    self.segments.push((start, self.clean.len()));
                    start = self.clean.len();
                    i = m + 1;
                }
                Some(_) => {
                    self.segments.push((start, self.clean.len()));
                    self.clean.resize(self.clean.len() + PAD, 0);
                    return Ok(());
                }
            }
        }
    }
}

/// One block's place in an MCU.
struct Slot<'h> {
    dc: &'h Huffman,
    ac: &'h Huffman,
    weights: &'h Weights,
    plane: usize,
    offset: usize,
    width: usize,
    geometry: Geometry,
}
