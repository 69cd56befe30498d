//! The cues on frames whose answer is known by construction.

use super::blocks::{self, BLOCK_VALUES, at};
use super::*;

fn frame(w: usize, h: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            out.extend_from_slice(&f(x, y));
        }
    }
    out
}

fn cue(c: &FrameCues, name: &str) -> f32 {
    c.0[CUE_NAMES[..FRAME_CUES].iter().position(|&n| n == name).unwrap()]
}

#[test]
fn a_flat_grey_frame_has_no_edges_texture_lights_or_contrast() {
    let f = frame(341, 256, |_, _| [128, 128, 128]);
    let c = FrameCues::measure(&f, 341, 256);
    for name in ["edge_density", "texture_energy", "clutter", "point_lights", "light_trails", "motion_blur"] {
        // Up to rounding: 4 L − 4 × L need not be exactly 0 in f32.
        assert!(cue(&c, name) < 1e-6, "{name}: {}", cue(&c, name));
    }
    assert!(cue(&c, "region_contrast") < 1e-6);
}

#[test]
fn a_fine_checkerboard_is_all_edges_and_clutter() {
    let f = frame(64, 64, |x, y| if (x / 2 + y / 2) % 2 == 0 { [255; 3] } else { [0; 3] });
    let c = FrameCues::measure(&f, 64, 64);
    assert!(cue(&c, "edge_density") > 0.9, "{c:?}");
    assert_eq!(cue(&c, "clutter"), 1.0);
    assert!(cue(&c, "texture_energy") > 0.5);
}

#[test]
fn small_lights_on_a_dark_frame_are_point_lights_not_trails() {
    // 1-pixel lights every 12 pixels on black.
    let f = frame(120, 96, |x, y| if x % 12 == 6 && y % 12 == 6 { [255; 3] } else { [5; 3] });
    let c = FrameCues::measure(&f, 120, 96);
    let lights = 1000.0 * 80.0 / (120.0 * 96.0);
    assert!((cue(&c, "point_lights") - lights).abs() < 1e-3, "{c:?}");
    assert_eq!(cue(&c, "light_trails"), 0.0);
}

#[test]
fn a_bright_streak_on_a_dark_frame_is_a_trail() {
    let f = frame(120, 96, |_, y| if y == 48 { [255, 200, 150] } else { [5; 3] });
    let c = FrameCues::measure(&f, 120, 96);
    assert!(cue(&c, "light_trails") > 5.0, "{c:?}");
    // Lights count only in dark frames: the same streak by day counts nothing.
    let day = frame(120, 96, |_, y| if y == 48 { [255; 3] } else { [150; 3] });
    assert_eq!(cue(&FrameCues::measure(&day, 120, 96), "light_trails"), 0.0);
}

#[test]
fn horizontal_streaks_read_as_motion_blur_and_a_sharp_grid_does_not() {
    // Soft horizontal bands: every gradient vertical, and no fine detail.
    let blurred = frame(128, 128, |_, y| [((y as f32 * 0.2).sin() * 100.0 + 128.0) as u8; 3]);
    let sharp = frame(128, 128, |x, y| if (x / 4 + y / 4) % 2 == 0 { [230; 3] } else { [20; 3] });
    let b = cue(&FrameCues::measure(&blurred, 128, 128), "motion_blur");
    let s = cue(&FrameCues::measure(&sharp, 128, 128), "motion_blur");
    assert!(b > 0.5 && s < 0.1, "blurred {b}, sharp {s}");
}

#[test]
fn a_blue_upper_half_is_half_sky() {
    let f = frame(100, 100, |x, y| if y < 50 { [90, 140, 220] } else { [40 + (x % 7 * 20) as u8, 90, 30] });
    let sky = cue(&FrameCues::measure(&f, 100, 100), "sky_share");
    assert!((sky - 0.5).abs() < 0.02, "sky {sky}");
    // A textured top edge is not sky.
    let g = frame(100, 100, |x, _| if x % 2 == 0 { [90, 140, 220] } else { [200, 100, 30] });
    assert_eq!(cue(&FrameCues::measure(&g, 100, 100), "sky_share"), 0.0);
}

#[test]
fn red_against_blue_halves_have_strong_region_contrast() {
    let f = frame(128, 128, |x, _| if x < 64 { [220, 30, 30] } else { [30, 30, 220] });
    let c = cue(&FrameCues::measure(&f, 128, 128), "region_contrast");
    // Of the 24 neighbouring pairs, 4 straddle the boundary at ΔE ≈ 176.
    assert!(c > 0.2 && c < 0.4, "region contrast {c}");
}

#[test]
fn the_block_table_covers_partial_blocks_and_counts_every_pixel_once() {
    for (w, h) in [(1, 1), (17, 5), (33, 16), (15, 300)] {
        let f = frame(w, h, |x, y| [(x * 37 % 256) as u8, (y * 11 % 256) as u8, ((x + y) % 256) as u8]);
        let t = block_table(&f, w, h);
        assert_eq!((t.blocks_x, t.blocks_y), (w.div_ceil(16), h.div_ceil(16)));
        assert_eq!(t.values.len(), t.blocks_x * t.blocks_y * BLOCK_VALUES);
        assert_eq!(t.total(at::PIXELS), (w * h) as f64);
        let red: u64 = f.chunks_exact(3).map(|p| p[0] as u64).sum();
        assert_eq!(t.total(at::RED), red as f64);
        let luma: f64 = f.chunks_exact(3).map(|p| blocks::luma(p) as f64).sum();
        assert!((t.total(at::LUMA) - luma).abs() < 1e-3 * luma.max(1.0));
    }
}

#[test]
fn people_score_sums_person_classes_only() {
    let mut probs = vec![0.0f32; 1000];
    probs[981] = 0.3; // ballplayer
    probs[610] = 0.2; // jersey
    probs[264] = 0.4; // a Cardigan is a corgi, not a person
    assert!((people_score(&probs) - 0.5).abs() < 1e-6);
    let names = crate::engine::model::class_names();
    assert_eq!(names[264], "Cardigan");
    for c in people::PERSON_CLASSES {
        assert!(!names[c].is_empty());
    }
}
