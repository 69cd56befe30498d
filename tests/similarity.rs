//! Exact top-k against a brute-force sort, on seeded random data and
//! awkward shapes, for the automatic choice and for every CPU kernel the
//! machine runs; and the weighted-cosine definition of the score.

mod common;

use common::Rng;
use pixtape::engine::isa::Isa;
use pixtape::engine::mood::{self, Group, Groups, SIM_DIMS, SimVector, Weights};
use pixtape::engine::similarity::{Hit, TrackMatrix, top_k, top_k_reference, top_k_with};

/// Score tolerance, absolute. Scores are sums of 38 products of values in
/// [-1, 1), a few units in size; summing them in another order or with fused
/// multiply-adds moves them by a few ulps, far less than this.
const TOL: f32 = 1e-5;

fn sim_vec(rng: &mut Rng) -> SimVector {
    std::array::from_fn(|_| rng.f32())
}

fn sim_vecs(rng: &mut Rng, n: usize) -> Vec<SimVector> {
    (0..n).map(|_| sim_vec(rng)).collect()
}

fn exact_scores(q: &SimVector, tracks: &[SimVector]) -> Vec<f32> {
    tracks.iter().map(|t| q.iter().zip(t).map(|(a, b)| a * b).sum()).collect()
}

/// Same hits as the reference, scores within `TOL`, best first, no track
/// twice; where scores tie (within float noise), the tied tracks may come in
/// either order, and at the k-th place either of the tied tracks may make
/// the cut.
fn assert_same(got: &[Hit], want: &[Hit], all: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g.score - w.score).abs() <= TOL, "score {} vs {}", g.score, w.score);
        let exact = all[g.track as usize];
        assert!((exact - g.score).abs() <= TOL, "reported score is the track's score");
    }
    assert!(got.windows(2).all(|w| w[0].score >= w[1].score), "hits come best first");
    let mut tracks: Vec<u32> = got.iter().map(|h| h.track).collect();
    tracks.sort();
    tracks.dedup();
    assert_eq!(tracks.len(), got.len(), "no track twice");
    let cut = want.last().map_or(f32::INFINITY, |h| h.score);
    let strict = |hits: &[Hit]| {
        let mut v: Vec<u32> = hits.iter().filter(|h| h.score > cut + TOL).map(|h| h.track).collect();
        v.sort();
        v
    };
    assert_eq!(strict(got), strict(want), "tracks clearly above the cut-off must match");
}

#[test]
fn top_k_equals_brute_force_on_random_data_and_awkward_shapes() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    // Sizes below, at and above the 16-track panel and the 6-image block,
    // k of 1, k past the catalog, and a catalog spanning parallel chunks.
    for &(n, q, k) in &[
        (1usize, 1usize, 1usize),
        (15, 5, 3),
        (16, 6, 16),
        (17, 7, 20),
        (1000, 13, 1),
        (1000, 2, 256),
        (70_000, 3, 25),
    ] {
        let tracks = sim_vecs(&mut rng, n);
        let queries = sim_vecs(&mut rng, q);
        let matrix = TrackMatrix::from_vectors(&tracks);
        let got = top_k(&queries, &matrix, k);
        let want = top_k_reference(&queries, &tracks, k);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let all = exact_scores(&queries[i], &tracks);
            assert_eq!(g.len(), k.min(n), "n={n} k={k}");
            assert_same(g, w, &all);
        }
    }
}

#[test]
fn ties_go_to_the_earlier_track() {
    // Twenty copies of the same vector: every score ties.
    let v: SimVector = std::array::from_fn(|i| (i as f32 * 0.37).sin());
    let tracks = vec![v; 20];
    let got = top_k(&[v], &TrackMatrix::from_vectors(&tracks), 5);
    let ids: Vec<u32> = got[0].iter().map(|h| h.track).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
    assert_eq!(top_k_reference(&[v], &tracks, 5)[0].iter().map(|h| h.track).collect::<Vec<_>>(), ids);
}

#[test]
fn empty_catalog_and_zero_k() {
    let q: SimVector = [0.5; SIM_DIMS];
    assert!(top_k(&[q], &TrackMatrix::new(), 10)[0].is_empty());
    assert!(top_k(&[q], &TrackMatrix::from_vectors(&[q]), 0)[0].is_empty());
}

/// Runs `kernel`, or says why not: only AVX2 may be missing, and only where
/// the machine lacks it.
fn run(kernel: Isa, queries: &[SimVector], tracks: &TrackMatrix, k: usize) -> Option<Vec<Vec<Hit>>> {
    let got = top_k_with(queries, tracks, k, kernel);
    assert_eq!(got.is_some(), kernel.supported(), "{kernel:?}");
    if got.is_none() {
        assert_ne!(kernel, Isa::Scalar, "the scalar kernel runs everywhere");
        eprintln!("skipping the {kernel:?} kernel: this machine lacks it");
    }
    got
}

const KERNELS: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

#[test]
fn every_cpu_kernel_equals_brute_force_on_awkward_shapes() {
    // The scalar kernel is the whole CPU path on machines without AVX2, so it
    // is checked here even where `top_k` would never pick it. Tracks: one,
    // around the 16-track panel, and past one and two 65,536-track chunks;
    // queries: one, and around the 6-image (AVX2) and 12-image (AVX-512)
    // blocks; k: 0, 1, up to and past the catalog's size.
    let mut rng = Rng(0x0dd5_1ee7_cafe_f00d);
    let shapes: &[(usize, usize, &[usize])] = &[
        (1, 1, &[0, 1, 3]),
        (15, 5, &[0, 1, 7, 15, 16]),
        (16, 6, &[1, 15, 16, 17]),
        (17, 7, &[1, 16, 17, 40]),
        (1000, 13, &[1, 256]),
        (300, 12, &[1, 50]),
        (333, 25, &[3, 333]),
        (65_536 + 17, 1, &[1, 20]),
        (2 * 65_536 + 5, 6, &[0, 25]),
    ];
    for &(n, q, ks) in shapes {
        let tracks = sim_vecs(&mut rng, n);
        let queries = sim_vecs(&mut rng, q);
        let matrix = TrackMatrix::from_vectors(&tracks);
        let all: Vec<Vec<f32>> = queries.iter().map(|q| exact_scores(q, &tracks)).collect();
        let k_max = ks.iter().copied().max().unwrap_or(0);
        // The reference's lists are sorted with ties to the lower index, so
        // its top k is the prefix of its top `k_max`.
        let full = top_k_reference(&queries, &tracks, k_max);
        for &k in ks {
            for kernel in KERNELS {
                let Some(got) = run(kernel, &queries, &matrix, k) else { continue };
                assert_eq!(got.len(), q, "{kernel:?} n={n} q={q} k={k}");
                for (i, (g, w)) in got.iter().zip(&full).enumerate() {
                    assert_eq!(g.len(), k.min(n), "{kernel:?} n={n} q={q} k={k}");
                    assert_same(g, &w[..k.min(n)], &all[i]);
                }
            }
        }
    }
}

#[test]
fn every_cpu_kernel_breaks_exact_ties_by_the_earlier_track() {
    // Copies of one vector tie exactly; in 65,600 tracks the tie spans two
    // chunks, whose heaps are merged.
    let mut rng = Rng(7);
    let v = sim_vec(&mut rng);
    for n in [20, 65_600] {
        let tracks = vec![v; n];
        let matrix = TrackMatrix::from_vectors(&tracks);
        let queries = [v, v, v, v, v, v, v];
        for kernel in KERNELS {
            let Some(got) = run(kernel, &queries, &matrix, 5) else { continue };
            for hits in &got {
                assert_eq!(hits.iter().map(|h| h.track).collect::<Vec<_>>(), [0, 1, 2, 3, 4], "{kernel:?} n={n}");
            }
        }
    }
}

#[test]
fn every_cpu_kernel_handles_an_empty_catalog_and_zero_k() {
    let q: SimVector = [0.5; SIM_DIMS];
    for kernel in KERNELS {
        let Some(empty) = run(kernel, &[q], &TrackMatrix::new(), 10) else { continue };
        assert_eq!(empty, [Vec::<Hit>::new()]);
        assert_eq!(run(kernel, &[q, q], &TrackMatrix::from_vectors(&[q]), 0), Some(vec![Vec::new(), Vec::new()]));
    }
}

#[test]
fn top_k_runs_the_fastest_available_kernel() {
    let kernel = Isa::detect();
    assert!(kernel.supported());
    assert!(Isa::Scalar.supported());
    assert_eq!(Some(&kernel), Isa::available().last(), "the fastest path this CPU has");
    let mut rng = Rng(8);
    let tracks = TrackMatrix::from_vectors(&sim_vecs(&mut rng, 40));
    let queries = sim_vecs(&mut rng, 3);
    assert_eq!(Some(top_k(&queries, &tracks, 9)), top_k_with(&queries, &tracks, 9, kernel));
}

#[test]
fn score_is_the_weighted_mean_of_group_cosines() {
    let mut rng = Rng(99);
    let w = Weights { affect: 0.4, moods: 0.3, styles: 0.2, themes: 0.1 };
    for present in [Groups::ALL, Groups::NONE.with(Group::Affect).with(Group::Moods)] {
        let a: mood::MoodVector = std::array::from_fn(|_| rng.f32().abs());
        let b: mood::MoodVector = std::array::from_fn(|_| rng.f32().abs());
        let q = mood::sim_vector(&a, Groups::ALL, &w, false);
        let t = mood::sim_vector(&b, present, &w, true);
        let got: f32 = q.iter().zip(&t).map(|(x, y)| x * y).sum();
        let (mut num, mut den) = (0.0f32, 0.0f32);
        for g in mood::GROUPS {
            if !present.has(g) {
                continue;
            }
            let r = g.dims();
            let (mut xa, mut xb) = (a[r.clone()].to_vec(), b[r.clone()].to_vec());
            if g == Group::Affect {
                xa.push(0.5);
                xb.push(0.5);
            }
            let dot: f32 = xa.iter().zip(&xb).map(|(x, y)| x * y).sum();
            let na = xa.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb = xb.iter().map(|x| x * x).sum::<f32>().sqrt();
            num += w.of(g) * dot / (na * nb);
            den += w.of(g);
        }
        assert!((got - num / den).abs() < 1e-5, "{got} vs {}", num / den);
    }
}
