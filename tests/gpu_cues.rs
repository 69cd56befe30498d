//! The intensity-cue kernel (`shaders/cues.wgsl`) against its CPU
//! reference (`cues::block_table`), on seeded random frames, frames made of
//! lights on black (where the light tests fire) and awkward sizes: one
//! pixel, smaller than a block, not a multiple of 16, taller than wide.
//! Tolerance: each block sum within `cues::gpu::TOLERANCE` of the
//! reference's, relative to max(1, |sum|), and the finished cues within
//! 1e-3 of the CPU's.
//!
//! Without an adapter these tests skip; `PIXTAPE_REQUIRE_GPU=1` makes that a
//! failure (CI runs them on Mesa's lavapipe).

mod common;

use common::{Rng, gpu};
use pixtape::engine::cues::{self, FrameCues, block_table, gpu::TOLERANCE};

fn lights_on_black(rng: &mut Rng, w: usize, h: usize) -> Vec<u8> {
    let mut f = vec![3u8; w * h * 3];
    for _ in 0..(w * h / 40).max(1) {
        let (x, y) = ((rng.next_u64() % w as u64) as usize, (rng.next_u64() % h as u64) as usize);
        let v = 180 + (rng.next_u64() % 76) as u8;
        f[(y * w + x) * 3..][..3].copy_from_slice(&[v, v, v / 2]);
    }
    f
}

#[test]
fn cue_kernel_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut rng = Rng(41);
    let sizes = [(1, 1), (5, 3), (16, 16), (17, 33), (341, 256), (40, 300), (256, 455)];
    let mut frames: Vec<(Vec<u8>, usize, usize)> = Vec::new();
    for &(w, h) in &sizes {
        frames.push((rng.bytes(w * h * 3), w, h));
        frames.push((lights_on_black(&mut rng, w, h), w, h));
    }
    let views: Vec<(&[u8], usize, usize)> = frames.iter().map(|(f, w, h)| (f.as_slice(), *w, *h)).collect();
    let got = cues::gpu::block_tables(gpu, &views).unwrap();
    assert_eq!(got.len(), frames.len());
    for ((f, w, h), g) in frames.iter().zip(&got) {
        let want = block_table(f, *w, *h);
        assert_eq!((g.blocks_x, g.blocks_y), (want.blocks_x, want.blocks_y));
        for (k, (a, b)) in g.values.iter().zip(&want.values).enumerate() {
            let err = (a - b).abs() / b.abs().max(1.0);
            assert!(err <= TOLERANCE, "{w}x{h}: block value {k}: gpu {a}, cpu {b}");
        }
        let sky = cues::sky_share(f, *w, *h);
        let (cg, cc) = (cues::finish(g, sky), FrameCues::measure(f, *w, *h));
        for (n, (a, b)) in cg.0.iter().zip(cc.0).enumerate() {
            assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0), "{w}x{h}: cue {}: gpu {a}, cpu {b}", cues::CUE_NAMES[n]);
        }
    }
    // Lights fired somewhere, or the light test compared only zeros.
    assert!(got.iter().any(|t| t.total(cues::blocks::at::LIGHTS) > 0.0));
}
