//! Colour and light stage: interpretable measures of a decoded picture.
//!
//! All measures are computed on the resized image (short side 256, the whole
//! frame, before the model's centre crop), from gamma-encoded sRGB values in
//! [0, 1] unless said otherwise:
//!
//! * `brightness`: mean luma Y' = 0.299 R + 0.587 G + 0.114 B, in [0, 1].
//! * `contrast`: RMS contrast, the standard deviation of luma, in [0, 0.5].
//! * `saturation`: mean HSV saturation (max - min) / max, in [0, 1].
//! * `warmth`: mean of `s * cos(h - 30°)` over pixels, in [-1, 1], where s
//!   is the HSV saturation and h the hue angle of the opponent chroma vector
//!   (R - (G+B)/2, √3/2 (G - B)) (equal to the HSV hue at the primaries and
//!   secondaries): positive when reds, oranges and yellows dominate,
//!   negative for cyans and blues; greys, greens and magentas are neutral.
//! * `colourfulness`: Hasler & Süsstrunk (2003), on 0..255 values:
//!   `sqrt(sd(rg)² + sd(yb)²) + 0.3 sqrt(mean(rg)² + mean(yb)²)` with
//!   `rg = R - G`, `yb = (R + G)/2 - B`; about 0 for grey, 33 "moderately",
//!   59 "quite", 82 "highly" and 109 "extremely" colourful on their scale.
//! * `palette`: up to five dominant colours, k-means in CIELAB over a grid
//!   sample of at most 2,048 pixels, each with its share of the picture.

/// Colours in the palette.
pub const PALETTE_SIZE: usize = 5;
/// Pixels sampled for the palette (a regular grid).
const PALETTE_SAMPLES: usize = 2048;
const KMEANS_ITERATIONS: usize = 12;
/// Stride, in both axes, of the pixels the global measures average.
const STAT_STEP: usize = 2;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PaletteColour {
    pub rgb: [u8; 3],
    /// Fraction of the sampled pixels nearest to this colour.
    pub share: f32,
}

impl PaletteColour {
    pub fn hex(&self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.rgb[0], self.rgb[1], self.rgb[2])
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColourFeatures {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub warmth: f32,
    pub colourfulness: f32,
    /// Largest share first; `palette_len` entries are valid.
    pub palette: [PaletteColour; PALETTE_SIZE],
    pub palette_len: usize,
}

impl ColourFeatures {
    pub fn palette(&self) -> &[PaletteColour] {
        &self.palette[..self.palette_len]
    }
}

/// Measures an RGB8 image (`width * height * 3` bytes, row-major).
pub fn analyse(rgb: &[u8], width: usize, height: usize) -> ColourFeatures {
    let n = width * height;
    assert!(n > 0 && rgb.len() >= n * 3, "colour::analyse needs a non-empty RGB8 image");
    // Global means are taken over every other pixel of every other row
    // (a quarter of the frame, ~22,000 pixels at 341x256): the same numbers
    // to three decimals on photos, at a quarter of the cost. Per-row sums in
    // f32, totals in f64.
    let mut total = [0.0f64; 8];
    let mut count = 0usize;
    for row in rgb[..n * 3].chunks_exact(width * 3).step_by(STAT_STEP) {
        let mut acc = [0.0f32; 8];
        for px in row.chunks_exact(3).step_by(STAT_STEP) {
            count += 1;
            let (r, g, b) = (px[0] as f32, px[1] as f32, px[2] as f32);
            let y = (0.299 * r + 0.587 * g + 0.114 * b) * (1.0 / 255.0);
            let max = r.max(g).max(b);
            let min = r.min(g).min(b);
            let s = if max > 0.0 { (max - min) / max } else { 0.0 };
            // Hue as the angle of the opponent chroma vector (alpha, beta);
            // cos(h - 30°) without trigonometry.
            let alpha = r - 0.5 * (g + b);
            let beta = 0.866_025_4 * (g - b);
            let chroma = (alpha * alpha + beta * beta).sqrt();
            let warm = if chroma > 0.0 { (alpha * 0.866_025_4 + beta * 0.5) / chroma } else { 0.0 };
            let rg = r - g;
            let yb = 0.5 * (r + g) - b;
            acc[0] += y;
            acc[1] += y * y;
            acc[2] += s;
            acc[3] += s * warm;
            acc[4] += rg;
            acc[5] += rg * rg;
            acc[6] += yb;
            acc[7] += yb * yb;
        }
        for (t, a) in total.iter_mut().zip(acc) {
            *t += a as f64;
        }
    }
    let nf = count as f64;
    let [sum_y, sum_y2, sum_s, sum_warm, sum_rg, sum_rg2, sum_yb, sum_yb2] = total;
    let mean_y = sum_y / nf;
    let (mean_rg, mean_yb) = (sum_rg / nf, sum_yb / nf);
    let var_rg = (sum_rg2 / nf - mean_rg * mean_rg).max(0.0);
    let var_yb = (sum_yb2 / nf - mean_yb * mean_yb).max(0.0);
    let colourfulness = (var_rg + var_yb).sqrt() + 0.3 * (mean_rg * mean_rg + mean_yb * mean_yb).sqrt();
    let (palette, palette_len) = palette(rgb, width, height);
    ColourFeatures {
        brightness: mean_y as f32,
        contrast: (sum_y2 / nf - mean_y * mean_y).max(0.0).sqrt() as f32,
        saturation: (sum_s / nf) as f32,
        warmth: (sum_warm / nf) as f32,
        colourfulness: colourfulness as f32,
        palette,
        palette_len,
    }
}

/// CIELAB (D65) of an sRGB8 pixel.
pub fn srgb_to_lab(rgb: [u8; 3]) -> [f32; 3] {
    static LINEAR: std::sync::LazyLock<[f32; 256]> = std::sync::LazyLock::new(|| {
        std::array::from_fn(|i| {
            let c = i as f32 / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        })
    });
    let lin = |c: u8| LINEAR[c as usize];
    let (r, g, b) = (lin(rgb[0]), lin(rgb[1]), lin(rgb[2]));
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f32| {
        if t > 216.0 / 24389.0 { t.cbrt() } else { (24389.0 / 27.0 * t + 16.0) / 116.0 }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

pub fn lab_to_srgb(lab: [f32; 3]) -> [u8; 3] {
    let fy = (lab[0] + 16.0) / 116.0;
    let fx = fy + lab[1] / 500.0;
    let fz = fy - lab[2] / 200.0;
    let inv = |t: f32| {
        if t.powi(3) > 216.0 / 24389.0 { t.powi(3) } else { (116.0 * t - 16.0) * 27.0 / 24389.0 }
    };
    let (x, y, z) = (inv(fx) * 0.95047, inv(fy), inv(fz) * 1.08883);
    let r = 3.2406 * x - 1.5372 * y - 0.4986 * z;
    let g = -0.9689 * x + 1.8758 * y + 0.0415 * z;
    let b = 0.0557 * x - 0.2040 * y + 1.0570 * z;
    let enc = |c: f32| {
        let c = c.clamp(0.0, 1.0);
        let v = if c <= 0.0031308 { 12.92 * c } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
        (v * 255.0).round() as u8
    };
    [enc(r), enc(g), enc(b)]
}

fn dist2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

/// Dominant colours by k-means in CIELAB. Deterministic: the first centre is
/// the sample nearest the mean, each next one the sample farthest from all
/// centres so far (maximin), so a small accent colour still gets a centre.
fn palette(rgb: &[u8], width: usize, height: usize) -> ([PaletteColour; PALETTE_SIZE], usize) {
    let step = ((width * height) as f64 / PALETTE_SAMPLES as f64).sqrt().max(1.0);
    let mut samples = [[0.0f32; 3]; PALETTE_SAMPLES];
    let mut count = 0;
    let mut fy = step / 2.0;
    while (fy as usize) < height && count < PALETTE_SAMPLES {
        let mut fx = step / 2.0;
        while (fx as usize) < width && count < PALETTE_SAMPLES {
            let p = ((fy as usize) * width + fx as usize) * 3;
            samples[count] = srgb_to_lab([rgb[p], rgb[p + 1], rgb[p + 2]]);
            count += 1;
            fx += step;
        }
        fy += step;
    }
    let samples = &samples[..count];
    let mut mean = [0.0f32; 3];
    for s in samples {
        for c in 0..3 {
            mean[c] += s[c] / count as f32;
        }
    }
    let mut centres = [[0.0f32; 3]; PALETTE_SIZE];
    let nearest_mean = samples.iter().min_by(|a, b| dist2(a, &mean).total_cmp(&dist2(b, &mean))).copied();
    centres[0] = nearest_mean.unwrap_or(mean);
    let mut k = 1;
    let mut best = [f32::INFINITY; PALETTE_SAMPLES];
    while k < PALETTE_SIZE {
        let mut far = (0.0f32, 0usize);
        for (i, s) in samples.iter().enumerate() {
            best[i] = best[i].min(dist2(s, &centres[k - 1]));
            if best[i] > far.0 {
                far = (best[i], i);
            }
        }
        // Stop when every sample is within ~2 ΔE of a centre: fewer colours.
        if far.0 < 4.0 {
            break;
        }
        centres[k] = samples[far.1];
        k += 1;
    }
    let mut assign = [0u8; PALETTE_SAMPLES];
    for _ in 0..KMEANS_ITERATIONS {
        let mut sums = [[0.0f64; 4]; PALETTE_SIZE];
        let mut changed = false;
        for (i, s) in samples.iter().enumerate() {
            let (mut j, mut best_d) = (0, f32::INFINITY);
            for (c, centre) in centres[..k].iter().enumerate() {
                let d = dist2(s, centre);
                if d < best_d {
                    (j, best_d) = (c, d);
                }
            }
            changed |= assign[i] as usize != j;
            assign[i] = j as u8;
            for c in 0..3 {
                sums[j][c] += s[c] as f64;
            }
            sums[j][3] += 1.0;
        }
        for j in 0..k {
            if sums[j][3] > 0.0 {
                centres[j] = [0, 1, 2].map(|c| (sums[j][c] / sums[j][3]) as f32);
            }
        }
        if !changed {
            break;
        }
    }
    let mut counts = [0usize; PALETTE_SIZE];
    for &a in &assign[..count] {
        counts[a as usize] += 1;
    }
    let mut out = [PaletteColour::default(); PALETTE_SIZE];
    let mut len = 0;
    for j in 0..k {
        if counts[j] > 0 {
            out[len] = PaletteColour { rgb: lab_to_srgb(centres[j]), share: counts[j] as f32 / count as f32 };
            len += 1;
        }
    }
    out[..len].sort_by(|a, b| b.share.total_cmp(&a.share).then(a.rgb.cmp(&b.rgb)));
    (out, len)
}
