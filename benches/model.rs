//! MobileNetV2 throughput per batch: the fast CPU engine and, when wgpu finds
//! an adapter, the GPU engine, in the same run (images/s, and GFLOP/s
//! counting a multiply-add as two operations), with the plain reference
//! forward pass as the baseline both are checked against.
//!
//! `cargo bench --bench model`; compare with the onnxruntime peer
//! `python3 benches/peers/ort_mobilenet.py` run right after. GPU timings
//! include the upload of the crops and the read-back of the outputs: each
//! batch ends with a wait for the device. `PIXTAPE_PEAK_GFLOPS` (the device's
//! FP32 peak) adds the fraction of it reached. On a software adapter
//! (lavapipe) the GPU figures check function, not performance.

mod common;

use common::{Rng, median_secs};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixtape::engine::backend::{Backend, DeviceChoice};
use pixtape::engine::isa::Isa;
use pixtape::engine::model::cpu::INT8_MAX_SIDE;
use pixtape::engine::model::matmul::{Epilogue, PackedWeights, matmul_on};
use pixtape::engine::model::quant::{QuantRows, QuantWeights, matmul_int8_on, runs_on};
use pixtape::engine::model::{
    CROP_BYTES, Conv, Engine, INPUT_SIZE, MobileNetV2, ModelOutput, STEM_SIDE, cpu::CpuEngine, matmul_weights,
    reference,
};

fn crops(n: usize) -> Vec<u8> {
    Rng(0x2545f4914f6cdd1d).bytes(n * CROP_BYTES)
}

fn bench(c: &mut Criterion) {
    let net = MobileNetV2::embedded().unwrap();
    let flop = 2.0 * net.macs_per_image() as f64;
    let cpu = CpuEngine::new(&net, &pixtape::engine::mood::head::MoodHead::embedded().unwrap().feature_projection());
    let backend = Backend::open(DeviceChoice::Gpu)
        .inspect_err(|e| eprintln!("no GPU engine in this run: {e}"))
        .ok()
        .filter(|b| b.gpu().is_some());
    let gpu_model = backend.as_ref().map(|b| b.model(None).unwrap());
    if let Some(b) = &backend {
        eprintln!("{}", b.report().notice);
    }
    let gpu_engine = gpu_model.as_ref().map(|m| m.engine.as_ref());
    let mut group = c.benchmark_group("mobilenet_v2");
    group.sample_size(10);
    let mut out = ModelOutput::default();
    for batch in [1usize, 8, 32, 128] {
        let input = crops(batch);
        group.throughput(Throughput::Elements(batch as u64));
        if batch <= 32 {
            group.bench_function(format!("cpu_engine/batch{batch}"), |b| {
                b.iter(|| cpu.forward(&input, batch, &mut out).unwrap())
            });
            let secs = median_secs((64 / batch).max(3), || cpu.forward(&input, batch, &mut out).unwrap());
            common::report("cpu_engine", "images", batch, secs, flop);
        }
        if let Some(engine) = gpu_engine {
            let b = batch.min(engine.max_batch());
            if b < batch && batch > 32 {
                continue;
            }
            group.throughput(Throughput::Elements(b as u64));
            group.bench_function(format!("gpu_engine/batch{b}"), |bn| {
                bn.iter(|| engine.forward(&input, b, &mut out).unwrap())
            });
            let secs = median_secs(5, || engine.forward(&input, b, &mut out).unwrap());
            common::report("gpu_engine", "images", b, secs, flop);
            // Two batches in flight, as the pipeline runs it.
            let secs = median_secs(3, || {
                engine.start(&input, b).unwrap();
                for _ in 0..3 {
                    engine.start(&input, b).unwrap();
                    engine.finish(&mut out).unwrap();
                }
                engine.finish(&mut out).unwrap();
            }) / 4.0;
            common::report("gpu_engine pipelined", "images", b, secs, flop);
        }
    }
    let mut chw = vec![0.0; 3 * INPUT_SIZE * INPUT_SIZE];
    pixtape::engine::model::normalize_chw(&crops(1), &mut chw);
    group.throughput(Throughput::Elements(1));
    group.bench_function("reference/batch1", |b| b.iter(|| reference::forward(&net, &chw)));
    group.finish();
}

/// The 1x1 convolutions the int8 engine runs in int8 (blocks whose input
/// is at most `INT8_MAX_SIDE` a side, and the last convolution), for a batch
/// of 8 images, at f32 and int8 on every instruction set this CPU has: what
/// decides whether int8 pays on a CPU whose fastest int8 path is AVX2.
fn pointwise_paths(_: &mut Criterion) {
    let net = MobileNetV2::embedded().unwrap();
    let mut layers: Vec<(&Conv, usize)> = Vec::new();
    let mut side = STEM_SIDE;
    for b in &net.blocks {
        let out = side.div_ceil(b.stride());
        if side <= INT8_MAX_SIDE {
            layers.extend(b.expand.iter().map(|e| (e, side * side)));
            layers.push((&b.project, out * out));
        }
        side = out;
    }
    layers.push((&net.head, side * side));
    let batch = 8;
    let macs: f64 = layers.iter().map(|(c, px)| (c.in_ch * c.out_ch * px * batch) as f64).sum();
    let mut rng = Rng(7);
    let prepared: Vec<_> = layers
        .iter()
        .map(|(c, px)| {
            let m = px * batch;
            let w = matmul_weights(&c.weight, c.out_ch);
            // Post-ReLU6 inputs, as the layers see them.
            let a: Vec<f32> = rng.vec(m * c.in_ch, 3.0).iter().map(|v| v + 3.0).collect();
            let f32w = PackedWeights::new(c.in_ch, c.out_ch, &w, &c.bias);
            let int8w = QuantWeights::new(c.in_ch, c.out_ch, &w, &c.bias, true);
            (m, a, f32w, int8w, vec![0.0f32; m * c.out_ch])
        })
        .collect();
    let epi = Epilogue { relu6: true, residual: None };
    let mut rows = QuantRows::default();
    let mut prepared = prepared;
    for isa in Isa::available().into_iter().filter(|i| *i != Isa::Scalar) {
        let f32_secs = median_secs(9, || {
            for (m, a, w, _, out) in prepared.iter_mut() {
                matmul_on(isa, a, *m, w, epi, out);
            }
        });
        common::report(&format!("1x1 layers of int8's set, f32 {isa:?}"), "batches", 1, f32_secs, 2.0 * macs);
        if runs_on(isa) {
            let int8_secs = median_secs(9, || {
                for (m, a, _, w, out) in prepared.iter_mut() {
                    matmul_int8_on(isa, a, *m, w, epi, &mut rows, out);
                }
            });
            common::report(&format!("1x1 layers of int8's set, int8 {isa:?}"), "batches", 1, int8_secs, 2.0 * macs);
            eprintln!("  int8 {isa:?} / f32 {isa:?}: {:.2}x", f32_secs / int8_secs);
        }
    }
}

criterion_group!(benches, bench, pointwise_paths);
criterion_main!(benches);
