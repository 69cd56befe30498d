//! Faces on the CPU: the reference networks and the CPU engine against the
//! goldens of `models/golden_faces.py` (numpy, float64, straight from
//! face-api's weights), the CPU engine against the reference on awkward
//! sizes, and the whole finder on real photos, pictures without people and
//! bad shapes. Tolerances: raw detector outputs within 2e-4 of their
//! largest magnitude, expression probabilities within 1e-4 (networks on the
//! golden inputs); boxes within IoU 0.9 and the same top expression
//! wherever the golden's top two differ by more than 0.2 (whole finder,
//! whose resizes are Pillow's to a rounding).

mod common;

use std::path::{Path, PathBuf};

use common::{FaceGolden, Rng, faces_golden, photos_dir, rel_err};
use pixtape::engine::decode::{DecodeLimits, Decoder};
use pixtape::engine::faces::cpu::CpuFaces;
use pixtape::engine::faces::find::{Detection, clip};
use pixtape::engine::faces::nets::{FaceNets, WEIGHTS_SHA256};
use pixtape::engine::faces::{
    DEFAULT_THRESHOLD, DETECTOR_OUT, EXPRESSIONS, FACE_BYTES, FaceEngine, FaceFinder, MAX_FACES, NET_ORDER, grid_side,
    reference,
};
use pixtape::engine::model::CROP_BYTES;

fn nets() -> &'static FaceNets {
    FaceNets::embedded().unwrap()
}

fn softmax(v: &[f32; 7]) -> Vec<f32> {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn with_faces(g: &[FaceGolden]) -> impl Iterator<Item = &FaceGolden> {
    g.iter().filter(|g| g.input416.is_some())
}

#[test]
fn embedded_weights_are_the_converted_file() {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(FaceNets::embedded_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, WEIGHTS_SHA256, "models/faces.safetensors changed: update WEIGHTS_SHA256 and models/README.md");
}

#[test]
fn reference_detector_matches_golden() {
    let goldens = faces_golden();
    let g = with_faces(&goldens).next().expect("a golden photo with faces");
    let (input, want) = g.input416.as_ref().unwrap();
    let got = reference::detector(&nets().detector, input, 416);
    assert_eq!(got.len(), grid_side(416).pow(2) * DETECTOR_OUT);
    let err = rel_err(&got, want);
    assert!(err <= 2e-4, "{}: reference detector differs from golden by {err:.2e}", g.name);
}

#[test]
fn reference_expression_matches_golden() {
    let goldens = faces_golden();
    let mut faces = 0;
    for g in &goldens {
        for (crop, want) in g.crops.iter().zip(&g.expressions) {
            let got = softmax(&reference::expression(&nets().expression, crop));
            let err = max_diff(&got, want);
            assert!(err <= 1e-4, "{}: reference expression differs from golden by {err:.2e}", g.name);
            faces += 1;
        }
    }
    assert!(faces >= 10, "golden file holds {faces} faces");
}

#[test]
fn cpu_engine_matches_golden() {
    let cpu = CpuFaces::new(nets());
    let goldens = faces_golden();
    for g in with_faces(&goldens) {
        let (input, want) = g.input416.as_ref().unwrap();
        let err = rel_err(&cpu.detect_one(input, 416), want);
        assert!(err <= 2e-4, "{}: CPU detector differs from golden by {err:.2e}", g.name);
        for (crop, want) in g.crops.iter().zip(&g.expressions) {
            let err = max_diff(&softmax(&cpu.express_one(crop)), want);
            assert!(err <= 1e-4, "{}: CPU expression differs from golden by {err:.2e}", g.name);
        }
    }
}

#[test]
fn cpu_engine_matches_reference_on_awkward_sizes() {
    let (cpu, mut rng) = (CpuFaces::new(nets()), Rng(18));
    for side in [35, 96, 150] {
        let input = rng.bytes(side * side * 3);
        let want = reference::detector(&nets().detector, &input, side);
        let got = cpu.detect(&input, side, 1).unwrap();
        let err = rel_err(&got, &want);
        assert!(err <= 1e-4, "side {side}: CPU detector differs from reference by {err:.2e}");
    }
    let crops = rng.bytes(3 * FACE_BYTES);
    let got = cpu.express(&crops, 3).unwrap();
    for (i, probs) in got.iter().enumerate() {
        let want = softmax(&reference::expression(&nets().expression, &crops[i * FACE_BYTES..][..FACE_BYTES]));
        let want: Vec<f32> = NET_ORDER.iter().map(|&j| want[j]).collect();
        assert!(max_diff(probs, &want) <= 1e-5, "crop {i}: {probs:?} vs {want:?}");
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

fn photo_path(name: &str) -> PathBuf {
    let faces = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/faces");
    for dir in [faces, photos_dir()] {
        for ext in ["jpg", "webp", "png"] {
            let p = dir.join(format!("{name}.{ext}"));
            if p.exists() {
                return p;
            }
        }
    }
    panic!("no photo named {name}")
}

/// The face frame of a photo, decoded as a run decodes it (`exact`: at full
/// size, as Pillow does).
fn frame_of(path: &Path, exact: bool) -> (Vec<u8>, (usize, usize), (u32, u32)) {
    let limits = DecodeLimits { exact, ..DecodeLimits::default() };
    let mut dec = Decoder::new(limits).with_face_frame();
    let mut crop = vec![0u8; CROP_BYTES];
    let info = dec.decode_file(path, &mut crop).unwrap();
    let (frame, dims) = dec.face_frame().unwrap();
    (frame.to_vec(), dims, (info.width, info.height))
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)
}

#[test]
fn finder_matches_golden_detections_and_expressions() {
    let cpu = CpuFaces::new(nets());
    let mut finder = FaceFinder::new(DEFAULT_THRESHOLD);
    for g in faces_golden() {
        let (frame, dims, size) = frame_of(&photo_path(&g.name), true);
        assert_eq!(dims, g.frame, "{}: face frame size", g.name);
        let faces = finder.find(&cpu, &frame, dims, size).unwrap();
        assert_eq!(faces.len(), g.boxes.len(), "{}: {faces:?}", g.name);
        let (kx, ky) = (size.0 as f32 / dims.0 as f32, size.1 as f32 / dims.1 as f32);
        for (b, probs) in g.boxes.iter().zip(&g.expressions) {
            // The golden box in image pixels, clipped as the finder clips.
            let d = Detection { x: b[0], y: b[1], w: b[2], h: b[3], score: b[4] };
            let (x0, y0) = ((d.x * kx).max(0.0), (d.y * ky).max(0.0));
            let want = [x0, y0, ((d.x + d.w) * kx).min(size.0 as f32) - x0, ((d.y + d.h) * ky).min(size.1 as f32) - y0];
            let best = faces
                .iter()
                .max_by(|p, q| {
                    iou(&[p.x, p.y, p.width, p.height], &want).total_cmp(&iou(&[q.x, q.y, q.width, q.height], &want))
                })
                .unwrap();
            let overlap = iou(&[best.x, best.y, best.width, best.height], &want);
            assert!(overlap >= 0.9, "{}: golden box {want:?} best matched at IoU {overlap:.3}", g.name);
            assert!((best.confidence - b[4]).abs() < 0.03, "{}: confidence {} vs {}", g.name, best.confidence, b[4]);
            let mut sorted = probs.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            if sorted[0] - sorted[1] > 0.2 {
                let top = (0..7).max_by(|&a, &b| probs[a].total_cmp(&probs[b])).unwrap();
                let name = EXPRESSIONS[NET_ORDER.iter().position(|&j| j == top).unwrap()];
                assert_eq!(best.expression(), name, "{}: expression of {want:?}", g.name);
            }
        }
    }
}

#[test]
fn run_decode_finds_the_clear_faces() {
    // As a run decodes (large JPEGs at reduced scale): the faces that the
    // golden finds with a clear margin are still found.
    let cpu = CpuFaces::new(nets());
    let mut finder = FaceFinder::new(DEFAULT_THRESHOLD);
    for (name, faces, expression) in [("three_friends", 3, "happy"), ("portrait", 1, "happy"), ("closeup", 1, "happy")]
    {
        let (frame, dims, size) = frame_of(&photo_path(name), false);
        let found = finder.find(&cpu, &frame, dims, size).unwrap();
        assert_eq!(found.len(), faces, "{name}: {found:?}");
        assert!(found.iter().all(|f| f.expression() == expression), "{name}: {found:?}");
        for f in &found {
            assert!(f.x >= 0.0 && f.y >= 0.0 && f.x + f.width <= size.0 as f32 && f.y + f.height <= size.1 as f32);
        }
    }
}

#[test]
fn landscapes_animals_and_objects_have_no_faces() {
    let cpu = CpuFaces::new(nets());
    let mut finder = FaceFinder::new(DEFAULT_THRESHOLD);
    let mut names: Vec<PathBuf> = std::fs::read_dir(photos_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    names.sort();
    assert!(names.len() >= 8);
    for path in names {
        let (frame, dims, size) = frame_of(&path, false);
        let found = finder.find(&cpu, &frame, dims, size).unwrap();
        assert!(found.is_empty(), "{}: {found:?}", path.display());
    }
}

#[test]
fn tiny_and_strip_frames_give_no_faces_and_no_panic() {
    let cpu = CpuFaces::new(nets());
    let mut finder = FaceFinder::new(DEFAULT_THRESHOLD);
    let mut rng = Rng(7);
    for (w, h) in [(1, 1), (3, 2), (17, 9), (832, 2), (2, 600)] {
        let frame = rng.bytes(w * h * 3);
        let found = finder.find(&cpu, &frame, (w, h), (w as u32 * 4, h as u32 * 4)).unwrap();
        assert!(found.len() <= 1, "{w}x{h}: {found:?}");
    }
    assert!(finder.find(&cpu, &[], (0, 0), (0, 0)).is_err());
}

#[test]
fn a_crowd_keeps_only_the_largest_faces() {
    // A wall of 64 real faces (the golden crops, 8 x 8 at 104 pixels) in an
    // 832 frame: more than the cap, so only MAX_FACES are kept, the largest.
    let goldens = faces_golden();
    let crops: Vec<&Vec<u8>> = goldens.iter().flat_map(|g| &g.crops).collect();
    let (cell, n) = (104, 8);
    let side = cell * n;
    let mut frame = vec![0u8; side * side * 3];
    for i in 0..n * n {
        let crop = crops[i % crops.len()];
        let (cx, cy) = ((i % n) * cell, (i / n) * cell);
        // Every other face is drawn smaller, so "largest" means something.
        let s = if i % 2 == 0 { 104 } else { 72 };
        for y in 0..s {
            for x in 0..s {
                let (sx, sy) = (x * 112 / s, y * 112 / s);
                frame[((cy + y) * side + cx + x) * 3..][..3].copy_from_slice(&crop[(sy * 112 + sx) * 3..][..3]);
            }
        }
    }
    let cpu = CpuFaces::new(nets());
    let mut finder = FaceFinder::new(DEFAULT_THRESHOLD);
    let all = finder.detect(&cpu, &frame, side, side).unwrap();
    let all: Vec<Detection> = all.into_iter().filter(|b| clip(b, side, side).is_some()).collect();
    assert!(all.len() > MAX_FACES, "the wall should show more faces than the cap, found {}", all.len());
    let found = finder.find(&cpu, &frame, (side, side), (side as u32, side as u32)).unwrap();
    assert_eq!(found.len(), MAX_FACES);
    let mut areas: Vec<f32> = all.iter().map(|b| b.w * b.h).collect();
    areas.sort_by(|a, b| b.total_cmp(a));
    let smallest_kept = found.iter().map(|f| f.area()).fold(f32::INFINITY, f32::min);
    assert!(
        smallest_kept >= areas[MAX_FACES - 1] * 0.99,
        "kept {smallest_kept}, cap-th largest {}",
        areas[MAX_FACES - 1]
    );
}
