//! The per-pixel part of the intensity cues, summed over 16 x 16 blocks:
//! the plain CPU reference of `shaders/cues.wgsl`.
//!
//! Every cue that needs more than a few operations a pixel (gradients, the
//! Laplacian, the ring test for point lights) is a sum of per-pixel terms,
//! so one pass writes, per block, the sums in `BlockSums`; `super::finish`
//! turns the table into cues on the CPU. The kernel gives a workgroup to a
//! block and sums its 256 terms by the same halving tree as `reduce` below,
//! so the two engines differ only where a GPU fuses a multiply and an add.
//!
//! Per pixel, on luma `L = (0.299 R + 0.587 G + 0.114 B) / 255` with
//! neighbours clamped to the frame:
//! * `gx`, `gy`: the 3 x 3 Sobel derivatives over 4 (a unit step gives 1);
//! * an edge where `gx² + gy² > EDGE²`;
//! * the 4-neighbour Laplacian `|4 L − L_left − L_right − L_up − L_down|`;
//! * for a bright pixel (`L ≥ LIGHT_MIN`), eight samples on a ring of
//!   radius 4 (four opposite pairs): a sample is dark when it is more than
//!   `LIGHT_DROP` below the pixel. Seven or eight dark samples make a point
//!   light; four to six, with one opposite pair both lit, a light trail (a
//!   streak runs through the pixel, dark on either side).

/// Side of a block, in pixels; the kernel's workgroup is one block.
pub const BLOCK: usize = 16;
/// Values per block, in `BlockSums` order.
pub const BLOCK_VALUES: usize = 13;
/// Gradient magnitude above which a pixel is an edge.
pub const EDGE: f32 = 0.1;
/// Luma from which a pixel can be a light.
pub const LIGHT_MIN: f32 = 0.7;
/// How much darker than the pixel a ring sample must be to count as dark.
pub const LIGHT_DROP: f32 = 0.35;
/// Ring offsets, as opposite pairs: (4, 0) and (−4, 0), then (0, ±4), then
/// the two diagonals at (±3, ±3) (radius 4.2).
pub const RING: [(i32, i32); 8] = [(4, 0), (-4, 0), (0, 4), (0, -4), (3, 3), (-3, -3), (3, -3), (-3, 3)];

/// Positions in a block's row of the table.
pub mod at {
    pub const PIXELS: usize = 0;
    pub const EDGES: usize = 1;
    pub const MAGNITUDE: usize = 2;
    pub const LAPLACIAN: usize = 3;
    pub const GXX: usize = 4;
    pub const GYY: usize = 5;
    pub const GXY: usize = 6;
    pub const LIGHTS: usize = 7;
    pub const TRAILS: usize = 8;
    /// Sums of R, G and B (0..255), then of luma.
    pub const RED: usize = 9;
    pub const GREEN: usize = 10;
    pub const BLUE: usize = 11;
    pub const LUMA: usize = 12;
}

/// The block table of a frame: `blocks_x * blocks_y` rows of
/// `BLOCK_VALUES`, row-major over blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockSums {
    pub width: usize,
    pub height: usize,
    pub blocks_x: usize,
    pub blocks_y: usize,
    pub values: Vec<f32>,
}

impl BlockSums {
    pub fn row(&self, bx: usize, by: usize) -> &[f32] {
        &self.values[(by * self.blocks_x + bx) * BLOCK_VALUES..][..BLOCK_VALUES]
    }

    /// The sum of value `k` over every block.
    pub fn total(&self, k: usize) -> f64 {
        self.values.chunks_exact(BLOCK_VALUES).map(|r| r[k] as f64).sum()
    }
}

pub fn luma(px: &[u8]) -> f32 {
    (0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32) * (1.0 / 255.0)
}

/// The block table of an RGB8 frame (`width * height * 3` bytes).
pub fn block_table(rgb: &[u8], width: usize, height: usize) -> BlockSums {
    assert!(width > 0 && height > 0 && rgb.len() >= width * height * 3, "cues need a non-empty RGB8 frame");
    let lum: Vec<f32> = rgb[..width * height * 3].chunks_exact(3).map(luma).collect();
    let (blocks_x, blocks_y) = (width.div_ceil(BLOCK), height.div_ceil(BLOCK));
    let mut values = Vec::with_capacity(blocks_x * blocks_y * BLOCK_VALUES);
    let mut terms = vec![[0.0f32; BLOCK_VALUES]; BLOCK * BLOCK];
    for by in 0..blocks_y {
        for bx in 0..blocks_x {
            for (i, t) in terms.iter_mut().enumerate() {
                let (x, y) = (bx * BLOCK + i % BLOCK, by * BLOCK + i / BLOCK);
                *t = if x < width && y < height { pixel_terms(rgb, &lum, width, height, x, y) } else { [0.0; 13] };
            }
            values.extend_from_slice(&reduce(&mut terms));
        }
    }
    BlockSums { width, height, blocks_x, blocks_y, values }
}

/// The halving tree the kernel sums a workgroup's terms by: at each step,
/// term `i` adds term `i + half`.
fn reduce(terms: &mut [[f32; BLOCK_VALUES]]) -> [f32; BLOCK_VALUES] {
    let mut half = terms.len() / 2;
    while half > 0 {
        for i in 0..half {
            let other = terms[i + half];
            for (a, b) in terms[i].iter_mut().zip(other) {
                *a += b;
            }
        }
        half /= 2;
    }
    terms[0]
}

/// What pixel (x, y) adds to its block.
fn pixel_terms(rgb: &[u8], lum: &[f32], w: usize, h: usize, x: usize, y: usize) -> [f32; BLOCK_VALUES] {
    let at = |dx: i32, dy: i32| {
        let xx = (x as i32 + dx).clamp(0, w as i32 - 1) as usize;
        let yy = (y as i32 + dy).clamp(0, h as i32 - 1) as usize;
        lum[yy * w + xx]
    };
    let c = at(0, 0);
    let gx = ((at(1, -1) + 2.0 * at(1, 0) + at(1, 1)) - (at(-1, -1) + 2.0 * at(-1, 0) + at(-1, 1))) * 0.25;
    let gy = ((at(-1, 1) + 2.0 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2.0 * at(0, -1) + at(1, -1))) * 0.25;
    let m2 = gx * gx + gy * gy;
    let lap = (4.0 * c - at(-1, 0) - at(1, 0) - at(0, -1) - at(0, 1)).abs();
    let (mut light, mut trail) = (0.0, 0.0);
    if c >= LIGHT_MIN {
        let dark: [bool; 8] = std::array::from_fn(|k| at(RING[k].0, RING[k].1) < c - LIGHT_DROP);
        let n = dark.iter().filter(|&&d| d).count();
        let lit_pair = (0..4).any(|p| !dark[2 * p] && !dark[2 * p + 1]);
        if n >= 7 {
            light = 1.0;
        } else if n >= 4 && lit_pair {
            trail = 1.0;
        }
    }
    let px = &rgb[(y * w + x) * 3..][..3];
    [
        1.0,
        if m2 > EDGE * EDGE { 1.0 } else { 0.0 },
        m2.sqrt(),
        lap,
        gx * gx,
        gy * gy,
        gx * gy,
        light,
        trail,
        px[0] as f32,
        px[1] as f32,
        px[2] as f32,
        c,
    ]
}
