//! Exact top-k over a large catalog: queries/s and GFLOP/s of the fused CPU
//! scan and, when wgpu finds an adapter, of the fused GPU kernel, in the same
//! run; the brute-force reference on a smaller catalog is the baseline both
//! are checked against.
//!
//! `cargo bench --bench similarity`; `PIXTAPE_BENCH_TRACKS` sets the catalog
//! size (default 1,000,000; the GPU figures also say how many binding-sized
//! tiles it took), `PIXTAPE_BENCH_BATCHES` the query batches (default
//! `1,32,256`), `PIXTAPE_PEAK_GFLOPS` adds the fraction of the device's
//! peak. The faiss peer (IndexFlatIP, same dimension, same sizes) is
//! `python3 benches/peers/faiss_topk.py`. GPU timings include uploading the
//! queries and reading the hits back. On a software adapter (lavapipe) they
//! check function, not performance.

mod common;

use common::{Rng, median_secs};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixtape::engine::backend::{Backend, DeviceChoice};
use pixtape::engine::mood::{SIM_DIMS, SimVector};
use pixtape::engine::similarity::{TrackMatrix, top_k, top_k_reference};

/// Seeded vectors with components uniform in [-0.5, 0.5).
fn vectors(n: usize, seed: u64) -> Vec<SimVector> {
    let mut rng = Rng(seed | 1);
    (0..n).map(|_| std::array::from_fn(|_| rng.f32() * 0.5)).collect()
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("PIXTAPE_BENCH_TRACKS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let tracks = vectors(n, 1);
    let matrix = TrackMatrix::from_vectors(&tracks);
    let backend = Backend::open(DeviceChoice::Gpu)
        .inspect_err(|e| eprintln!("no GPU matcher in this run: {e}"))
        .ok()
        .filter(|b| b.gpu().is_some());
    // k = 200 is the playlist default; the GPU kernel holds it on every adapter.
    let gpu_matcher = backend.as_ref().map(|b| b.matcher(&matrix, 200).unwrap().0);
    if let Some(m) = &gpu_matcher {
        eprintln!("{}", m.describe());
    }
    let flop = 2.0 * (SIM_DIMS * n) as f64;
    let report = |name: &str, batch: usize, secs: f64| common::report(name, "queries", batch, secs, flop);
    let mut group = c.benchmark_group(format!("top20_{n}_tracks"));
    group.sample_size(10);
    let batches: Vec<usize> = std::env::var("PIXTAPE_BENCH_BATCHES")
        .ok()
        .map(|v| v.split(',').filter_map(|b| b.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 32, 256]);
    for batch in batches {
        let queries = vectors(batch, 2);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("fused_cpu/batch{batch}"), |b| b.iter(|| top_k(&queries, &matrix, 20)));
        report("fused_cpu", batch, median_secs((512 / batch).max(3), || drop(top_k(&queries, &matrix, 20))));
        if let Some(m) = &gpu_matcher {
            group.bench_function(format!("fused_gpu/batch{batch}"), |b| b.iter(|| m.top_k(&queries, 20).unwrap()));
            report("fused_gpu", batch, median_secs(5, || drop(m.top_k(&queries, 20).unwrap())));
            // The playlist default: 200 candidates per image.
            report("fused_gpu k=200", batch, median_secs(3, || drop(m.top_k(&queries, 200).unwrap())));
        }
    }
    let small = &tracks[..100_000.min(n)];
    let queries = vectors(8, 3);
    group.throughput(Throughput::Elements(8));
    group.bench_function("reference_sort_100k/batch8", |b| b.iter(|| top_k_reference(&queries, small, 20)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
