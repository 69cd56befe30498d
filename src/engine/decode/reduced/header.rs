//! The headers the reduced decoder reads: frame, scan, quantisation and
//! Huffman tables, and the EXIF orientation, declining whatever it does not
//! fully understand.

use image::metadata::Orientation;

use super::entropy::Huffman;
use super::{Damaged, Declined, Unsupported};

/// One component of the frame.
#[derive(Clone, Copy, Debug)]
pub(super) struct Component {
    pub(super) id: u8,
    pub(super) h: usize,
    pub(super) v: usize,
    pub(super) quant: usize,
    pub(super) dc_table: usize,
    pub(super) ac_table: usize,
}

/// What the headers say, up to the start of the one scan.
#[derive(Debug)]
pub(in crate::engine::decode) struct Header<'a> {
    pub width: usize,
    pub height: usize,
    pub orientation: Orientation,
    pub(super) components: Vec<Component>,
    pub(super) quant: [[u16; 64]; 4],
    pub(super) dc: [Option<Huffman>; 4],
    pub(super) ac: [Option<Huffman>; 4],
    pub(super) restart: usize,
    /// Entropy-coded data: from the scan header's end to the end of the file.
    pub(super) scan: &'a [u8],
}

/// Reads the headers of a JPEG the fast path can take.
pub(in crate::engine::decode) fn parse(bytes: &[u8]) -> Result<Header<'_>, Declined> {
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

pub(super) fn read_frame(seg: &[u8]) -> Result<(usize, usize, Vec<Component>), Declined> {
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

pub(super) fn read_scan(seg: &[u8], mut comps: Vec<Component>) -> Result<Vec<Component>, Declined> {
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

pub(super) fn read_quant(mut seg: &[u8], quant: &mut [[u16; 64]; 4], have: &mut [bool; 4]) -> Result<(), Declined> {
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

pub(super) fn read_huffman(
    mut seg: &[u8],
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Result<(), Declined> {
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
