//! The entropy decoder: a bit reader over destuffed scan data, and per
//! block the DC difference, the coefficients a reduced block needs, and the
//! skipped rest up to the end of the block.

use super::pixels::Weights;
use super::skip::{Huffman, SKIP_COVERED, SKIP_EOB, SKIP_EOB_FLAG, VALUE_BITS, VALUE_EOB, ends_block, extend};
use super::{Damaged, Declined, SKIP_BITS};

/// MSB-first bit reader over destuffed entropy data (with `PAD` zero bytes
/// after it): the branch-free refill keeps 56 to 63 bits in `buf`.
pub(super) struct Bits<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    pub(super) buf: u64,
    pub(super) count: u32,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        let mut b = Bits { data, pos, buf: 0, count: 0 };
        b.refill();
        b
    }

    #[inline(always)]
    pub(super) fn refill(&mut self) {
        let word = u64::from_be_bytes(self.data[self.pos..self.pos + 8].try_into().unwrap());
        self.buf |= word >> self.count;
        self.pos += (63 - self.count as usize) >> 3;
        self.count |= 56;
    }

    #[inline(always)]
    pub(super) fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.count -= n;
    }

    /// The next `n` bits (1..=16) as a signed coefficient (JPEG's EXTEND).
    #[inline(always)]
    pub(super) fn signed(&mut self, n: u32) -> i32 {
        let v = (self.buf >> (64 - n)) as i32;
        self.consume(n);
        extend(v, n)
    }

    /// Bits read so far, from the start of `data`.
    pub(super) fn position(&self) -> usize {
        self.pos * 8 - self.count as usize
    }
}

#[inline(always)]
pub(super) fn dc_diff(bits: &mut Bits, dc: &Huffman) -> Result<i32, Declined> {
    if bits.count < 32 {
        bits.refill();
    }
    let e = dc.value[(bits.buf >> (64 - VALUE_BITS)) as usize];
    if e != 0 {
        bits.consume(e & 31);
        return Ok(e as i32 >> 16);
    }
    let (len, size) = dc.decode(bits.buf).ok_or(Damaged("bad Huffman code"))?;
    bits.consume(len);
    Ok(match size {
        0 => 0,
        1..=15 => bits.signed(size as u32),
        _ => return Err(Damaged("bad DC magnitude")),
    })
}

/// Steps over the AC coefficients from zigzag position `k` to the end of
/// the block without decoding their values.
#[inline(always)]
pub(super) fn skip_ac(bits: &mut Bits, ac: &Huffman, mut k: u32) -> Result<(), Declined> {
    // Two table steps per refill check: a refill leaves at least 56 bits,
    // and each step takes at most `SKIP_BITS`.
    const { assert!(2 * SKIP_BITS <= 32) };
    loop {
        if bits.count < 32 {
            bits.refill();
        }
        for _ in 0..2 {
            let e = ac.skip[(bits.buf >> (64 - SKIP_BITS)) as usize];
            let next = k + ((e >> SKIP_COVERED) & 127) as u32;
            if next < 64 {
                bits.buf = bits.buf.wrapping_shl(e as u32);
                bits.count -= (e & 63) as u32;
                k = next;
                continue;
            }
            // The usual way out: an end of block, nothing crossing 64.
            if e & SKIP_EOB_FLAG != 0 && next < 64 + SKIP_EOB as u32 {
                bits.consume((e & 63) as u32);
                return Ok(());
            }
            return skip_end(bits, ac, k, e);
        }
    }
}

/// The uncommon step of `skip_ac`: the block's end, or one pair decoded
/// the long way (a code too long for the table, or a step that would
/// cross the block's end), then the rest of the block.
#[inline(never)]
pub(super) fn skip_end(bits: &mut Bits, ac: &Huffman, mut k: u32, e: u16) -> Result<(), Declined> {
    let taken = (e & 63) as u32;
    if taken != 0 {
        let eob = e & SKIP_EOB_FLAG != 0;
        let next = k + ((e >> SKIP_COVERED) & 127) as u32 - if eob { SKIP_EOB as u32 } else { 0 };
        // A run ending exactly at 64 is the block's end only if nothing (not
        // even an end of block) follows it in the same step.
        if (eob && next < 64) || (!eob && next == 64) {
            bits.consume(taken);
            return Ok(());
        }
    }
    if bits.count < 32 {
        bits.refill();
    }
    let (len, symbol) = ac.decode(bits.buf).ok_or(Damaged("bad Huffman code"))?;
    bits.consume(len);
    if ends_block(symbol) {
        return Ok(());
    }
    bits.consume((symbol & 15) as u32);
    k += (symbol >> 4) as u32 + 1;
    match k {
        64 => Ok(()),
        65.. => Err(Damaged("block has more than 64 coefficients")),
        _ => skip_ac(bits, ac, k),
    }
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
