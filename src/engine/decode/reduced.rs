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

use image::metadata::Orientation;

/// Why the fast path declined a file.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Declined {
    /// A JPEG feature this decoder does not handle.
    Unsupported(&'static str),
    /// The file breaks the format somewhere; the caller's other paths judge it.
    Damaged(&'static str),
}

use Declined::{Damaged, Unsupported};

/// Zigzag position -> natural (row-major) index within the 8x8 block.
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// Bits looked at by one step of the skipping table; 2^12 u16 entries per
/// table (8 KiB) keep both AC tables in L1.
const SKIP_BITS: u32 = 12;
/// Bits looked at by the one-symbol table; longer codes are searched.
const FAST_BITS: u32 = 9;
/// Zero bytes after the entropy data, more than one block can consume
/// (64 codes of at most 31 bits), so the bit reader never needs a bounds
/// branch beyond the per-block check.
const PAD: usize = 512;

/// One component of the frame.
#[derive(Clone, Copy, Debug)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc_table: usize,
    ac_table: usize,
}

/// What the headers say, up to the start of the one scan.
#[derive(Debug)]
pub(super) struct Header<'a> {
    pub width: usize,
    pub height: usize,
    pub orientation: Orientation,
    components: Vec<Component>,
    quant: [[u16; 64]; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart: usize,
    /// Entropy-coded data: from the scan header's end to the end of the file.
    scan: &'a [u8],
}

/// Reads the headers of a JPEG the fast path can take.
pub(super) fn parse(bytes: &[u8]) -> Result<Header<'_>, Declined> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return Err(Damaged("no start-of-image marker"));
    }
    let mut quant = [[0u16; 64]; 4];
    let mut have_quant = [false; 4];
    let mut dc: [Option<Huffman>; 4] = Default::default();
    let mut ac: [Option<Huffman>; 4] = Default::default();
    let mut frame: Option<(usize, usize, Vec<Component>)> = None;
    let mut restart = 0;
    let mut orientation = None;
    let mut adobe_rgb = false;
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if i + 1 >= bytes.len() || bytes[i] != 0xFF {
            return Err(Damaged("segment structure broken before the scan"));
        }
        while i + 1 < bytes.len() && bytes[i + 1] == 0xFF {
            i += 1;
        }
        let marker = *bytes.get(i + 1).ok_or(Damaged("file ends in the headers"))?;
        if matches!(marker, 0x01 | 0xD0..=0xD9) {
            return Err(Damaged("unexpected marker before the scan"));
        }
        let len = bytes.get(i + 2..i + 4).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize);
        let len = len.filter(|&l| l >= 2 && i + 2 + l <= bytes.len()).ok_or(Damaged("segment runs past the file"))?;
        let seg = &bytes[i + 4..i + 2 + len];
        match marker {
            0xC0 | 0xC1 => frame = Some(read_frame(seg)?),
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(Unsupported("not a sequential Huffman JPEG"));
            }
            0xC4 => read_huffman(seg, &mut dc, &mut ac)?,
            0xDB => read_quant(seg, &mut quant, &mut have_quant)?,
            0xDD => {
                restart = u16::from_be_bytes(seg.get(..2).ok_or(Damaged("short DRI"))?.try_into().unwrap()) as usize
            }
            0xE1 if orientation.is_none() => {
                orientation = seg.strip_prefix(b"Exif\0\0").and_then(Orientation::from_exif_chunk);
            }
            // Adobe's transform flag 0 on three components means RGB, not YCbCr.
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => adobe_rgb = seg[11] == 0,
            0xDA => {
                let (width, height, components) = frame.ok_or(Damaged("scan before the frame header"))?;
                let components = read_scan(seg, components)?;
                if adobe_rgb || (components.len() == 3 && components.iter().map(|c| c.id).eq(*b"RGB")) {
                    return Err(Unsupported("RGB (not YCbCr) JPEG"));
                }
                for c in &components {
                    if !have_quant[c.quant] || dc[c.dc_table].is_none() || ac[c.ac_table].is_none() {
                        return Err(Damaged("a table the scan uses is missing"));
                    }
                }
                return Ok(Header {
                    width,
                    height,
                    orientation: orientation.unwrap_or(Orientation::NoTransforms),
                    components,
                    quant,
                    dc,
                    ac,
                    restart,
                    scan: &bytes[i + 2 + len..],
                });
            }
            _ => {}
        }
        i += 2 + len;
    }
}

fn read_frame(seg: &[u8]) -> Result<(usize, usize, Vec<Component>), Declined> {
    if seg.len() < 6 {
        return Err(Damaged("short frame header"));
    }
    if seg[0] != 8 {
        return Err(Unsupported("not 8-bit samples"));
    }
    let height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
    let width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
    let n = seg[5] as usize;
    if height == 0 {
        return Err(Unsupported("height given by a DNL marker"));
    }
    if width == 0 {
        return Err(Damaged("zero width"));
    }
    if n != 1 && n != 3 {
        return Err(Unsupported("neither one nor three components"));
    }
    if seg.len() < 6 + 3 * n {
        return Err(Damaged("short frame header"));
    }
    let mut comps: Vec<Component> = (0..n)
        .map(|k| {
            let c = &seg[6 + 3 * k..9 + 3 * k];
            Component {
                id: c[0],
                h: (c[1] >> 4) as usize,
                v: (c[1] & 15) as usize,
                quant: c[2] as usize,
                dc_table: 0,
                ac_table: 0,
            }
        })
        .collect();
    if comps.iter().any(|c| !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v) || c.quant > 3) {
        return Err(Damaged("bad sampling factor or table number"));
    }
    if n == 1 {
        // A lone component's scan is not interleaved: its blocks simply
        // cover the image, whatever sampling factors it declares.
        comps[0].h = 1;
        comps[0].v = 1;
    }
    let (hmax, vmax) = (comps.iter().map(|c| c.h).max().unwrap(), comps.iter().map(|c| c.v).max().unwrap());
    if comps.iter().any(|c| hmax % c.h != 0 || vmax % c.v != 0) {
        return Err(Unsupported("non-integer sampling ratio"));
    }
    Ok((width, height, comps))
}

fn read_scan(seg: &[u8], mut comps: Vec<Component>) -> Result<Vec<Component>, Declined> {
    let n = *seg.first().ok_or(Damaged("short scan header"))? as usize;
    if seg.len() < 1 + 2 * n + 3 {
        return Err(Damaged("short scan header"));
    }
    if n != comps.len() {
        return Err(Unsupported("components in separate scans"));
    }
    let mut ordered = Vec::with_capacity(n);
    for k in 0..n {
        let (id, tables) = (seg[1 + 2 * k], seg[2 + 2 * k]);
        let pos = comps.iter().position(|c| c.id == id).ok_or(Damaged("scan names an unknown component"))?;
        let mut c = comps.remove(pos);
        (c.dc_table, c.ac_table) = ((tables >> 4) as usize, (tables & 15) as usize);
        if c.dc_table > 3 || c.ac_table > 3 {
            return Err(Damaged("bad Huffman table number"));
        }
        ordered.push(c);
    }
    let tail = &seg[1 + 2 * n..];
    if tail[0] != 0 || tail[1] != 63 || tail[2] != 0 {
        return Err(Damaged("a sequential scan must cover coefficients 0..63"));
    }
    Ok(ordered)
}

fn read_quant(mut seg: &[u8], quant: &mut [[u16; 64]; 4], have: &mut [bool; 4]) -> Result<(), Declined> {
    while let Some(&pq) = seg.first() {
        let (precision, t) = ((pq >> 4) as usize, (pq & 15) as usize);
        let size = if precision == 0 { 64 } else { 128 };
        if t > 3 || precision > 1 || seg.len() < 1 + size {
            return Err(Damaged("bad quantisation table"));
        }
        for k in 0..64 {
            // Stored in zigzag order; kept in zigzag order too.
            quant[t][k] =
                if precision == 0 { seg[1 + k] as u16 } else { u16::from_be_bytes([seg[1 + 2 * k], seg[2 + 2 * k]]) };
        }
        have[t] = true;
        seg = &seg[1 + size..];
    }
    Ok(())
}

fn read_huffman(mut seg: &[u8], dc: &mut [Option<Huffman>; 4], ac: &mut [Option<Huffman>; 4]) -> Result<(), Declined> {
    while seg.len() >= 17 {
        let (class, t) = (seg[0] >> 4, (seg[0] & 15) as usize);
        let counts: [u8; 16] = seg[1..17].try_into().unwrap();
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if class > 1 || t > 3 || total > 256 || seg.len() < 17 + total {
            return Err(Damaged("bad Huffman table"));
        }
        let table = Huffman::new(&counts, &seg[17..17 + total], class == 1)?;
        if class == 0 {
            dc[t] = Some(table)
        } else {
            ac[t] = Some(table)
        }
        seg = &seg[17 + total..];
    }
    if !seg.is_empty() {
        return Err(Damaged("bad Huffman table"));
    }
    Ok(())
}

/// One Huffman table, in the forms the decoder steps by.
struct Huffman {
    /// Next `FAST_BITS` bits -> `len << 8 | symbol`; 0 when the code is
    /// longer. Fixed-size, so indexing by `FAST_BITS` bits needs no check.
    fast: Box<[u16; 1 << FAST_BITS]>,
    /// Canonical decoding of longer codes: the largest code of each length
    /// (-1 for none) and where that length's symbols start.
    max_code: [i32; 17],
    offset: [i32; 17],
    symbols: Vec<u8>,
    /// AC tables only: next `SKIP_BITS` bits -> bits taken (low 6) and
    /// positions covered (next 7) by the longest run of complete pairs
    /// that fits, an end of block counting as `SKIP_EOB` positions (with
    /// `SKIP_EOB_FLAG` set as well), so that one comparison,
    /// `k + covered < 64`, tells the common step (stay in the block) from
    /// everything else: the block's end, a step past it, or no complete
    /// pair (covered `SKIP_NONE`).
    skip: Box<[u16; 1 << SKIP_BITS]>,
    /// Next `VALUE_BITS` bits -> the value they code (high 16 bits) and the
    /// bits code and magnitude take together (low 5), when both fit, and
    /// for AC tables the zero run before the value (bits 5-8; a run of 16
    /// zeros is a run of 15 and a zero) or the end of block (`VALUE_EOB`);
    /// 0 when they do not fit.
    value: Box<[u32; 1 << VALUE_BITS]>,
}

const VALUE_EOB: u32 = 1 << 11;

/// Bits looked at by the table that decodes code and magnitude at once.
const VALUE_BITS: u32 = 10;

impl std::fmt::Debug for Huffman {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Huffman").field("symbols", &self.symbols.len()).finish()
    }
}

const SKIP_EOB: u16 = 64;
const SKIP_EOB_FLAG: u16 = 1 << 13;
const SKIP_NONE: u16 = 127;
/// Where the positions covered start in an entry; below them, the bits
/// taken, in the six bits a 64-bit shift reads, so the entry itself can be
/// the shift count and the step's critical path has no mask in it.
const SKIP_COVERED: u16 = 6;

impl Huffman {
    fn new(counts: &[u8; 16], symbols: &[u8], ac: bool) -> Result<Self, Declined> {
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
            skip: Box::new([SKIP_NONE << SKIP_COVERED; 1 << SKIP_BITS]),
            value: Box::new([0; 1 << VALUE_BITS]),
        };
        if ac {
            for p in 0..1usize << SKIP_BITS {
                table.skip[p] = table.skip_entry((p as u64) << (64 - SKIP_BITS));
            }
        }
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

    /// The code at the head of `bits` (left-aligned, at least 16 valid):
    /// its length and symbol.
    #[inline(always)]
    fn decode(&self, bits: u64) -> Option<(u32, u8)> {
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

/// MSB-first bit reader over destuffed entropy data (with `PAD` zero bytes
/// after it): the branch-free refill keeps 56 to 63 bits in `buf`.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        let mut b = Bits { data, pos, buf: 0, count: 0 };
        b.refill();
        b
    }

    #[inline(always)]
    fn refill(&mut self) {
        let word = u64::from_be_bytes(self.data[self.pos..self.pos + 8].try_into().unwrap());
        self.buf |= word >> self.count;
        self.pos += (63 - self.count as usize) >> 3;
        self.count |= 56;
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.count -= n;
    }

    /// The next `n` bits (1..=16) as a signed coefficient (JPEG's EXTEND).
    #[inline(always)]
    fn signed(&mut self, n: u32) -> i32 {
        let v = (self.buf >> (64 - n)) as i32;
        self.consume(n);
        extend(v, n)
    }

    /// Bits read so far, from the start of `data`.
    fn position(&self) -> usize {
        self.pos * 8 - self.count as usize
    }
}

/// Whether an AC symbol ends its block: the end-of-block code, and, as
/// libjpeg reads them, the (run, size 0) codes baseline leaves undefined;
/// only (15, 0) is a run of sixteen zeros.
#[inline(always)]
fn ends_block(symbol: u8) -> bool {
    symbol & 15 == 0 && symbol != 0xF0
}

/// JPEG's EXTEND: the `n`-bit magnitude field `v` as a signed value.
#[inline(always)]
fn extend(v: i32, n: u32) -> i32 {
    if v < 1 << (n - 1) { v - (1 << n) + 1 } else { v }
}

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

    /// Upsamples what was decoded below the output's resolution (the
    /// triangle filter of libjpeg's "fancy" upsampling for 2x, replication
    /// otherwise) and converts JFIF YCbCr to RGB8.
    fn write_rgb(&mut self, geometry: &[Geometry], widths: &[usize], (w, h): (usize, usize), out: &mut Vec<u8>) {
        out.clear();
        out.resize(w * h * 3, 0);
        if geometry.len() == 1 {
            for (o, &y) in out.chunks_exact_mut(3).zip(rows(&self.planes[0], widths[0], w, h)) {
                o.fill(to_u8(y));
            }
            return;
        }
        // Components at full resolution are read in place; the others are
        // upsampled first (the buffer is sized only when one needs it: at
        // 1/8 scale 4:2:0 chroma is decoded at full resolution already).
        let whole = |g: &Geometry| g.ux == 1 && g.uy == 1;
        self.upsampled.clear();
        if !geometry.iter().all(whole) {
            self.upsampled.resize(3 * w * h, 0.0);
        }
        for ((plane, g), (&pw, dst)) in
            self.planes.iter().zip(geometry).zip(widths.iter().zip(self.upsampled.chunks_exact_mut(w * h)))
        {
            if !whole(g) {
                upsample(plane, pw, plane.len() / pw, g.ux, g.uy, (w, h), dst);
            }
        }
        let views: [(&[f32], usize); 3] = std::array::from_fn(|k| {
            if whole(&geometry[k]) {
                (&self.planes[k][..], widths[k])
            } else {
                (&self.upsampled[k * w * h..][..w * h], w)
            }
        });
        for (y, o) in out.chunks_exact_mut(3 * w).enumerate() {
            let [ys, cbs, crs] = views.map(|(plane, stride)| &plane[y * stride..y * stride + w]);
            for (((o, &y), &cb), &cr) in o.chunks_exact_mut(3).zip(ys).zip(cbs).zip(crs) {
                let (cb, cr) = (cb - 128.0, cr - 128.0);
                o[0] = to_u8(y + 1.402 * cr);
                o[1] = to_u8(y - 0.344_136 * cb - 0.714_136 * cr);
                o[2] = to_u8(y + 1.772 * cb);
            }
        }
    }
}

/// The first `w` values of each of the first `h` rows of a plane.
fn rows(plane: &[f32], stride: usize, w: usize, h: usize) -> impl Iterator<Item = &f32> {
    plane.chunks(stride).take(h).flat_map(move |r| &r[..w])
}

#[inline(always)]
fn to_u8(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// Scales a `pw` x `ph` plane up by `rx` x `ry` into the `w` x `h` grid.
fn upsample(plane: &[f32], pw: usize, ph: usize, rx: usize, ry: usize, (w, h): (usize, usize), dst: &mut [f32]) {
    // Source coordinate of output pixel x, and the two neighbours it blends:
    // for 2x, pixel 2i is 3/4 of sample i and 1/4 of sample i-1, pixel 2i+1
    // 3/4 of i and 1/4 of i+1 (clamped at the edges).
    let taps = |r: usize, n: usize, len: usize| -> Vec<(usize, usize, f32)> {
        (0..n)
            .map(|x| {
                let i = (x / r).min(len - 1);
                if r != 2 {
                    (i, i, 1.0)
                } else if x % 2 == 0 {
                    (i, i.saturating_sub(1), 0.75)
                } else {
                    (i, (i + 1).min(len - 1), 0.75)
                }
            })
            .collect()
    };
    let (tx, ty) = (taps(rx, w, pw), taps(ry, h, ph));
    let mut row = vec![0f32; w];
    for (y, &(a, b, wy)) in ty.iter().enumerate() {
        let (ra, rb) = (&plane[a * pw..(a + 1) * pw], &plane[b * pw..(b + 1) * pw]);
        for (x, &(i, j, wx)) in tx.iter().enumerate() {
            let va = wx * ra[i] + (1.0 - wx) * ra[j];
            let vb = wx * rb[i] + (1.0 - wx) * rb[j];
            row[x] = wy * va + (1.0 - wy) * vb;
        }
        dst[y * w..(y + 1) * w].copy_from_slice(&row);
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

/// How one component's blocks are reduced. A block covers `fx` x `fy`
/// output pixels (8/factor times the component's subsampling); it is
/// decoded to `nx` x `ny` cell means (at most 4 a side), and the plane is
/// upsampled by the rest, `ux` x `uy`, afterwards.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    nx: usize,
    ny: usize,
    ux: usize,
    uy: usize,
    /// Coefficients (in zigzag order) whose values are decoded: the DC
    /// alone for one cell; the first 14 for 2x2 cells (frequencies 0, 1 and
    /// 3 a side, where the even ones contribute nothing to half-block
    /// means); all 64 for finer cells.
    need: u32,
}

impl Geometry {
    fn new(fx: usize, fy: usize) -> Self {
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
type Weights = [[f32; 16]; 64];

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

fn weights(g: &Geometry, quant: &[u16; 64]) -> Box<Weights> {
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

#[inline(always)]
fn dc_diff(bits: &mut Bits, dc: &Huffman) -> Result<i32, Declined> {
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
fn skip_ac(bits: &mut Bits, ac: &Huffman, mut k: u32) -> Result<(), Declined> {
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

/// One block decoded to its cell means: the DC and the AC values before
/// zigzag position `need`, each adding its weighted share to every cell
/// (most are zero and never coded), the rest skipped.
#[inline(always)]
fn block_values<const N: usize>(
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

    /// A seeded test picture: smooth gradients, a few hard-edged discs and
    /// pixel noise, so every block holds both low and high frequencies.
    fn picture(w: usize, h: usize, seed: u64) -> Vec<u8> {
        let mut rng = crate::rng::Rng(seed);
        let discs: Vec<(f32, f32, f32, [f32; 3])> = (0..6)
            .map(|_| {
                let c = [rng.unit() * 255.0, rng.unit() * 255.0, rng.unit() * 255.0];
                (rng.unit() * w as f32, rng.unit() * h as f32, 20.0 + rng.unit() * w.min(h) as f32 / 3.0, c)
            })
            .collect();
        let mut out = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
                let mut p = [255.0 * fx, 255.0 * fy, 128.0 + 100.0 * (6.0 * fx + 4.0 * fy).sin()];
                for &(cx, cy, r, c) in &discs {
                    if (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) < r * r {
                        p = c;
                    }
                }
                for v in p {
                    out.push((v + (rng.unit() - 0.5) * 40.0).clamp(0.0, 255.0) as u8);
                }
            }
        }
        out
    }

    #[derive(Clone, Copy)]
    struct Encoding {
        grey: bool,
        sampling: jpeg_encoder::SamplingFactor,
        restart: u16,
        /// Optimised Huffman tables (jpeg-encoder then writes one scan per
        /// component, which the fast path declines).
        optimize: bool,
        quality: u8,
        progressive: bool,
    }

    fn encode(rgb: &[u8], w: usize, h: usize, e: &Encoding) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut bytes, e.quality);
        enc.set_sampling_factor(e.sampling);
        if e.restart > 0 {
            enc.set_restart_interval(e.restart);
        }
        enc.set_optimized_huffman_tables(e.optimize);
        enc.set_progressive(e.progressive);
        if e.grey {
            let luma: Vec<u8> = rgb.chunks_exact(3).map(|p| p[1]).collect();
            enc.encode(&luma, w as u16, h as u16, jpeg_encoder::ColorType::Luma).unwrap();
        } else {
            enc.encode(rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).unwrap();
        }
        bytes
    }

    /// libjpeg-turbo's encoder with its own defaults (baseline, one
    /// interleaved scan) and optimised Huffman tables.
    fn encode_libjpeg(rgb: &[u8], w: usize, h: usize, grey: bool, chroma: (u8, u8)) -> Vec<u8> {
        use mozjpeg::{ColorSpace, Compress};
        let mut c = Compress::new(if grey { ColorSpace::JCS_GRAYSCALE } else { ColorSpace::JCS_RGB });
        c.set_fastest_defaults();
        c.set_size(w, h);
        c.set_quality(88.0);
        c.set_optimize_coding(true);
        if !grey {
            c.set_chroma_sampling_pixel_sizes(chroma, chroma);
        }
        let mut started = c.start_compress(Vec::new()).unwrap();
        if grey {
            let luma: Vec<u8> = rgb.chunks_exact(3).map(|p| p[1]).collect();
            started.write_scanlines(&luma).unwrap();
        } else {
            started.write_scanlines(rgb).unwrap();
        }
        started.finish().unwrap()
    }

    /// libjpeg-turbo's own DCT-scaled decode, the reference.
    fn libjpeg(bytes: &[u8], factor: usize) -> (usize, usize, Vec<u8>) {
        let mut dec = mozjpeg::Decompress::new_mem(bytes).unwrap();
        dec.scale((8 / factor) as u8);
        let mut started = dec.rgb().unwrap();
        let (w, h) = (started.width(), started.height());
        let pixels: Vec<[u8; 3]> = started.read_scanlines().unwrap();
        started.finish().unwrap();
        (w, h, pixels.concat())
    }

    /// The truth a reduced decode approximates: the full-size decode
    /// (libjpeg-turbo, fancy chroma upsampling), each `factor` x `factor`
    /// box averaged (partial boxes at the edges over what they hold).
    fn box_means(bytes: &[u8], factor: usize) -> (usize, usize, Vec<u8>) {
        let (w, h, full) = libjpeg(bytes, 1);
        let (ow, oh) = (w.div_ceil(factor), h.div_ceil(factor));
        let mut out = Vec::with_capacity(ow * oh * 3);
        for by in 0..oh {
            for bx in 0..ow {
                for c in 0..3 {
                    let (mut sum, mut n) = (0u32, 0u32);
                    for y in by * factor..((by + 1) * factor).min(h) {
                        for x in bx * factor..((bx + 1) * factor).min(w) {
                            sum += full[(y * w + x) * 3 + c] as u32;
                            n += 1;
                        }
                    }
                    out.push(((sum + n / 2) / n) as u8);
                }
            }
        }
        (ow, oh, out)
    }

    fn ours(bytes: &[u8], factor: usize) -> Result<(usize, usize, Vec<u8>), Declined> {
        let header = parse(bytes)?;
        let mut out = Vec::new();
        let (w, h) = ReducedDecoder::default().decode(&header, factor, &mut out)?;
        Ok((w, h, out))
    }

    /// Mean and largest absolute difference, and the share of values more
    /// than 16 apart.
    fn differences(a: &[u8], b: &[u8]) -> (f64, u8, f64) {
        assert_eq!(a.len(), b.len());
        let d: Vec<u8> = a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y)).collect();
        let mean = d.iter().map(|&x| x as f64).sum::<f64>() / d.len() as f64;
        let far = d.iter().filter(|&&x| x > 16).count() as f64 / d.len() as f64;
        (mean, *d.iter().max().unwrap(), far)
    }

    /// Against the truth a reduced decode approximates (box means of the
    /// full-size decode) and beside libjpeg-turbo's own DCT-scaled decode
    /// of the same file, over awkward sizes (not multiples of the MCU),
    /// 4:4:4, 4:2:0, 4:2:2 and 4:4:0, grey, restart intervals (one MCU, a
    /// partial row, several rows), standard and optimised Huffman tables
    /// (two encoders) and two qualities.
    ///
    /// Tolerances, in levels of 255: a mean difference under 1.5, and no
    /// more than 0.75 above libjpeg's; the share of values more than 16
    /// apart (hard edges) at most 0.1 % above libjpeg's, and the largest
    /// difference at most 10 above its. The 0.75 is the 1/4 scale's luma:
    /// libjpeg's 2x2 IDCT also reads frequencies 5 and 7, which the test
    /// picture's noise fills, where we stop at the 14th coefficient. With
    /// subsampled chroma we are closer to the truth than libjpeg, which
    /// replicates chroma at 1/8 (4:2:2, 4:4:0) where we decode its cells.
    /// Grey at 1/8 must equal libjpeg's to one level.
    #[test]
    fn matches_libjpeg_scaled_decode() {
        use jpeg_encoder::SamplingFactor as S;
        let sizes = [(1037, 771), (520, 1299), (2051, 1029), (1024, 768)];
        let mut cases = 0;
        for (n, &(w, h)) in sizes.iter().enumerate() {
            let rgb = picture(w, h, 100 + n as u64);
            let mut files = Vec::new();
            for (m, sampling) in [S::R_4_4_4, S::R_4_2_0, S::R_4_2_2, S::R_4_4_0].into_iter().enumerate() {
                for grey in [false, true] {
                    if grey && m > 0 {
                        continue;
                    }
                    let restart = [0, 1, 7, 300][(n + m) % 4];
                    let quality = if n % 2 == 0 { 88 } else { 70 };
                    let e = Encoding { grey, sampling, restart, optimize: false, quality, progressive: false };
                    files.push((
                        format!("sampling {m} grey {grey} restart {restart} q{quality}"),
                        grey,
                        encode(&rgb, w, h, &e),
                    ));
                }
            }
            for (grey, chroma) in [(false, (1, 1)), (false, (2, 2)), (true, (1, 1))] {
                files.push((
                    format!("libjpeg chroma {chroma:?} grey {grey}"),
                    grey,
                    encode_libjpeg(&rgb, w, h, grey, chroma),
                ));
            }
            for (name, grey, bytes) in &files {
                for factor in [8, 4] {
                    let what = format!("{w}x{h} {name} 1/{factor}");
                    let (tw, th, truth) = box_means(bytes, factor);
                    let (rw, rh, reference) = libjpeg(bytes, factor);
                    let (ow, oh, got) = ours(bytes, factor).unwrap_or_else(|e| panic!("{what}: {e:?}"));
                    assert_eq!((ow, oh), (rw, rh), "{what}");
                    assert_eq!((ow, oh), (tw, th), "{what}");
                    let (mean, max, far) = differences(&got, &truth);
                    let (lib_mean, lib_max, lib_far) = differences(&reference, &truth);
                    let what = format!(
                        "{what}: against box means: ours mean {mean:.3} max {max} far {far:.4}, libjpeg mean {lib_mean:.3} max {lib_max} far {lib_far:.4}"
                    );
                    assert!(mean < 1.5 && mean <= lib_mean + 0.75, "{what}");
                    assert!(far <= lib_far + 0.001 && max <= lib_max.saturating_add(10), "{what}");
                    if *grey && factor == 8 {
                        // Both take the DC alone: only rounding differs.
                        assert!(differences(&got, &reference).1 <= 1, "{what}");
                    }
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 2 * sizes.len() * 8);
    }

    #[test]
    fn declines_what_it_does_not_take() {
        let (w, h) = (640, 480);
        let rgb = picture(w, h, 5);
        let base = Encoding {
            grey: false,
            sampling: jpeg_encoder::SamplingFactor::R_4_2_0,
            restart: 0,
            optimize: false,
            quality: 85,
            progressive: false,
        };
        let progressive = encode(&rgb, w, h, &Encoding { progressive: true, ..base });
        assert_eq!(parse(&progressive).unwrap_err(), Unsupported("not a sequential Huffman JPEG"));
        let separate = encode(&rgb, w, h, &Encoding { optimize: true, ..base });
        assert_eq!(parse(&separate).unwrap_err(), Unsupported("components in separate scans"));
        let good = encode(&rgb, w, h, &base);
        assert!(ours(&good, 8).is_ok());
        // Truncated: the data ends without its end-of-image marker, or an
        // end-of-image marker follows the cut.
        for keep in [good.len() / 2, good.len() - 40] {
            assert!(matches!(ours(&good[..keep], 8), Err(Damaged(_))), "cut at {keep}");
            let mut cut = good[..keep].to_vec();
            cut.extend_from_slice(&[0xFF, 0xD9]);
            assert!(matches!(ours(&cut, 8), Err(Damaged(_))), "cut at {keep} then EOI");
        }
        // Bytes flipped anywhere: a clear answer, never a panic.
        let mut rng = crate::rng::Rng(9);
        for _ in 0..300 {
            let mut bad = good.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() % bad.len() as u64) as usize;
                bad[at] = rng.next() as u8;
            }
            for factor in [8, 4] {
                let _ = ours(&bad, factor);
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
