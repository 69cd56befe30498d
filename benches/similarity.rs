//! Exact top-20 over a million tracks: queries/s and GFLOP/s of the fused
//! CPU scan, with the brute-force reference on a smaller catalog as the
//! baseline it is checked against.
//!
//! `cargo bench --bench similarity`; the faiss peer (IndexFlatIP, same
//! dimension, same sizes) is `python3 benches/peers/faiss_topk.py`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixtape::mood::{SIM_DIMS, SimVector};
use pixtape::similarity::{TrackMatrix, top_k, top_k_reference};

fn vectors(n: usize, seed: u64) -> Vec<SimVector> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            std::array::from_fn(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let tracks = vectors(1_000_000, 1);
    let matrix = TrackMatrix::from_vectors(&tracks);
    let mut group = c.benchmark_group("top20_1m_tracks");
    group.sample_size(10);
    for batch in [1usize, 32, 256] {
        let queries = vectors(batch, 2);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("fused_cpu/batch{batch}"), |b| b.iter(|| top_k(&queries, &matrix, 20)));
        let t = std::time::Instant::now();
        let reps = (512 / batch).max(2);
        for _ in 0..reps {
            std::hint::black_box(top_k(&queries, &matrix, 20));
        }
        let secs = t.elapsed().as_secs_f64() / reps as f64;
        let flop = 2.0 * (SIM_DIMS * tracks.len() * batch) as f64;
        eprintln!("fused_cpu batch {batch}: {:.0} queries/s, {:.1} GFLOP/s", batch as f64 / secs, flop / secs / 1e9);
    }
    let small = &tracks[..100_000];
    let queries = vectors(8, 3);
    group.throughput(Throughput::Elements(8));
    group.bench_function("reference_sort_100k/batch8", |b| b.iter(|| top_k_reference(&queries, small, 20)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
