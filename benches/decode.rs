//! Decode stage throughput: read + decode + resize + centre crop + colour
//! measures for 640x480 JPEGs, one decoder per core as the pipeline runs it.
//!
//! `cargo bench --bench decode`; the Pillow peer is
//! `python3 benches/peers/pillow_decode.py` (decode + resize + crop).
//! `colour_measures_only` times the colour and light measures alone on a
//! 341x256 frame (what a 640x480 photo becomes), to tell how much of the
//! stage they are: the share decides whether they would pay on the GPU.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pixtape::engine::decode::{DecodeLimits, Decoder};
use pixtape::engine::model::CROP_BYTES;
use rayon::prelude::*;

/// The bundled photos re-encoded at 640x480, the size the README quotes.
fn photos() -> Vec<PathBuf> {
    let dir = std::env::temp_dir().join("pixtape-bench-640x480");
    std::fs::create_dir_all(&dir).unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/photos");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jpg") {
            let dest = dir.join(path.file_name().unwrap());
            if !dest.exists() {
                let img = image::open(&path).unwrap().resize_exact(640, 480, image::imageops::FilterType::Triangle);
                img.to_rgb8().save_with_format(&dest, image::ImageFormat::Jpeg).unwrap();
            }
            out.push(dest);
        }
    }
    out.sort();
    out
}

fn bench(c: &mut Criterion) {
    let files = photos();
    let mut group = c.benchmark_group("decode_640x480_jpeg");
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("single_thread", |b| {
        let mut dec = Decoder::new(DecodeLimits::default());
        let mut crop = vec![0u8; CROP_BYTES];
        b.iter(|| {
            for f in &files {
                dec.decode_file(f, &mut crop).unwrap();
            }
        })
    });
    group.bench_function("all_cores", |b| {
        b.iter(|| {
            files.par_iter().for_each_init(
                || (Decoder::new(DecodeLimits::default()), vec![0u8; CROP_BYTES]),
                |(dec, crop), f| {
                    dec.decode_file(f, crop).unwrap();
                },
            )
        })
    });
    group.finish();

    let (w, h) = (341, 256);
    let frame: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
    let mut group = c.benchmark_group("colour_341x256");
    group.throughput(Throughput::Elements(1));
    group.bench_function("colour_measures_only", |b| b.iter(|| pixtape::engine::colour::analyse(&frame, w, h)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
