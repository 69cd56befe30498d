//! MobileNetV2 throughput: the fast CPU engine per batch (images/s, and
//! GFLOP/s counting a multiply-add as two operations), with the plain
//! reference forward pass as the baseline it is checked against.
//!
//! `cargo bench --bench model`; compare with the onnxruntime peer
//! `python3 benches/peers/ort_mobilenet.py` run right after.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixtape::model::{FEATURE_DIM, INPUT_SIZE, MobileNetV2, NUM_CLASSES, cpu::CpuEngine, reference};

fn crops(n: usize) -> Vec<u8> {
    let mut s = 0x2545f4914f6cdd1du64;
    (0..n * INPUT_SIZE * INPUT_SIZE * 3)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 56) as u8
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let net = MobileNetV2::embedded().unwrap();
    let engine = CpuEngine::new(&net);
    let flop = 2.0 * net.macs_per_image() as f64;
    let mut group = c.benchmark_group("mobilenet_v2");
    group.sample_size(10);
    for batch in [1usize, 8, 32] {
        let input = crops(batch);
        let mut features = vec![0.0; batch * FEATURE_DIM];
        let mut logits = vec![0.0; batch * NUM_CLASSES];
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("cpu_engine/batch{batch}"), |b| {
            b.iter(|| engine.forward(&input, batch, &mut features, &mut logits))
        });
        // A direct figure in the units the README quotes.
        let t = std::time::Instant::now();
        let reps = (64 / batch).max(2);
        for _ in 0..reps {
            engine.forward(&input, batch, &mut features, &mut logits);
        }
        let secs = t.elapsed().as_secs_f64() / reps as f64;
        eprintln!(
            "cpu_engine batch {batch}: {:.1} images/s, {:.1} GFLOP/s",
            batch as f64 / secs,
            flop * batch as f64 / secs / 1e9
        );
    }
    let mut chw = vec![0.0; 3 * INPUT_SIZE * INPUT_SIZE];
    pixtape::model::normalize_chw(&crops(1), &mut chw);
    group.throughput(Throughput::Elements(1));
    group.bench_function("reference/batch1", |b| b.iter(|| reference::forward(&net, &chw)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
