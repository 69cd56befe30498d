//! Decode stage: parity with torchvision's Pillow preprocessing, EXIF
//! orientation, and the geometry of the resize plan.

use std::path::Path;

use image::metadata::Orientation;
use pixtape::engine::decode::{self, DecodeLimits, Decoder};
use pixtape::engine::model::CROP_BYTES;
use safetensors::SafeTensors;

const GOLDEN: &[u8] = include_bytes!("../models/golden/mobilenet_v2_golden.safetensors");

#[test]
fn crops_match_pillow_preprocessing() {
    // models/golden.py stores the crop Pillow produced for every bundled photo.
    // fast_image_resize implements the same antialiased bilinear filter, so
    // the crops agree to within rounding of intermediate values.
    let st = SafeTensors::deserialize(GOLDEN).unwrap();
    let mut dec = Decoder::new(DecodeLimits::default());
    let mut crop = vec![0u8; CROP_BYTES];
    let mut checked = 0;
    for name in st.names() {
        let Some(stem) = name.strip_suffix(".input") else {
            continue;
        };
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/photos").join(format!("{stem}.jpg"));
        dec.decode_file(&path, &mut crop).unwrap();
        let want = st.tensor(name).unwrap().data();
        let diffs: Vec<i32> = crop.iter().zip(want).map(|(a, b)| (*a as i32 - *b as i32).abs()).collect();
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        let max = *diffs.iter().max().unwrap();
        println!("{stem}: mean |diff| {mean:.3}, max {max}");
        assert!(mean < 0.5 && max <= 6, "{stem}: crop differs from Pillow's (mean {mean:.3}, max {max})");
        checked += 1;
    }
    assert!(checked >= 5);
}

#[test]
fn resize_plan_follows_torchvision() {
    // Short side 256, long side truncated.
    assert_eq!(decode::resize_plan(640, 480).1, (341, 256));
    assert_eq!(decode::resize_plan(480, 640).1, (256, 341));
    assert_eq!(decode::resize_plan(300, 300).1, (256, 256));
    assert_eq!(decode::resize_plan(10, 20).1, (256, 512));
    // An extreme strip keeps only its central 4:1 part.
    let (src, size) = decode::resize_plan(100_000, 10);
    assert_eq!(size, (1024, 256));
    assert_eq!(src, (49_980.0, 0.0, 40.0, 10.0));
}

#[test]
fn orientation_agrees_with_the_image_crate() {
    let (w, h) = (5usize, 3usize);
    let src: Vec<u8> = (0..w * h * 3).map(|i| i as u8).collect();
    for o in [
        Orientation::NoTransforms,
        Orientation::Rotate90,
        Orientation::Rotate180,
        Orientation::Rotate270,
        Orientation::FlipHorizontal,
        Orientation::FlipVertical,
        Orientation::Rotate90FlipH,
        Orientation::Rotate270FlipH,
    ] {
        let mut ours = Vec::new();
        decode::orient(&src, w, h, o, &mut ours);
        let mut theirs =
            image::DynamicImage::ImageRgb8(image::RgbImage::from_raw(w as u32, h as u32, src.clone()).unwrap());
        theirs.apply_orientation(o);
        assert_eq!(ours, theirs.to_rgb8().into_raw(), "{o:?}");
    }
}

/// Inserts an EXIF APP1 segment carrying `orientation` after the SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_honoured() {
    let cat = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/photos/cat.jpg")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Orientation 6: the camera was turned; show the picture rotated 90° clockwise.
    let tagged = dir.path().join("rotated_by_exif.jpg");
    std::fs::write(&tagged, with_exif_orientation(&cat, 6)).unwrap();
    // The same pixels rotated for real, stored losslessly.
    let upright = dir.path().join("rotated_for_real.png");
    image::load_from_memory(&cat).unwrap().rotate90().save(&upright).unwrap();

    let mut dec = Decoder::new(DecodeLimits::default());
    let (mut a, mut b) = (vec![0u8; CROP_BYTES], vec![0u8; CROP_BYTES]);
    let info = dec.decode_file(&tagged, &mut a).unwrap();
    assert_eq!((info.width, info.height), (300, 451), "dimensions are reported after orientation");
    dec.decode_file(&upright, &mut b).unwrap();
    let mean = a.iter().zip(&b).map(|(x, y)| (*x as i32 - *y as i32).abs()).sum::<i32>() as f64 / a.len() as f64;
    assert!(mean < 1.0, "EXIF-rotated crop differs from the truly rotated one: mean |diff| {mean:.3}");
}

/// Large JPEGs are decoded at reduced DCT scale unless `exact`: the crop
/// the model sees stays close to the exact path's, EXIF orientation still
/// applies, and the reported size is the file's. Images too small to reduce
/// take the exact path either way.
#[test]
fn reduced_scale_jpeg_decode_stays_close_to_the_exact_path() {
    use pixtape::tools::synth::{PhotoSpec, photo};
    let exact_limits = DecodeLimits { exact: true, ..DecodeLimits::default() };
    let (mut exact, mut fast) = (Decoder::new(exact_limits), Decoder::new(DecodeLimits::default()));
    let (mut a, mut b) = (vec![0u8; CROP_BYTES], vec![0u8; CROP_BYTES]);
    for (w, h, reduced) in
        // Odd sizes whose reduced decode rounds up (737 → 369) once failed:
        // the scaled crop box passed the image's edge by a rounding error.
        [
            (4000, 3000, true),
            (1920, 1080, true),
            (1200, 1600, true),
            (700, 520, true),
            (737, 552, true),
            (767, 575, true),
            (725, 543, true),
            (2047, 1535, true),
            (600, 500, false),
        ]
    {
        let jpeg = photo(&PhotoSpec { width: w, height: h, exact: true, quality: 88, seed: 3 }, 1);
        for tag in [None, Some(6u16)] {
            let bytes = tag.map_or_else(|| jpeg.clone(), |o| with_exif_orientation(&jpeg, o));
            let x = exact.decode_bytes(&bytes, Some(image::ImageFormat::Jpeg), &mut a).unwrap();
            let y = fast.decode_bytes(&bytes, Some(image::ImageFormat::Jpeg), &mut b).unwrap();
            let want = if tag.is_some() { (h as u32, w as u32) } else { (w as u32, h as u32) };
            assert_eq!((x.width, x.height), want);
            assert_eq!((y.width, y.height), want, "the file's size, not the reduced decode's");
            let diffs: Vec<i32> = a.iter().zip(&b).map(|(p, q)| (*p as i32 - *q as i32).abs()).collect();
            let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
            let max = *diffs.iter().max().unwrap();
            println!("{w}x{h} orientation {tag:?}: mean |diff| {mean:.3}, max {max}");
            if reduced {
                assert!(
                    mean < 1.0 && max <= 12,
                    "{w}x{h}: reduced decode strays from the exact crop (mean {mean:.3}, max {max})"
                );
                assert!((x.colour.brightness - y.colour.brightness).abs() < 0.01);
            } else {
                assert_eq!(a, b, "{w}x{h} is too small to reduce: the same path");
            }
        }
    }
}

/// A large JPEG that is damaged or cut short is judged exactly as on the
/// full-size path: libjpeg's reduced decode gives up on any warning, and
/// the strict decoder says what is wrong.
#[test]
fn damaged_large_jpegs_are_judged_as_on_the_exact_path() {
    use pixtape::tools::synth::{PhotoSpec, photo};
    let jpeg = photo(&PhotoSpec { width: 1920, height: 1080, exact: true, quality: 88, seed: 5 }, 2);
    let mut dec = Decoder::new(DecodeLimits::default());
    let mut crop = vec![0u8; CROP_BYTES];
    let cut = &jpeg[..jpeg.len() / 2];
    let e = dec.decode_bytes(cut, Some(image::ImageFormat::Jpeg), &mut crop).unwrap_err();
    assert!(e.reason.contains("truncated"), "{e:?}");
    let mut damaged = jpeg.clone();
    let mid = damaged.len() / 2;
    for b in &mut damaged[mid..mid + 64] {
        *b = if *b == 0xFF { 0xFF } else { b.wrapping_mul(31).wrapping_add(7) & 0xFE };
    }
    let info = dec.decode_bytes(&damaged, Some(image::ImageFormat::Jpeg), &mut crop).unwrap();
    assert!(info.warning.as_deref().is_some_and(|w| w.contains("damaged")), "{:?}", info.warning);
}
