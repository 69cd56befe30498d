//! Coefficients to pixels: the fixed weights that turn a block's first
//! coefficients into the means of its 1/4- or 1/8-scale cells (the reduced
//! inverse DCT with the quantisation folded in), and where each block's
//! cells go in its plane.

use super::ZIGZAG;
use super::skip::Huffman;

/// The first `w` values of each of the first `h` rows of a plane.
pub(super) fn rows(plane: &[f32], stride: usize, w: usize, h: usize) -> impl Iterator<Item = &f32> {
    plane.chunks(stride).take(h).flat_map(move |r| &r[..w])
}

#[inline(always)]
pub(super) fn to_u8(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// One block's place in an MCU.
pub(super) struct Slot<'h> {
    pub(super) dc: &'h Huffman,
    pub(super) ac: &'h Huffman,
    pub(super) weights: &'h Weights,
    pub(super) plane: usize,
    pub(super) offset: usize,
    pub(super) width: usize,
    pub(super) geometry: Geometry,
}

/// How one component's blocks are reduced. A block covers `fx` x `fy`
/// output pixels (8/factor times the component's subsampling); it is
/// decoded to `nx` x `ny` cell means (at most 4 a side), and the plane is
/// upsampled by the rest, `ux` x `uy`, afterwards.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geometry {
    pub(super) nx: usize,
    pub(super) ny: usize,
    pub(super) ux: usize,
    pub(super) uy: usize,
    /// Coefficients (in zigzag order) whose values are decoded: the DC
    /// alone for one cell; the first 14 for 2x2 cells (frequencies 0, 1 and
    /// 3 a side, where the even ones contribute nothing to half-block
    /// means); all 64 for finer cells.
    pub(super) need: u32,
}

impl Geometry {
    pub(super) fn new(fx: usize, fy: usize) -> Self {
        let (nx, ny) = (fx.min(4), fy.min(4));
        let need = match nx.max(ny) {
            1 => 1,
            2 => 14,
            _ => 64,
        };
        Geometry { nx, ny, ux: fx / nx, uy: fy / ny, need }
    }
}

/// Per zigzag position, what one unit of that quantised coefficient adds
/// to each cell mean (row-major, `nx` per row, at most 16 cells): the
/// dequantisation and the inverse DCT averaged over the cell in one factor.
pub(super) type Weights = [[f32; 16]; 64];

/// `BASIS[log2 n][cell][u]`: the mean of C(u)/2 · cos((2x+1)uπ/16) over
/// cell `cell` of `n` equal cells of a block side (n = 1, 2, 4).
pub(super) static BASIS: std::sync::LazyLock<[[[f64; 8]; 4]; 3]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|log_n| {
        let span = 8 >> log_n;
        std::array::from_fn(|cell| {
            std::array::from_fn(|u| {
                let c = if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
                let xs = (cell * span..(cell + 1) * span).filter(|&x| x < 8);
                let sum: f64 = xs.map(|x| ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()).sum();
                c / 2.0 * sum / span as f64
            })
        })
    })
});

pub(super) fn weights(g: &Geometry, quant: &[u16; 64]) -> Box<Weights> {
    let basis = |n: usize, cell: usize, u: usize| BASIS[n.trailing_zeros() as usize][cell][u];
    let mut w = Box::new([[0f32; 16]; 64]);
    for (zz, row) in w.iter_mut().enumerate() {
        let natural = ZIGZAG[zz] as usize;
        let (u, v) = (natural / 8, natural % 8);
        for i in 0..g.ny {
            for j in 0..g.nx {
                row[i * g.nx + j] = (quant[zz] as f64 * basis(g.ny, i, u) * basis(g.nx, j, v)) as f32;
            }
        }
    }
    w
}
