//! The reduced decoder against a direct inverse DCT and against libjpeg's
//! scaled decode, on JPEGs made for the purpose.

use super::skip::Huffman;
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
