//! Colour and light measures on synthetic images whose answers are known in
//! closed form.

use pixtape::engine::colour::{self, analyse};

fn solid(w: usize, h: usize, rgb: [u8; 3]) -> Vec<u8> {
    rgb.iter().copied().cycle().take(w * h * 3).collect()
}

/// Left `frac` of the columns one colour, the rest another.
fn split(w: usize, h: usize, frac: f64, a: [u8; 3], b: [u8; 3]) -> Vec<u8> {
    let cut = (w as f64 * frac) as usize;
    (0..h).flat_map(|_| (0..w).flat_map(move |x| if x < cut { a } else { b })).collect()
}

fn close(a: f32, b: f64, tol: f64) -> bool {
    (a as f64 - b).abs() <= tol
}

#[test]
fn greys_have_no_colour() {
    for v in [0u8, 77, 128, 255] {
        let c = analyse(&solid(64, 48, [v, v, v]), 64, 48);
        assert!(close(c.brightness, v as f64 / 255.0, 1e-6), "{v}: {c:?}");
        assert!(close(c.contrast, 0.0, 1e-3));
        assert_eq!((c.saturation, c.warmth), (0.0, 0.0));
        assert!(close(c.colourfulness, 0.0, 1e-3));
        assert_eq!(c.palette_len, 1);
        assert_eq!(c.palette[0].rgb, [v, v, v]);
        assert_eq!(c.palette[0].share, 1.0);
    }
}

#[test]
fn black_and_white_halves_have_maximal_contrast() {
    let c = analyse(&split(100, 10, 0.5, [0, 0, 0], [255, 255, 255]), 100, 10);
    assert!(close(c.brightness, 0.5, 1e-6));
    assert!(close(c.contrast, 0.5, 1e-6), "RMS contrast of a 50/50 split is 0.5: {}", c.contrast);
}

#[test]
fn pure_hues_have_known_saturation_warmth_and_colourfulness() {
    let red = analyse(&solid(32, 32, [255, 0, 0]), 32, 32);
    assert!(close(red.saturation, 1.0, 1e-6));
    assert!(close(red.warmth, (-30f64).to_radians().cos(), 1e-5), "red sits 30° from orange: {}", red.warmth);
    // rg = 255, yb = 127.5, no spread: 0.3 * sqrt(255² + 127.5²)
    assert!(close(red.colourfulness, 0.3 * (255f64.powi(2) + 127.5f64.powi(2)).sqrt(), 1e-2));
    let orange = analyse(&solid(8, 8, [255, 128, 0]), 8, 8);
    assert!(orange.warmth > 0.99, "orange is the warmest hue: {}", orange.warmth);
    let azure = analyse(&solid(8, 8, [0, 128, 255]), 8, 8);
    assert!(azure.warmth < -0.99, "azure is the coolest hue: {}", azure.warmth);
    let blue = analyse(&solid(8, 8, [0, 0, 255]), 8, 8);
    assert!(close(blue.warmth, 210f64.to_radians().cos(), 1e-5));
    let green = analyse(&solid(8, 8, [0, 255, 0]), 8, 8);
    assert!(close(green.warmth, 90f64.to_radians().cos(), 1e-5), "green is neutral: {}", green.warmth);
}

#[test]
fn colourfulness_counts_spread_and_mean() {
    // Half red, half green: rg is +255 / -255 (mean 0, sd 255); yb is
    // 127.5 everywhere (mean 127.5, sd 0).
    let c = analyse(&split(64, 64, 0.5, [255, 0, 0], [0, 255, 0]), 64, 64);
    let want = 255.0 + 0.3 * 127.5;
    assert!(close(c.colourfulness, want, 1e-2), "{} vs {want}", c.colourfulness);
    // Half saturation: the mean of HSV saturation.
    let half = analyse(&split(64, 64, 0.5, [255, 0, 0], [128, 128, 128]), 64, 64);
    assert!(close(half.saturation, 0.5, 1e-6));
}

#[test]
fn palette_finds_the_colours_and_their_shares() {
    let c = analyse(&split(200, 100, 0.75, [255, 0, 0], [0, 0, 255]), 200, 100);
    assert_eq!(c.palette_len, 2, "{:?}", c.palette());
    assert_eq!(c.palette[0].hex(), "#ff0000");
    assert_eq!(c.palette[1].hex(), "#0000ff");
    assert!(close(c.palette[0].share, 0.75, 0.02) && close(c.palette[1].share, 0.25, 0.02), "{:?}", c.palette());
    // Five distinct colours in equal stripes: five entries of about 20 %.
    let colours = [[255u8, 255, 255], [0, 0, 0], [255, 0, 0], [0, 160, 0], [0, 0, 255]];
    let img: Vec<u8> = (0..50).flat_map(|_| (0..100).flat_map(|x| colours[x / 20])).collect();
    let c = analyse(&img, 100, 50);
    assert_eq!(c.palette_len, 5);
    let total: f32 = c.palette().iter().map(|p| p.share).sum();
    assert!(close(total, 1.0, 1e-5));
    for p in c.palette() {
        assert!(close(p.share, 0.2, 0.03), "{:?}", c.palette());
    }
}

#[test]
fn lab_round_trip_is_exact_to_one_level() {
    for rgb in [[0u8, 0, 0], [255, 255, 255], [255, 0, 0], [12, 200, 99], [128, 64, 32], [3, 7, 250]] {
        let back = colour::lab_to_srgb(colour::srgb_to_lab(rgb));
        for c in 0..3 {
            assert!((back[c] as i32 - rgb[c] as i32).abs() <= 1, "{rgb:?} -> {back:?}");
        }
    }
}
