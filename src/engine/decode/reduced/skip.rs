//! The skip table: per AC Huffman table, a 12-bit lookup that steps over
//! the (code, magnitude) pairs a reduced block does not need, one to
//! several coefficients a lookup, and the loop that reads a block's tail
//! with it. Huffman codes have no boundaries, so those coefficients must
//! still be read; not decoding them is most of the reduced decode's speed.
//!
//! `Huffman::new` lives here, not beside the struct in `entropy.rs`: it
//! builds all three lookups at once, the skip table among them, and this
//! way `entropy.rs` needs nothing from this file.

use super::entropy::{Bits, FAST_BITS, Huffman, VALUE_BITS, VALUE_EOB, ends_block, extend};
use super::{Damaged, Declined, SKIP_BITS};

const SKIP_EOB: u16 = 64;
const SKIP_EOB_FLAG: u16 = 1 << 13;
const SKIP_NONE: u16 = 127;
/// Where the positions covered start in an entry; below them, the bits
/// taken, in the six bits a 64-bit shift reads, so the entry itself can be
/// the shift count and the step's critical path has no mask in it.
const SKIP_COVERED: u16 = 6;

impl Huffman {
    pub(super) fn new(counts: &[u8; 16], symbols: &[u8], ac: bool) -> Result<Self, Declined> {
        let mut max_code = [-1i32; 17];
        let mut offset = [0i32; 17];
        let mut fast = Box::new([0u16; 1 << FAST_BITS]);
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16usize {
            let n = counts[len - 1] as usize;
            offset[len] = k as i32 - code as i32;
            for _ in 0..n {
                if len <= FAST_BITS as usize {
                    let shift = FAST_BITS as usize - len;
                    for fill in 0..1usize << shift {
                        fast[((code as usize) << shift) | fill] = (len as u16) << 8 | symbols[k] as u16;
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len] = code as i32 - 1;
            }
            // No code may be all ones (libjpeg's rule), so the next free
            // code must still fit in `len` bits.
            if code >= 1 << len {
                return Err(Damaged("over-subscribed Huffman table"));
            }
            code <<= 1;
        }
        let mut table = Huffman {
            fast,
            max_code,
            offset,
            symbols: symbols.to_vec(),
            skip: Box::new([0; 1 << SKIP_BITS]),
            value: Box::new([0; 1 << VALUE_BITS]),
        };
        table.build_skip(ac);
        for p in 0..1usize << VALUE_BITS {
            let bits = (p as u64) << (64 - VALUE_BITS);
            let Some((len, symbol)) = table.decode(bits) else { continue };
            let (run, size) = if ac { ((symbol >> 4) as u32, (symbol & 15) as u32) } else { (0, symbol as u32) };
            let total = len + size;
            if size > 15 || total > VALUE_BITS {
                continue;
            }
            let v = if size == 0 { 0 } else { extend(((bits << len) >> (64 - size)) as i32, size) };
            let eob = if ac && ends_block(symbol) { VALUE_EOB } else { 0 };
            table.value[p] = (v as u32) << 16 | eob | run << 5 | total;
        }
        Ok(table)
    }

    /// Fills the skip table: an entry per `SKIP_BITS`-bit window for an AC
    /// table; for a DC table, which is never stepped by it, `SKIP_NONE`
    /// throughout.
    pub(super) fn build_skip(&mut self, ac: bool) {
        self.skip.fill(SKIP_NONE << SKIP_COVERED);
        if ac {
            for p in 0..1usize << SKIP_BITS {
                self.skip[p] = self.skip_entry((p as u64) << (64 - SKIP_BITS));
            }
        }
    }

    /// The skip-table entry for the `SKIP_BITS` bits at the head of `bits`
    /// (the rest zero): pairs whose code and magnitude bits both lie within
    /// the window, up to and including an end of block.
    fn skip_entry(&self, bits: u64) -> u16 {
        let (mut taken, mut covered) = (0u32, 0u32);
        while taken < SKIP_BITS {
            let Some((len, symbol)) = self.decode(bits << taken) else { break };
            let size = (symbol & 15) as u32;
            if taken + len + size > SKIP_BITS {
                break;
            }
            if ends_block(symbol) {
                return (taken + len) as u16 | (covered as u16 + SKIP_EOB) << SKIP_COVERED | SKIP_EOB_FLAG;
            }
            // A run of sixteen zeros (15, 0) is 15 + 1 positions like any pair.
            let step = (symbol >> 4) as u32 + 1;
            if covered + step > 63 {
                break;
            }
            taken += len + size;
            covered += step;
        }
        if taken == 0 { SKIP_NONE << SKIP_COVERED } else { taken as u16 | (covered as u16) << SKIP_COVERED }
    }
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
fn skip_end(bits: &mut Bits, ac: &Huffman, mut k: u32, e: u16) -> Result<(), Declined> {
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

#[cfg(test)]
mod tests {
    use super::super::PAD;
    use super::*;

    /// Stepping with the skip table lands where decoding every pair does,
    /// for random tables and streams.
    #[test]
    fn skip_table_agrees_with_one_pair_at_a_time() {
        let mut rng = crate::rng::Rng(11);
        for round in 0..40 {
            // A random table: 2..=121 symbols (end of block and the
            // zero run always among them), code lengths drawn at random
            // under Kraft's inequality with room left over (no all-ones code).
            let n = 2 + (rng.next() % 120) as usize;
            let mut symbols: Vec<u8> = vec![0x00, 0xF0];
            while symbols.len() < n {
                let s = ((rng.next() % 16) << 4 | (1 + rng.next() % 10)) as u8;
                if !symbols.contains(&s) {
                    symbols.push(s);
                }
            }
            let shortest = 1 + round % 4;
            let mut room = 1u64 << 16; // in units of 2^-16
            let mut lens = Vec::new();
            for (i, &s) in symbols.iter().enumerate() {
                let left = (symbols.len() - i - 1) as u64;
                let mut len = shortest + (rng.next() % (17 - shortest as u64)) as usize;
                while len <= 16 && (1u64 << (16 - len)) + left + 1 > room {
                    len += 1;
                }
                assert!(len <= 16);
                room -= 1 << (16 - len);
                lens.push((len, s));
            }
            lens.sort_by_key(|&(len, _)| len);
            let symbols: Vec<u8> = lens.iter().map(|&(_, s)| s).collect();
            let mut counts = [0u8; 16];
            lens.iter().for_each(|&(len, _)| counts[len - 1] += 1);
            let table = Huffman::new(&counts, &symbols, true).unwrap();
            // Encode random blocks with this table and check both ways agree.
            let mut codes = vec![(0u32, 0u32); 256];
            let (mut code, mut k) = (0u32, 0usize);
            for len in 1..=16u32 {
                for _ in 0..counts[len as usize - 1] {
                    codes[symbols[k] as usize] = (code, len);
                    code += 1;
                    k += 1;
                }
                code <<= 1;
            }
            let mut writer = BitWriter::default();
            let mut blocks = 0;
            for _ in 0..200 {
                let mut pos = 1u32;
                loop {
                    let pick = symbols[(rng.next() % symbols.len() as u64) as usize];
                    let step = match pick {
                        0 => 0,
                        0xF0 => 16,
                        s => (s >> 4) as u32 + 1,
                    };
                    if pick != 0 && pos + step > 64 {
                        continue;
                    }
                    let (c, l) = codes[pick as usize];
                    writer.put(c, l);
                    let size = (pick & 15) as u32;
                    if pick != 0 && pick != 0xF0 {
                        writer.put((rng.next() as u32) & ((1 << size) - 1), size);
                    }
                    pos += step;
                    if pick == 0 || pos == 64 {
                        break;
                    }
                }
                blocks += 1;
            }
            let data = writer.finish();
            let mut fast = Bits::new(&data, 0);
            let mut slow = Bits::new(&data, 0);
            for b in 0..blocks {
                skip_ac(&mut fast, &table, 1).unwrap();
                slow_skip(&mut slow, &table);
                assert_eq!(fast.position(), slow.position(), "round {round}, block {b}");
            }
        }
    }

    fn slow_skip(bits: &mut Bits, ac: &Huffman) {
        let mut k = 1;
        while k < 64 {
            bits.refill();
            let (len, symbol) = ac.decode(bits.buf).unwrap();
            bits.consume(len);
            match symbol {
                0 => return,
                0xF0 => k += 16,
                s => {
                    bits.consume((s & 15) as u32);
                    k += (s >> 4) as u32 + 1;
                }
            }
        }
    }

    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        acc: u64,
        n: u32,
    }

    impl BitWriter {
        fn put(&mut self, v: u32, len: u32) {
            if len == 0 {
                return;
            }
            self.acc = self.acc << len | v as u64;
            self.n += len;
            while self.n >= 8 {
                self.bytes.push((self.acc >> (self.n - 8)) as u8);
                self.n -= 8;
            }
        }

        fn finish(mut self) -> Vec<u8> {
            if self.n > 0 {
                self.put((1 << (8 - self.n)) - 1, 8 - self.n);
            }
            self.bytes.resize(self.bytes.len() + PAD, 0);
            self.bytes
        }
    }
}
