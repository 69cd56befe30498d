//! Coefficients to pixels: the fixed weights that turn a block's first
//! coefficients into the means of its 1/4- or 1/8-scale cells (the reduced
//! inverse DCT with the quantisation folded in), and the block loop that
//! decodes just those coefficients and adds up their shares, so no block is
//! ever transformed in full.

use super::entropy::{Bits, Huffman, VALUE_BITS, VALUE_EOB, dc_diff, ends_block};
use super::skip::skip_ac;
use super::{Damaged, Declined};

/// Zigzag position -> natural (row-major) index within the 8x8 block.
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

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
static BASIS: std::sync::LazyLock<[[[f64; 8]; 4]; 3]> = std::sync::LazyLock::new(|| {
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

/// One block decoded to its cell means: the DC and the AC values before
/// zigzag position `need`, each adding its weighted share to every cell
/// (most are zero and never coded), the rest skipped.
#[inline(always)]
pub(super) fn block_values<const N: usize>(
    bits: &mut Bits,
    dc: &Huffman,
    ac: &Huffman,
    pred: &mut i32,
    need: u32,
    weights: &Weights,
) -> Result<[f32; N], Declined> {
    let mut cells = [128f32; N];
    let add = |cells: &mut [f32; N], value: i32, w: &[f32; 16]| {
        for (c, w) in cells.iter_mut().zip(w) {
            *c += value as f32 * w;
        }
    };
    *pred += dc_diff(bits, dc)?;
    add(&mut cells, *pred, &weights[0]);
    let mut k = 1u32;
    while k < need {
        if bits.count < 32 {
            bits.refill();
        }
        // Code and magnitude in one lookup when they fit in `VALUE_BITS`,
        // else the code the long way and then its magnitude. A run of
        // sixteen zeros is (15, 0): fifteen zeros and a zero value.
        let e = ac.value[(bits.buf >> (64 - VALUE_BITS)) as usize];
        let (run, value) = if e != 0 {
            bits.consume(e & 31);
            if e & VALUE_EOB != 0 {
                return Ok(cells);
            }
            ((e >> 5) & 15, e as i32 >> 16)
        } else {
            let (len, symbol) = ac.decode(bits.buf).ok_or(Damaged("bad Huffman code"))?;
            bits.consume(len);
            if ends_block(symbol) {
                return Ok(cells);
            }
            let size = (symbol & 15) as u32;
            ((symbol >> 4) as u32, if size == 0 { 0 } else { bits.signed(size) })
        };
        k += run;
        if k > 63 {
            return Err(Damaged("block has more than 64 coefficients"));
        }
        if k < need {
            add(&mut cells, value, &weights[k as usize]);
        }
        k += 1;
    }
    if k < 64 {
        skip_ac(bits, ac, k)?;
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct inverse DCT of a natural-order block, level-shifted.
    fn inverse_dct(block: &[f64; 64]) -> [f64; 64] {
        let c = |u: usize| if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
        let cos = |p: usize, u: usize| ((2 * p + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
        let mut out = [0f64; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0.0;
                for u in 0..8 {
                    for v in 0..8 {
                        s += c(u) * c(v) * block[u * 8 + v] * cos(y, u) * cos(x, v);
                    }
                }
                out[y * 8 + x] = s / 4.0 + 128.0;
            }
        }
        out
    }

    /// The cell means `block_values` builds from the weights equal the
    /// means of a direct inverse DCT over each cell, for every geometry,
    /// given the coefficients it decodes (all of them beyond 2x2 cells).
    /// For 2x2 cells it reads the first 14; the test also bounds what the
    /// rest would have added, for a block of like-sized coefficients.
    #[test]
    fn weights_are_cell_means_of_the_inverse_dct() {
        let mut rng = crate::rng::Rng(7);
        for (fx, fy) in [(1, 1), (2, 2), (2, 1), (1, 2), (4, 4), (4, 2), (2, 4), (8, 8)] {
            let g = Geometry::new(fx, fy);
            let quant: [u16; 64] = std::array::from_fn(|_| 1 + (rng.next() % 40) as u16);
            let w = weights(&g, &quant);
            for _ in 0..20 {
                let q: [i32; 64] = std::array::from_fn(|zz| {
                    if zz == 0 { (rng.next() % 200) as i32 - 100 } else { (rng.next() % 21) as i32 - 10 }
                });
                let mut block = [0f64; 64];
                let mut cells = [128f64; 16];
                for zz in 0..g.need as usize {
                    block[ZIGZAG[zz] as usize] = (q[zz] * quant[zz] as i32) as f64;
                    for (c, &wk) in cells.iter_mut().zip(&w[zz]) {
                        *c += q[zz] as f64 * wk as f64;
                    }
                }
                let pixels = inverse_dct(&block);
                let (sx, sy) = (8 / g.nx, 8 / g.ny);
                for i in 0..g.ny {
                    for j in 0..g.nx {
                        let mean = (0..sy)
                            .flat_map(|y| (0..sx).map(move |x| (x, y)))
                            .map(|(x, y)| pixels[(i * sy + y) * 8 + j * sx + x])
                            .sum::<f64>()
                            / (sx * sy) as f64;
                        let got = cells[i * g.nx + j];
                        assert!((got - mean).abs() < 1e-2, "{fx}x{fy} cell ({i},{j}): {got} vs {mean}");
                    }
                }
            }
            // What the coefficients past `need` would add: nothing for one
            // cell (the DC is the mean); for 2x2, only frequencies 5 and 7
            // and (3,3), each under a quarter of frequency 1's weight.
            let largest = |zz: usize| w[zz].iter().map(|x| x.abs() / quant[zz] as f32).fold(0f32, f32::max);
            for zz in g.need as usize..64 {
                match g.need {
                    1 => assert!(largest(zz) < 1e-6, "{fx}x{fy} position {zz}"),
                    14 => assert!(largest(zz) <= 0.25 * largest(1).max(largest(2)), "{fx}x{fy} position {zz}"),
                    _ => unreachable!(),
                }
            }
        }
    }
}
