//! How much each place of the int8 path costs in agreement with f32: for
//! every inverted residual block (its expansion and projection) and the
//! last convolution alone in int8, everything else f32, the share of images
//! whose top-1 class is f32's and the largest change of the pooled features.
//! The int8 default (`CpuEngine::with_precision`) leaves f32 the blocks this
//! measured as costly on the rated photos (models/README.md).
//!
//! `cargo run --release --example int8_sensitivity -- DIR` (a folder of
//! images; the rated photos are fetched by `models/ratings/fetch_photos.py`).

use pixtape::engine::decode::{DecodeLimits, Decoder};
use pixtape::engine::model::cpu::{CpuEngine, Layer};
use pixtape::engine::model::precision::Precision;
use pixtape::engine::model::{CROP_BYTES, FEATURE_DIM, MobileNetV2, NUM_CLASSES, top_k};
use pixtape::engine::mood::head::MoodHead;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: int8_sensitivity DIR")?;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    paths.sort();
    let mut decoder = Decoder::new(DecodeLimits::default());
    let mut crops = Vec::new();
    let mut crop = vec![0u8; CROP_BYTES];
    for p in &paths {
        match decoder.decode_file(p, &mut crop) {
            Ok(_) => crops.extend_from_slice(&crop),
            Err(f) => eprintln!("{}: {}", p.display(), f.reason),
        }
    }
    let n = crops.len() / CROP_BYTES;
    let net = MobileNetV2::embedded()?;
    let projection = MoodHead::embedded()?.feature_projection();
    let run = |engine: &CpuEngine| {
        let (mut features, mut logits) = (vec![0.0; n * FEATURE_DIM], vec![0.0; n * NUM_CLASSES]);
        engine.forward_batch(&crops, n, &mut features, &mut logits);
        let top1: Vec<usize> = logits.chunks(NUM_CLASSES).map(|l| top_k(l, 1)[0]).collect();
        (features, top1)
    };
    let (f32_features, f32_top1) = run(&CpuEngine::with_precision(&net, &projection, Precision::F32));
    let compare = |name: String, engine: &CpuEngine| {
        let (features, top1) = run(engine);
        let agree = top1.iter().zip(&f32_top1).filter(|(a, b)| a == b).count();
        let diff = features.iter().zip(&f32_features).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        println!("| {name} | {:.3} | {diff:.4} |", agree as f64 / n as f64);
    };
    println!("{n} images\n\n| int8 | top-1 agreement with f32 | max feature difference |\n| --- | --- | --- |");
    let only = |place: Layer| move |l: Layer| if l == place { Precision::Int8 } else { Precision::F32 };
    for i in 0..net.blocks.len() {
        compare(format!("block {i} only"), &CpuEngine::with_layers(&net, &projection, &only(Layer::Block(i))));
    }
    compare("last convolution only".into(), &CpuEngine::with_layers(&net, &projection, &only(Layer::Head)));
    compare("default".into(), &CpuEngine::with_precision(&net, &projection, Precision::Int8));
    compare("everywhere".into(), &CpuEngine::with_layers(&net, &projection, &|_| Precision::Int8));
    compare("bf16 everywhere".into(), &CpuEngine::with_precision(&net, &projection, Precision::Bf16));
    Ok(())
}
