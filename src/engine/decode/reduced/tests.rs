//! The whole reduced decoder on JPEGs made for the purpose: against the box
//! means of the full-size decode and libjpeg's own scaled decode, and on
//! what it must decline.

use super::*;

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
