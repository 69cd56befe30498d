//! Intensity cues: measured properties of a frame that the affective-image
//! literature ties to arousal, which ImageNet's classes say little about.
//! The mood head reads them beside the colour measures.
//!
//! All are computed on the resized frame (short side 256, the whole frame,
//! before the model's crop), like `colour`. The per-pixel work is a table
//! of 16 x 16 block sums (`blocks`: the CPU reference, `gpu`: the kernel);
//! what is said below is finished from that table, except the sky, which
//! walks the frame's columns on the CPU (a few operations a pixel).
//!
//! * `edge_density`: share of pixels whose Sobel gradient exceeds 0.1 of
//!   the luma range (Machajdik & Hanbury 2010 use edge and texture
//!   statistics as arousal features).
//! * `texture_energy`: mean absolute 4-neighbour Laplacian of luma: fine
//!   detail, high for foliage, crowds and noise, low for sky and haze.
//! * `clutter`: share of 16 x 16 blocks with at least 10 % edge pixels:
//!   how much of the frame is busy (detail spread everywhere, as in a crowd
//!   or a market, rather than one textured object).
//! * `point_lights` and `light_trails`: per mille of pixels that are a
//!   small light (bright, dark all around at radius 4) or a streak of light
//!   (bright, dark on both sides of a lit line), times the frame's darkness
//!   `clamp((0.45 − mean luma) / 0.3, 0, 1)`: street lights, signs, stage
//!   lights and car trails in night scenes, not white flowers by day.
//! * `region_contrast`: mean CIELAB ΔE76 between neighbouring cells of a
//!   4 x 4 grid, over 100: colour contrast between regions.
//! * `motion_blur`: the coherence of the frame's structure tensor,
//!   `√((Jxx − Jyy)² + 4 Jxy²) / (Jxx + Jyy)`, times its lack of fine
//!   detail, `clamp(1 − Σ|Laplacian| / Σ|gradient|, 0, 1)`: gradients all
//!   in one direction and soft edges, as a streak of motion leaves.
//! * `sky_share`: share of the frame that is sky: per column, the run of
//!   smooth, sky-coloured pixels (blue, bright grey, or night dark) from the
//!   top edge down.
//! * `people`: from the model, not the frame: the summed probability of
//!   ImageNet's person classes and of what people wear (see `people`),
//!   until faces are counted.

pub mod blocks;
pub mod gpu;
pub mod people;
#[cfg(test)]
mod tests;

pub use blocks::{BlockSums, block_table};
pub use people::people_score;

use crate::engine::colour::srgb_to_lab;
use blocks::{BLOCK, at};

/// Every cue the head reads: the frame's (the first `FRAME_CUES`), then
/// `people`, from the model.
pub const CUE_NAMES: [&str; 9] = [
    "edge_density",
    "texture_energy",
    "clutter",
    "point_lights",
    "light_trails",
    "region_contrast",
    "motion_blur",
    "sky_share",
    "people",
];
pub const CUES: usize = CUE_NAMES.len();
/// Cues measured on the frame: all but `people`.
pub const FRAME_CUES: usize = CUES - 1;

/// Share of edge pixels from which a block is busy.
const BUSY_BLOCK: f32 = 0.1;
/// The grid `region_contrast` compares.
const GRID: usize = 4;

/// The frame's cues, in `CUE_NAMES` order.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameCues(pub [f32; FRAME_CUES]);

impl FrameCues {
    /// The cues of an RGB8 frame, the per-pixel sums computed on the CPU.
    pub fn measure(rgb: &[u8], width: usize, height: usize) -> FrameCues {
        finish(&block_table(rgb, width, height), sky_share(rgb, width, height))
    }

    /// Every cue the head reads, with the model's `people` score.
    pub fn with_people(&self, people: f32) -> [f32; CUES] {
        let mut all = [0.0; CUES];
        all[..FRAME_CUES].copy_from_slice(&self.0);
        all[FRAME_CUES] = people;
        all
    }
}

/// The cues from a block table (either engine's) and the sky share.
pub fn finish(t: &BlockSums, sky: f32) -> FrameCues {
    let n = t.total(at::PIXELS).max(1.0);
    let mean_luma = t.total(at::LUMA) / n;
    let darkness = ((0.45 - mean_luma) / 0.3).clamp(0.0, 1.0);
    let busy: f64 = t
        .values
        .chunks_exact(blocks::BLOCK_VALUES)
        .filter(|r| r[at::PIXELS] > 0.0 && r[at::EDGES] >= BUSY_BLOCK * r[at::PIXELS])
        .map(|r| r[at::PIXELS] as f64)
        .sum();
    let (jxx, jyy, jxy) = (t.total(at::GXX), t.total(at::GYY), t.total(at::GXY));
    let energy = jxx + jyy;
    let coherence = if energy > 1e-9 { ((jxx - jyy).powi(2) + 4.0 * jxy * jxy).sqrt() / energy } else { 0.0 };
    let magnitude = t.total(at::MAGNITUDE);
    let soft = if magnitude > 1e-9 { (1.0 - t.total(at::LAPLACIAN) / magnitude).clamp(0.0, 1.0) } else { 0.0 };
    FrameCues([
        (t.total(at::EDGES) / n) as f32,
        (t.total(at::LAPLACIAN) / n) as f32,
        (busy / n) as f32,
        (1000.0 * t.total(at::LIGHTS) / n * darkness) as f32,
        (1000.0 * t.total(at::TRAILS) / n * darkness) as f32,
        region_contrast(t),
        (coherence * soft) as f32,
        sky,
    ])
}

/// Mean ΔE76 between 4-neighbouring cells of a `GRID x GRID` grid, over 100.
/// A block belongs to the cell its centre falls in.
fn region_contrast(t: &BlockSums) -> f32 {
    let mut cells = [[0.0f64; 4]; GRID * GRID];
    for by in 0..t.blocks_y {
        for bx in 0..t.blocks_x {
            let r = t.row(bx, by);
            let cx = ((bx * BLOCK + BLOCK / 2) * GRID / t.width).min(GRID - 1);
            let cy = ((by * BLOCK + BLOCK / 2) * GRID / t.height).min(GRID - 1);
            let cell = &mut cells[cy * GRID + cx];
            for (c, k) in [at::RED, at::GREEN, at::BLUE, at::PIXELS].into_iter().enumerate() {
                cell[c] += r[k] as f64;
            }
        }
    }
    let lab: Vec<Option<[f32; 3]>> = cells
        .iter()
        .map(|c| (c[3] > 0.0).then(|| srgb_to_lab([0, 1, 2].map(|k| (c[k] / c[3]).round().clamp(0.0, 255.0) as u8))))
        .collect();
    let (mut sum, mut pairs) = (0.0f32, 0);
    for cy in 0..GRID {
        for cx in 0..GRID {
            let here = lab[cy * GRID + cx];
            for (nx, ny) in [(cx + 1, cy), (cx, cy + 1)] {
                if let (Some(a), true) = (here, nx < GRID && ny < GRID)
                    && let Some(b) = lab[ny * GRID + nx]
                {
                    sum += ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
                    pairs += 1;
                }
            }
        }
    }
    if pairs == 0 { 0.0 } else { sum / pairs as f32 / 100.0 }
}

/// Luma step to the next pixel, right or down, under which a pixel is smooth.
const SKY_SMOOTH: f32 = 0.03;

/// Whether a pixel has a sky's colour: blue, bright and nearly grey
/// (overcast, haze), or night dark.
fn sky_coloured(px: &[u8], luma: f32) -> bool {
    let (r, g, b) = (px[0] as i32, px[1] as i32, px[2] as i32);
    let spread = r.max(g).max(b) - r.min(g).min(b);
    (b > r && b + 16 >= g && luma > 0.25) || (spread < 32 && luma > 0.55) || luma < 0.1
}

/// Share of the frame that is sky: per column, the run of smooth,
/// sky-coloured pixels from the top edge down, over at most the top 70 %.
pub fn sky_share(rgb: &[u8], width: usize, height: usize) -> f32 {
    let px = |x: usize, y: usize| &rgb[(y * width + x) * 3..][..3];
    let limit = (height * 7).div_ceil(10);
    let mut sky = 0usize;
    for x in 0..width {
        for y in 0..limit {
            let l = blocks::luma(px(x, y));
            let right = blocks::luma(px((x + 1).min(width - 1), y));
            let down = blocks::luma(px(x, (y + 1).min(height - 1)));
            if (l - right).abs() + (l - down).abs() >= SKY_SMOOTH || !sky_coloured(px(x, y), l) {
                break;
            }
            sky += 1;
        }
    }
    sky as f32 / (width * height) as f32
}
