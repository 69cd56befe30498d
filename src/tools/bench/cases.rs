//! The cases `pixtape bench` measures, in the order it runs them: decode,
//! the GPU's own peaks, the model, the face networks, the mood head's
//! feature term, top-k similarity, Parquet writing, and whole runs
//! (`recommend`, and `analyze` with faces and without).
//! Each generates its data, times it (`timing`) and adds its figures.

use rayon::prelude::*;

use super::timing::{device_runs, figure, runs, timed};
use super::{Figure, Scale};
use crate::catalog::{self, CatalogOptions};
use crate::engine::backend::Backend;
use crate::engine::decode::{DecodeLimits, Decoder};
use crate::engine::faces::{FACE_BYTES, PASSES};
use crate::engine::gpu::Gpu;
use crate::engine::model::precision::Precision;
use crate::engine::model::{CROP_BYTES, FEATURE_DIM, MobileNetV2, ModelOutput};
use crate::engine::mood::head::MoodHead;
use crate::engine::mood::{MoodMode, SIM_DIMS, SimVector};
use crate::engine::similarity::TrackMatrix;
use crate::error::{Error, Result};
use crate::recommend::Recommender;
use crate::recommend::playlist::PlaylistSettings;
use crate::rng::Rng;
use crate::run::output::{RecommendationRecord, RecommendationsWriter};
use crate::run::{self, AnalyzeSettings, Silent};
use crate::tools::synth::{PhotoSpec, photo, photos};

/// What every case needs: the scale, the devices to measure, and where to
/// say what is running.
pub(super) struct Ctx<'a> {
    pub scale: Scale,
    pub devices: Vec<(&'static str, &'a Backend)>,
    pub log: &'a dyn Fn(&str),
}

impl Ctx<'_> {
    fn full(&self) -> bool {
        self.scale == Scale::Full
    }

    fn smoke(&self) -> bool {
        self.scale == Scale::Smoke
    }
}

/// Decoding: the CPU's job whatever the device.
pub(super) fn decode(c: &Ctx, figures: &mut Vec<Figure>) -> Result<()> {
    let threads = rayon::current_num_threads();
    let mut sizes = vec![(640u32, 480u32), (1920, 1080)];
    if c.full() {
        sizes.push((4000, 3000));
    }
    for (w, h) in sizes {
        (c.log)(&format!("decode {w}x{h}"));
        let count = match c.scale {
            Scale::Smoke => 4,
            Scale::Quick => (16 * threads).max(8),
            Scale::Full => 48,
        };
        let spec = PhotoSpec { width: w, height: h, exact: true, quality: 88, seed: 21 };
        let files: Vec<Vec<u8>> = (0..count as u64).map(|i| photo(&spec, i)).collect();
        let one = |dec: &mut Decoder, crop: &mut Vec<u8>, bytes: &[u8]| {
            dec.decode_bytes(bytes, Some(image::ImageFormat::Jpeg), crop)
                .map(drop)
                .map_err(|f| Error::Config(format!("a generated photo did not decode: {}", f.reason)))
        };
        let (mut dec, mut crop) = (Decoder::new(DecodeLimits::default()), vec![0u8; CROP_BYTES]);
        let secs = runs(c.scale, || files.iter().try_for_each(|f| one(&mut dec, &mut crop, f)))?;
        figures.push(figure(
            "decode",
            format!("{w}x{h} JPEG, 1 thread"),
            "cpu",
            "images",
            count as f64,
            secs,
            None,
            None,
        ));
        let secs = runs(c.scale, || {
            files.par_iter().try_for_each_init(
                || (Decoder::new(DecodeLimits::default()), vec![0u8; CROP_BYTES]),
                |(dec, crop), f| one(dec, crop, f),
            )
        })?;
        figures.push(figure(
            "decode",
            format!("{w}x{h} JPEG, {threads} threads"),
            "cpu",
            "images",
            count as f64,
            secs,
            None,
            None,
        ));
    }
    Ok(())
}

/// The GPU's own peaks, measured, since wgpu reports none: FP32 FMA chains
/// (GFLOP/s) and a streaming read (GB/s).
pub(super) fn peaks(c: &Ctx, gpu: &Gpu, figures: &mut Vec<Figure>) -> Result<(Option<f64>, Option<f64>)> {
    let mut measured = (None, None);
    (c.log)("GPU peak: FMA throughput and read bandwidth");
    let (threads, iterations, passes) = match c.scale {
        Scale::Smoke => (4096u32, 16u32, 1u32),
        Scale::Quick => (1 << 18, 2048, 1),
        Scale::Full => (1 << 22, 8192, 4),
    };
    let (secs, timing) =
        device_runs(c.scale, Some(gpu), || crate::engine::gpu::peak::fma(gpu, threads, iterations, passes).map(drop))?;
    let flop = crate::engine::gpu::peak::fma_flop(threads, iterations) * passes as f64;
    let f = timed(timing, figure("peak", "FP32 FMA chains".into(), "gpu", "GFLOP", flop / 1e9, secs, Some(flop), None));
    measured.0 = f.gflops;
    figures.push(f);
    let cap = match c.scale {
        Scale::Smoke => 1u64 << 20,
        Scale::Quick => 64 << 20,
        Scale::Full => 1 << 30,
    };
    let bytes = gpu.max_binding().min(cap) / 16 * 16;
    let words = (bytes / 16) as u32;
    let data = gpu.scratch("peak stream data", bytes)?;
    let (threads, passes) = if c.full() { (1u32 << 18, 8u32) } else { (1 << 16, 1) };
    let (secs, timing) = device_runs(c.scale, Some(gpu), || {
        crate::engine::gpu::peak::stream(gpu, &data, words, threads, passes).map(drop)
    })?;
    let moved = bytes as f64 * passes as f64;
    let f = timed(
        timing,
        figure("peak", format!("read {} MiB", bytes >> 20), "gpu", "GB", moved / 1e9, secs, None, Some(moved)),
    );
    measured.1 = f.gbytes_per_s;
    figures.push(f);
    Ok(measured)
}

/// The model, for several batch sizes, on each device; on the CPU at each
/// precision it runs fast here (int8 where AVX-512 VNNI runs, bf16 where
/// AVX-512 BF16 does), its GFLOP/s
/// counting the f32 model's operations, so the precisions compare.
pub(super) fn model(c: &Ctx, figures: &mut Vec<Figure>) -> Result<()> {
    let macs = MobileNetV2::embedded()?.macs_per_image() as f64;
    let batches: &[usize] = match c.scale {
        Scale::Smoke => &[2],
        Scale::Quick => &[8, 32],
        Scale::Full => &[1, 8, 32, 128],
    };
    let mut cpu_precisions = vec![Precision::F32];
    if Precision::auto() == Precision::Int8 {
        cpu_precisions.push(Precision::Int8);
    }
    if crate::engine::model::bf16::fastest() != crate::engine::isa::Isa::Scalar {
        cpu_precisions.push(Precision::Bf16);
    }
    for &(device, backend) in &c.devices {
        let precisions: Vec<Option<Precision>> = match backend.gpu() {
            None => cpu_precisions.iter().map(|&p| Some(p)).collect(),
            Some(gpu) if gpu.has_f16() => vec![None, Some(Precision::F16)],
            Some(_) => vec![None],
        };
        for precision in precisions {
            let own = precision.filter(|_| backend.gpu().is_none()).map(|p| Backend::cpu().with_precision(p));
            let backend = own.as_ref().unwrap_or(backend);
            let suffix = precision.map_or(String::new(), |p| format!(", {}", p.as_str()));
            for &batch in batches {
                (c.log)(&format!("model, {device}, batch {batch}{suffix}"));
                let head = crate::engine::mood::head::MoodHead::embedded()?.clone();
                let model = backend.model_at(Some(batch), head, precision.unwrap_or(backend.precision()))?;
                let n = model.batch;
                let mut rng = Rng(7);
                let crops: Vec<u8> = (0..n * CROP_BYTES).map(|_| (rng.next() >> 56) as u8).collect();
                let mut out = ModelOutput::default();
                let (secs, timing) = device_runs(c.scale, backend.gpu(), || model.engine.forward(&crops, n, &mut out))?;
                // Named by the batch asked for, so the devices share a row; an
                // adapter whose bindings hold fewer runs `n` (its `items`).
                figures.push(timed(
                    timing,
                    figure(
                        "model",
                        format!("MobileNetV2, batch {batch}{suffix}"),
                        device,
                        "images",
                        n as f64,
                        secs,
                        Some(2.0 * macs * n as f64),
                        None,
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The face networks alone: the detector on a batch of 416-pixel frames
/// (one pass of a frame's search; `PASSES` says how many a frame takes) and
/// the expression network on a batch of face crops. Host-timed: the face
/// engine's submissions carry no timestamp queries.
pub(super) fn faces(c: &Ctx, figures: &mut Vec<Figure>) -> Result<()> {
    let (frames, crops) = if c.smoke() { (1, 4) } else { (8, 32) };
    let side = PASSES[0].0;
    let mut rng = Rng(11);
    let mut bytes = |n: usize| -> Vec<u8> { (0..n).map(|_| (rng.next() >> 56) as u8).collect() };
    let (inputs, faces) = (bytes(frames * side * side * 3), bytes(crops * FACE_BYTES));
    for &(device, backend) in &c.devices {
        (c.log)(&format!("faces, {device}"));
        let engine = backend.faces()?;
        let secs = runs(c.scale, || engine.detect(&inputs, side, frames).map(drop))?;
        let case = format!("face detector, {frames} frames of {side}x{side}");
        figures.push(figure("faces", case, device, "frames", frames as f64, secs, None, None));
        let secs = runs(c.scale, || engine.express(&faces, crops).map(drop))?;
        let case = format!("face expressions, {crops} faces");
        figures.push(figure("faces", case, device, "faces", crops as f64, secs, None, None));
    }
    Ok(())
}

/// The mood head's feature term (1,280 x 24 per image), on the CPU; on
/// a GPU it runs inside the model's batch.
pub(super) fn mood_head(c: &Ctx, figures: &mut Vec<Figure>) -> Result<()> {
    (c.log)("mood head");
    let head = MoodHead::embedded()?;
    let n = if c.smoke() { 256 } else { 4096 };
    let mut rng = Rng(9);
    let features: Vec<f32> = (0..n * FEATURE_DIM).map(|_| rng.unit()).collect();
    let secs = runs(c.scale, || {
        let mut acc = 0.0f32;
        for f in features.chunks_exact(FEATURE_DIM) {
            acc += head.feature_term(f)[0];
        }
        std::hint::black_box(acc);
        Ok(())
    })?;
    let flop = 2.0 * (FEATURE_DIM * crate::engine::mood::head::OUTPUTS * n) as f64;
    figures.push(figure(
        "mood head",
        "1,280 x 24 feature term".into(),
        "cpu",
        "images",
        n as f64,
        secs,
        Some(flop),
        None,
    ));
    Ok(())
}

/// Exact top-k over generated tracks, on each device.
pub(super) fn similarity(c: &Ctx, figures: &mut Vec<Figure>) -> Result<()> {
    let catalog_sizes: &[usize] = match c.scale {
        Scale::Smoke => &[20_000],
        Scale::Quick => &[1_000_000],
        Scale::Full => &[1_000_000, 10_000_000],
    };
    for &tracks in catalog_sizes {
        (c.log)(&format!("similarity, {tracks} tracks"));
        let mut rng = Rng(11);
        let matrix = TrackMatrix::build(tracks, |i| {
            let mut r = Rng(i as u64 ^ 0x5eed);
            std::array::from_fn(|_| r.unit() - 0.5)
        });
        let batch = if c.smoke() { 4 } else { 32 };
        let queries: Vec<SimVector> = (0..batch).map(|_| std::array::from_fn(|_| rng.unit() - 0.5)).collect();
        for &(device, backend) in &c.devices {
            for k in [20usize, 200] {
                let (matcher, _) = backend.matcher(&matrix, k)?;
                let (secs, timing) = device_runs(c.scale, backend.gpu(), || matcher.top_k(&queries, k).map(drop))?;
                let q = queries.len() as f64;
                figures.push(timed(
                    timing,
                    figure(
                        "similarity",
                        format!("top-{k} of {} tracks, {batch} queries", count_name(tracks)),
                        device,
                        "queries",
                        q,
                        secs,
                        Some(2.0 * (SIM_DIMS * tracks) as f64 * q),
                        Some(matrix.bytes() as f64),
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Parquet writing: recommendation rows, the widest table.
pub(super) fn parquet(c: &Ctx, figures: &mut Vec<Figure>) -> Result<()> {
    (c.log)("parquet writing");
    let rows = match c.scale {
        Scale::Smoke => 10_000,
        Scale::Quick => 200_000,
        Scale::Full => 2_000_000,
    };
    let dir = tempdir()?;
    let path = dir.join("recommendations.parquet");
    let contributions = [("valence", 0.4f32), ("arousal", 0.3), ("calm", 0.2)];
    let secs = runs(c.scale, || {
        let mut w = RecommendationsWriter::create(&path)?;
        for i in 0..rows {
            w.push(&RecommendationRecord {
                image_id: "holiday/IMG_0001.jpg",
                rank: (i % 20) as u16 + 1,
                track_id: "syn-00000042",
                title: "River Fire",
                artist: "The Secret Avenue",
                score: 0.8 - (i % 20) as f32 * 0.01,
                contributions: &contributions,
                explanation: "calm and warm like the picture; gentle tempo",
            })?;
        }
        w.finish().map(drop)
    })?;
    figures.push(figure("parquet", "recommendations rows".into(), "cpu", "rows", rows as f64, secs, None, None));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// End to end: `recommend` over generated photos and a generated catalog.
pub(super) fn recommend_end_to_end(c: &Ctx, figures: &mut Vec<Figure>) -> Result<()> {
    let dir = tempdir()?;
    let (count, tracks) = match c.scale {
        Scale::Smoke => (4, 2_000),
        Scale::Quick => (48, 100_000),
        Scale::Full => (400, 1_000_000),
    };
    (c.log)(&format!("end to end: {count} photos, {tracks} tracks"));
    let images = dir.join("photos");
    photos(&images, count, &PhotoSpec { seed: 5, ..PhotoSpec::default() })?;
    let cat_path = dir.join("catalog.parquet");
    catalog::synth::write(&cat_path, tracks as u64, 3)?;
    let catalog = catalog::load(&CatalogOptions::new(&cat_path))?;
    let case = format!("recommend, {count} photos of about 640x480, {} tracks", count_name(tracks));
    let faces = Some(crate::engine::faces::DEFAULT_THRESHOLD);
    let e2e = EndToEnd { scale: c.scale, devices: &c.devices, images: &images, out: &dir.join("out"), count, faces };
    figures.extend(e2e.time(Some(&catalog), case)?);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Photos as people have them: `analyze` over 1080p and (with --full)
/// 12-MP JPEGs, where decoding is most of the work. The peer to hold
/// these against, Pillow's DCT-scaled `draft` -> onnxruntime, is
/// benches/peers/phone_photos.py.
pub(super) fn analyze_end_to_end(c: &Ctx, figures: &mut Vec<Figure>) -> Result<()> {
    let dir = tempdir()?;
    let mut sets = vec![(
        1920u32,
        1080u32,
        match c.scale {
            Scale::Smoke => 2,
            Scale::Quick => 16,
            Scale::Full => 64,
        },
    )];
    if c.full() {
        sets.push((4000, 3000, 32));
    }
    for (w, h, count) in sets {
        (c.log)(&format!("end to end: analyze {count} photos of {w}x{h}"));
        let images = dir.join(format!("photos-{w}x{h}"));
        photos(&images, count, &PhotoSpec { width: w, height: h, exact: true, quality: 88, seed: 9 })?;
        // Faces cost most on small photos, where decoding is cheap: the
        // 1080p set runs with them and without, side by side.
        let switch: &[bool] = if w == 1920 { &[true, false] } else { &[true] };
        for &on in switch {
            let out = dir.join(format!("out-{w}x{h}-{on}"));
            let faces = on.then_some(crate::engine::faces::DEFAULT_THRESHOLD);
            let e2e = EndToEnd { scale: c.scale, devices: &c.devices, images: &images, out: &out, count, faces };
            let case =
                format!("analyze, {count} JPEGs of {w}x{h}, faces {}", if on { "on, every picture" } else { "off" });
            figures.extend(e2e.time(None, case)?);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// End-to-end runs of the pipeline over a folder of photos.
struct EndToEnd<'a> {
    scale: Scale,
    devices: &'a [(&'static str, &'a Backend)],
    images: &'a std::path::Path,
    /// Each run writes a fresh folder below this one.
    out: &'a std::path::Path,
    count: usize,
    /// The face threshold, or `None` for `--faces off`.
    faces: Option<f32>,
}

impl EndToEnd<'_> {
    /// One figure per device: `recommend` against `catalog`, or `analyze`
    /// without one.
    fn time(&self, catalog: Option<&catalog::Catalog>, case: String) -> Result<Vec<Figure>> {
        let mut figures = Vec::new();
        for &(device, backend) in self.devices {
            let model = backend.model(None)?;
            let rec = catalog
                .map(|c| Recommender::new(backend, c, MoodMode::Match, PlaylistSettings::default()))
                .transpose()?;
            let mut n = 0;
            let secs = runs(self.scale, || {
                n += 1;
                let mut settings = AnalyzeSettings::new(self.images, self.out.join(format!("{device}-{n}")));
                settings.faces = self.faces;
                // The generated pictures show nobody, so the people gate
                // would skip every search: the bench times the search on
                // every picture, the case a collection of people costs.
                settings.face_gate = 0.0;
                run::run(&settings, &model, rec.as_ref(), &Silent).map(drop)
            })?;
            let items = self.count as f64;
            figures.push(figure("end to end", case.clone(), device, "images", items, secs, None, None));
        }
        Ok(figures)
    }
}

/// 20000 -> "20k", 1000000 -> "1M".
pub(super) fn count_name(n: usize) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n % 1000 == 0 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

pub(super) fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("pixtape-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}
