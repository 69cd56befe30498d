//! The entropy decoder's base: each Huffman table in the lookup forms the
//! decoder steps by (one code at a time, or code and magnitude together),
//! the bit reader over the destuffed scan data, and the DC difference each
//! block starts with. The skip table, the one lookup a reduced decode adds,
//! is built and walked in `skip.rs`.

use super::{Damaged, Declined, SKIP_BITS};

/// Bits looked at by the one-symbol table; longer codes are searched.
pub(super) const FAST_BITS: u32 = 9;

/// One Huffman table, in the forms the decoder steps by.
pub(super) struct Huffman {
    /// Next `FAST_BITS` bits -> `len << 8 | symbol`; 0 when the code is
    /// longer. Fixed-size, so indexing by `FAST_BITS` bits needs no check.
    pub(super) fast: Box<[u16; 1 << FAST_BITS]>,
    /// Canonical decoding of longer codes: the largest code of each length
    /// (-1 for none) and where that length's symbols start.
    pub(super) max_code: [i32; 17],
    pub(super) offset: [i32; 17],
    pub(super) symbols: Vec<u8>,
    /// AC tables only: next `SKIP_BITS` bits -> bits taken (low 6) and
    /// positions covered (next 7) by the longest run of complete pairs
    /// that fits, an end of block counting as `SKIP_EOB` positions (with
    /// `SKIP_EOB_FLAG` set as well), so that one comparison,
    /// `k + covered < 64`, tells the common step (stay in the block) from
    /// everything else: the block's end, a step past it, or no complete
    /// pair (covered `SKIP_NONE`).
    pub(super) skip: Box<[u16; 1 << SKIP_BITS]>,
    /// Next `VALUE_BITS` bits -> the value they code (high 16 bits) and the
    /// bits code and magnitude take together (low 5), when both fit, and
    /// for AC tables the zero run before the value (bits 5-8; a run of 16
    /// zeros is a run of 15 and a zero) or the end of block (`VALUE_EOB`);
    /// 0 when they do not fit.
    pub(super) value: Box<[u32; 1 << VALUE_BITS]>,
}

pub(super) const VALUE_EOB: u32 = 1 << 11;

/// Bits looked at by the table that decodes code and magnitude at once.
pub(super) const VALUE_BITS: u32 = 10;

impl std::fmt::Debug for Huffman {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Huffman").field("symbols", &self.symbols.len()).finish()
    }
}

impl Huffman {
    /// The code at the head of `bits` (left-aligned, at least 16 valid):
    /// its length and symbol.
    #[inline(always)]
    pub(super) fn decode(&self, bits: u64) -> Option<(u32, u8)> {
        let e = self.fast[(bits >> (64 - FAST_BITS)) as usize];
        if e != 0 {
            return Some(((e >> 8) as u32, e as u8));
        }
        self.decode_long(bits)
    }

    #[cold]
    fn decode_long(&self, bits: u64) -> Option<(u32, u8)> {
        for len in FAST_BITS as usize + 1..=16 {
            let code = (bits >> (64 - len)) as i32;
            if code <= self.max_code[len] {
                let at = (code + self.offset[len]) as usize;
                return self.symbols.get(at).map(|&s| (len as u32, s));
            }
        }
        None
    }
}

/// MSB-first bit reader over destuffed entropy data (with `PAD` zero bytes
/// after it): the branch-free refill keeps 56 to 63 bits in `buf`.
pub(super) struct Bits<'a> {
    data: &'a [u8],
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

/// Whether an AC symbol ends its block: the end-of-block code, and, as
/// libjpeg reads them, the (run, size 0) codes baseline leaves undefined;
/// only (15, 0) is a run of sixteen zeros.
#[inline(always)]
pub(super) fn ends_block(symbol: u8) -> bool {
    symbol & 15 == 0 && symbol != 0xF0
}

/// JPEG's EXTEND: the `n`-bit magnitude field `v` as a signed value.
#[inline(always)]
pub(super) fn extend(v: i32, n: u32) -> i32 {
    if v < 1 << (n - 1) { v - (1 << n) + 1 } else { v }
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
