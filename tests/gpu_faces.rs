//! The GPU face engine (`faces::gpu`, `shaders/faces.wgsl`) against the
//! goldens of `models/golden_faces.py` (numpy, float64, straight from
//! face-api's weights), the plain reference and the CPU engine, on seeded
//! random inputs of awkward sides (odd, not a multiple of 32, smaller than
//! a workgroup's tile) and batches of several images in one call.
//!
//! Tolerances, those `tests/faces.rs` holds the CPU engine to: raw detector
//! outputs within 2e-4 of the largest golden magnitude (`rel_err`) and
//! within 1e-4 of the reference's largest; expression probabilities within
//! 1e-4 of the golden and 1e-5 of the CPU engine's. The GPU differs only in
//! the order it sums in and where it fuses a multiply and an add (lavapipe
//! measures about 1e-6 on each).
//!
//! Without an adapter these tests skip; `PIXTAPE_REQUIRE_GPU=1` makes that a
//! failure (CI runs them on Mesa's lavapipe).

mod common;

use common::{Rng, faces_golden, gpu, rel_err};
use pixtape::engine::faces::cpu::CpuFaces;
use pixtape::engine::faces::gpu::GpuFaces;
use pixtape::engine::faces::nets::FaceNets;
use pixtape::engine::faces::{DETECTOR_OUT, FACE_BYTES, FaceEngine, NET_ORDER, grid_side, reference};

fn nets() -> &'static FaceNets {
    FaceNets::embedded().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn gpu_faces_is_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<GpuFaces<'static>>();
}

#[test]
fn gpu_detector_matches_golden() {
    let Some(gpu) = gpu() else { return };
    let faces = GpuFaces::new(gpu, nets()).unwrap();
    let goldens = faces_golden();
    let with: Vec<_> = goldens.iter().filter_map(|g| g.input416.as_ref().map(|io| (&g.name, io))).collect();
    assert!(!with.is_empty(), "no golden detector input");
    // Every golden input in one call: the batch path at the real side.
    let inputs: Vec<u8> = with.iter().flat_map(|(_, (input, _))| input.iter().copied()).collect();
    let got = faces.detect(&inputs, 416, with.len()).unwrap();
    let per = grid_side(416).pow(2) * DETECTOR_OUT;
    assert_eq!(got.len(), with.len() * per);
    let mut worst = 0.0f32;
    for (i, (name, (_, want))) in with.iter().enumerate() {
        let err = rel_err(&got[i * per..(i + 1) * per], want);
        assert!(err <= 2e-4, "{name}: GPU detector differs from golden by {err:.2e}");
        worst = worst.max(err);
    }
    eprintln!("GPU detector vs golden ({} inputs): max rel err {worst:.2e}", with.len());
}

#[test]
fn gpu_detector_matches_reference_on_awkward_sides() {
    let Some(gpu) = gpu() else { return };
    let faces = GpuFaces::new(gpu, nets()).unwrap();
    let mut rng = Rng(29);
    // (side, images in one call); 70 is more than one submission takes.
    for (side, n) in [(35, 1), (96, 1), (150, 1), (67, 3), (3, 2), (8, 70)] {
        let inputs = rng.bytes(n * side * side * 3);
        let got = faces.detect(&inputs, side, n).unwrap();
        let per = grid_side(side).pow(2) * DETECTOR_OUT;
        assert_eq!(got.len(), n * per, "side {side}");
        let mut worst = 0.0f32;
        for i in 0..n {
            let want = reference::detector(&nets().detector, &inputs[i * side * side * 3..][..side * side * 3], side);
            let err = rel_err(&got[i * per..(i + 1) * per], &want);
            assert!(err <= 1e-4, "side {side}, image {i} of {n}: GPU detector differs from reference by {err:.2e}");
            worst = worst.max(err);
        }
        eprintln!("side {side}, {n} images: max rel err {worst:.2e}");
    }
}

#[test]
fn gpu_expression_matches_golden() {
    let Some(gpu) = gpu() else { return };
    let faces = GpuFaces::new(gpu, nets()).unwrap();
    let goldens = faces_golden();
    let crops: Vec<u8> = goldens.iter().flat_map(|g| g.crops.iter().flatten().copied()).collect();
    let want: Vec<&[f32; 7]> = goldens.iter().flat_map(|g| &g.expressions).collect();
    assert!(want.len() >= 10, "golden file holds {} faces", want.len());
    let got = faces.express(&crops, want.len()).unwrap();
    assert_eq!(got.len(), want.len());
    let mut worst = 0.0f32;
    for (i, (probs, want)) in got.iter().zip(&want).enumerate() {
        // The engine answers in `EXPRESSIONS` order, the golden in face-api's.
        let want: Vec<f32> = NET_ORDER.iter().map(|&j| want[j]).collect();
        let err = max_diff(probs, &want);
        assert!(err <= 1e-4, "face {i}: GPU expression differs from golden by {err:.2e}: {probs:?} vs {want:?}");
        worst = worst.max(err);
    }
    eprintln!("GPU expression vs golden ({} faces): max abs err {worst:.2e}", got.len());
}

#[test]
fn gpu_expression_matches_cpu_on_random_crops() {
    let Some(gpu) = gpu() else { return };
    let (faces, cpu) = (GpuFaces::new(gpu, nets()).unwrap(), CpuFaces::new(nets()));
    let mut rng = Rng(31);
    for n in [3, 1] {
        let crops = rng.bytes(n * FACE_BYTES);
        let got = faces.express(&crops, n).unwrap();
        let want = cpu.express(&crops, n).unwrap();
        assert_eq!(got.len(), n);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let err = max_diff(g, w);
            assert!(err <= 1e-5, "crop {i} of {n}: {g:?} vs CPU {w:?}");
            assert!((g.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            eprintln!("crop {i} of {n}: GPU vs CPU max abs err {err:.2e}");
        }
    }
}

#[test]
fn concurrent_calls_give_the_answers_of_single_ones() {
    // Decode workers share one engine: calls side by side must not see each
    // other's workspaces.
    let Some(gpu) = gpu() else { return };
    let faces = GpuFaces::new(gpu, nets()).unwrap();
    let mut rng = Rng(37);
    let (side, n) = (64, 2);
    let jobs: Vec<(Vec<u8>, Vec<u8>)> =
        (0..4).map(|_| (rng.bytes(n * side * side * 3), rng.bytes(FACE_BYTES))).collect();
    let alone: Vec<(Vec<f32>, Vec<[f32; 7]>)> =
        jobs.iter().map(|(d, e)| (faces.detect(d, side, n).unwrap(), faces.express(e, 1).unwrap())).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(d, e)| s.spawn(|| (faces.detect(d, side, n).unwrap(), faces.express(e, 1).unwrap())))
            .collect();
        for (h, want) in handles.into_iter().zip(&alone) {
            assert_eq!(&h.join().unwrap(), want);
        }
    });
}

#[test]
fn empty_and_short_calls() {
    let Some(gpu) = gpu() else { return };
    let faces = GpuFaces::new(gpu, nets()).unwrap();
    assert!(faces.detect(&[], 416, 0).unwrap().is_empty());
    assert!(faces.express(&[], 0).unwrap().is_empty());
    assert!(faces.detect(&[0; 100], 416, 1).is_err());
    assert!(faces.express(&[0; 100], 1).is_err());
    assert!(faces.detect(&[0; 12], 2, 1).is_err());
}
