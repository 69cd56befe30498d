//! Exact top-k against a brute-force sort, on seeded random data and
//! awkward shapes; and the weighted-cosine definition of the score.

mod common;

use common::Rng;
use pixtape::mood::{self, Group, Groups, SIM_DIMS, SimVector, Weights};
use pixtape::similarity::{Hit, TrackMatrix, top_k, top_k_reference};

fn sim_vec(rng: &mut Rng) -> SimVector {
    std::array::from_fn(|_| rng.f32())
}

fn sim_vecs(rng: &mut Rng, n: usize) -> Vec<SimVector> {
    (0..n).map(|_| sim_vec(rng)).collect()
}

/// Same hits as the reference, scores within 1e-5; where scores tie (within
/// float noise), the tied tracks may come in either order, and at the k-th
/// place either of the tied tracks may make the cut.
fn assert_same(got: &[Hit], want: &[Hit], all: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g.score - w.score).abs() <= 1e-5, "score {} vs {}", g.score, w.score);
        let exact = all[g.track as usize];
        assert!((exact - g.score).abs() <= 1e-5, "reported score is the track's score");
    }
    let cut = want.last().map_or(f32::INFINITY, |h| h.score);
    let strict = |hits: &[Hit]| {
        let mut v: Vec<u32> = hits.iter().filter(|h| h.score > cut + 1e-5).map(|h| h.track).collect();
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
            let all: Vec<f32> = tracks.iter().map(|t| queries[i].iter().zip(t).map(|(a, b)| a * b).sum()).collect();
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
