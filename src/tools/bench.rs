//! `pixtape bench`: how fast pixtape runs on this machine, stage by stage,
//! on the CPU and on the GPU, on data it generates itself (no downloads,
//! nothing the user provides).
//!
//! Every case runs once to warm up (caches, pipeline compilation, first
//! touches of memory), then several times; the report keeps every run's
//! seconds and prints the median and the spread. A case gets as many runs
//! as fit its time budget (`--quick`: about 3 s, `--full`: about 20 s), at
//! least two and at most ten, so a slow software adapter still finishes.
//! GPU cases end with the device idle: each call returns once its results
//! are read back to the host. On a GPU the bench first measures the
//! adapter's own peaks (`gpu::peak`: chains of FMAs, and a streaming read),
//! since wgpu reports none, and gives the model's GFLOP/s and the
//! similarity scan's GB/s as shares of them (or of `--peak-gflops`).

use std::time::Instant;

use serde::Serialize;

use crate::catalog::{self, CatalogOptions};
use crate::engine::backend::{Backend, DeviceChoice};
use crate::engine::decode::{DecodeLimits, Decoder};
use crate::engine::isa::Isa;
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

/// How much data and how many runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// The smallest sizes and one run a case: checks that every stage runs
    /// (CI does this on a software adapter); not a benchmark.
    Smoke,
    /// Small data, about 3 s a case: under a minute on 2 CPU cores.
    Quick,
    /// 12-MP photos, batch 128, 10M tracks, about 20 s a case.
    Full,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Quick => "quick",
            Scale::Full => "full",
        }
    }
}

/// Whether and which GPU the bench measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuUse {
    No,
    /// A hardware GPU when there is one; nothing said otherwise.
    IfHardware,
    /// Any adapter, software ones too; a missing one is reported.
    IfAny,
    /// Any adapter; a missing one is an error.
    Required,
}

/// What `bench` measures, and how long it may take.
#[derive(Clone, Debug)]
pub struct BenchSettings {
    /// Measure the CPU.
    pub cpu: bool,
    /// Which GPU to measure, if any.
    pub gpu: GpuUse,
    pub scale: Scale,
    /// The GPU's FP32 peak as its vendor states it, in GFLOP/s; without it
    /// the measured FMA peak is the reference.
    pub peak_gflops: Option<f64>,
}

/// One measured case on one device.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub stage: &'static str,
    pub case: String,
    /// "cpu" or "gpu".
    pub device: &'static str,
    /// What `rate` counts per second ("images", "queries", "rows").
    pub unit: &'static str,
    /// Items each run processes.
    pub items: f64,
    /// Every run's seconds, after the warm-up.
    pub runs_seconds: Vec<f64>,
    /// Items per second at the median run.
    pub rate: f64,
    /// At the fastest and the slowest run.
    pub rate_min: f64,
    pub rate_max: f64,
    /// Arithmetic and memory throughput at the median, where they mean
    /// something (the model, the similarity scan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbytes_per_s: Option<f64>,
    /// GPU figures: the share of the device's peak they reach (GFLOP/s of
    /// the FMA peak for the model, GB/s of the read peak for similarity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_fraction: Option<f64>,
    /// How `runs_seconds` were taken: `HOST` (wall time from the call to its
    /// results on the host) or `DEVICE` (the GPU passes' own time, from
    /// timestamp queries, where the adapter has them).
    pub timing: &'static str,
}

/// Wall time on the host, the call's start to its results back.
pub const HOST: &str = "host wall time";
/// The GPU passes' own time, from timestamp queries.
pub const DEVICE: &str = "gpu timestamps";

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    /// The CPU kernels' instruction set.
    pub simd: &'static str,
    pub os: &'static str,
    pub arch: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Adapter {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    /// Whether the GPU figures could be timed with timestamp queries.
    pub timestamp_queries: bool,
}

/// Everything a bench run measured, as the JSON file holds it.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub pixtape_version: &'static str,
    pub mode: &'static str,
    pub machine: Machine,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<Adapter>,
    /// Why the GPU was not measured, when it was asked for and is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_missing: Option<String>,
    pub figures: Vec<Figure>,
}

/// `runs` for a call on `gpu` (or on the CPU, for `None`): where the
/// adapter has timestamp queries, each run's seconds are the time its
/// compute passes took on the device, summed, and the timing is `DEVICE`;
/// otherwise host wall time.
fn device_runs(
    scale: Scale,
    gpu: Option<&crate::engine::gpu::Gpu>,
    mut f: impl FnMut() -> Result<()>,
) -> Result<(Vec<f64>, &'static str)> {
    let Some(gpu) = gpu.filter(|g| g.has_timestamps()) else { return Ok((runs(scale, f)?, HOST)) };
    let mut device = Vec::new();
    let host = runs(scale, || {
        gpu.start_timing();
        let result = f();
        device.push(gpu.stop_timing()?);
        result
    })?;
    // The first timing window was the warm-up's.
    let timed: Option<Vec<f64>> = device.into_iter().skip(1).collect();
    Ok(match timed {
        Some(t) if t.iter().all(|&s| s > 0.0) => (t, DEVICE),
        _ => (host, HOST),
    })
}

/// Runs `f` once to warm up, then as often as the scale's budget allows
/// (2 to 10 times; once for a smoke test); returns each run's seconds.
fn runs(scale: Scale, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    let t = Instant::now();
    f()?;
    let first = t.elapsed().as_secs_f64().max(1e-6);
    let n = match scale {
        Scale::Smoke => 1,
        Scale::Quick => ((3.0 / first) as usize).clamp(2, 10),
        Scale::Full => ((20.0 / first) as usize).clamp(2, 10),
    };
    let mut secs = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        secs.push(t.elapsed().as_secs_f64());
    }
    Ok(secs)
}

/// End-to-end runs of the pipeline over a folder of photos.
struct EndToEnd<'a> {
    scale: Scale,
    devices: &'a [(&'static str, &'a Backend)],
    images: &'a std::path::Path,
    /// Each run writes a fresh folder below this one.
    out: &'a std::path::Path,
    count: usize,
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
                let settings = AnalyzeSettings::new(self.images, self.out.join(format!("{device}-{n}")));
                run::run(&settings, &model, rec.as_ref(), &Silent).map(drop)
            })?;
            let items = self.count as f64;
            figures.push(figure("end to end", case.clone(), device, "images", items, secs, None, None));
        }
        Ok(figures)
    }
}

/// `f`, timed as `timing` says.
fn timed(timing: &'static str, mut f: Figure) -> Figure {
    f.timing = timing;
    f
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

#[allow(clippy::too_many_arguments)]
fn figure(
    stage: &'static str,
    case: String,
    device: &'static str,
    unit: &'static str,
    items: f64,
    secs: Vec<f64>,
    flop_per_run: Option<f64>,
    bytes_per_run: Option<f64>,
) -> Figure {
    let m = median(&secs);
    let (fast, slow) = secs.iter().fold((f64::MAX, 0.0f64), |(a, b), &s| (a.min(s), b.max(s)));
    Figure {
        stage,
        case,
        device,
        unit,
        items,
        rate: items / m,
        rate_min: items / slow,
        rate_max: items / fast,
        gflops: flop_per_run.map(|f| f / m / 1e9),
        gbytes_per_s: bytes_per_run.map(|b| b / m / 1e9),
        peak_fraction: None,
        runs_seconds: secs,
        timing: HOST,
    }
}

/// Runs the benchmark; `log` hears each stage as it starts.
pub fn run(settings: &BenchSettings, log: &dyn Fn(&str)) -> Result<BenchReport> {
    let scale = settings.scale;
    let (full, smoke) = (scale == Scale::Full, scale == Scale::Smoke);
    let mut figures = Vec::new();
    let (gpu_backend, gpu_missing) = match settings.gpu {
        GpuUse::No => (Backend::cpu(), None),
        GpuUse::IfHardware => (Backend::open(DeviceChoice::Auto)?, None),
        GpuUse::IfAny => match Backend::open(DeviceChoice::Gpu) {
            Ok(b) => (b, None),
            Err(e) => (Backend::cpu(), Some(e.to_string())),
        },
        GpuUse::Required => (Backend::open(DeviceChoice::Gpu)?, None),
    };
    // `Auto` falls back to the CPU quietly: then there is no GPU to measure.
    let gpu_backend = Some(gpu_backend).filter(|b| b.gpu().is_some());
    let cpu_backend = Backend::cpu();
    let mut devices: Vec<(&'static str, &Backend)> = Vec::new();
    if settings.cpu {
        devices.push(("cpu", &cpu_backend));
    }
    if let Some(b) = &gpu_backend {
        devices.push(("gpu", b));
    }
    let threads = rayon::current_num_threads();

    // Decode: the CPU's job whatever the device.
    let mut sizes = vec![(640u32, 480u32), (1920, 1080)];
    if full {
        sizes.push((4000, 3000));
    }
    for (w, h) in sizes {
        log(&format!("decode {w}x{h}"));
        let count = match scale {
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
        let secs = runs(scale, || files.iter().try_for_each(|f| one(&mut dec, &mut crop, f)))?;
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
        use rayon::prelude::*;
        let secs = runs(scale, || {
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

    // The GPU's own peaks, measured: wgpu reports none.
    let mut peak = (settings.peak_gflops, None::<f64>);
    if let Some(gpu) = gpu_backend.as_ref().and_then(|b| b.gpu()) {
        log("GPU peak: FMA throughput and read bandwidth");
        let (threads, iterations, passes) = match scale {
            Scale::Smoke => (4096u32, 16u32, 1u32),
            Scale::Quick => (1 << 18, 2048, 1),
            Scale::Full => (1 << 22, 8192, 4),
        };
        let (secs, timing) = device_runs(scale, Some(gpu), || {
            crate::engine::gpu::peak::fma(gpu, threads, iterations, passes).map(drop)
        })?;
        let flop = crate::engine::gpu::peak::fma_flop(threads, iterations) * passes as f64;
        let f =
            timed(timing, figure("peak", "FP32 FMA chains".into(), "gpu", "GFLOP", flop / 1e9, secs, Some(flop), None));
        peak.0 = peak.0.or(f.gflops);
        figures.push(f);
        let cap = match scale {
            Scale::Smoke => 1u64 << 20,
            Scale::Quick => 64 << 20,
            Scale::Full => 1 << 30,
        };
        let bytes = gpu.max_binding().min(cap) / 16 * 16;
        let words = (bytes / 16) as u32;
        let data = gpu.scratch("peak stream data", bytes)?;
        let (threads, passes) = if full { (1u32 << 18, 8u32) } else { (1 << 16, 1) };
        let (secs, timing) = device_runs(scale, Some(gpu), || {
            crate::engine::gpu::peak::stream(gpu, &data, words, threads, passes).map(drop)
        })?;
        let moved = bytes as f64 * passes as f64;
        let f = timed(
            timing,
            figure("peak", format!("read {} MiB", bytes >> 20), "gpu", "GB", moved / 1e9, secs, None, Some(moved)),
        );
        peak.1 = f.gbytes_per_s;
        figures.push(f);
    }

    // The model, for several batch sizes.
    let macs = MobileNetV2::embedded()?.macs_per_image() as f64;
    let batches: &[usize] = match scale {
        Scale::Smoke => &[2],
        Scale::Quick => &[8, 32],
        Scale::Full => &[1, 8, 32, 128],
    };
    for &(device, backend) in &devices {
        for &batch in batches {
            log(&format!("model, {device}, batch {batch}"));
            let model = backend.model(Some(batch))?;
            let n = model.batch;
            let mut rng = Rng(7);
            let crops: Vec<u8> = (0..n * CROP_BYTES).map(|_| (rng.next() >> 56) as u8).collect();
            let mut out = ModelOutput::default();
            let (secs, timing) = device_runs(scale, backend.gpu(), || model.engine.forward(&crops, n, &mut out))?;
            // Named by the batch asked for, so the devices share a row; an
            // adapter whose bindings hold fewer runs `n` (its `items`).
            figures.push(timed(
                timing,
                figure(
                    "model",
                    format!("MobileNetV2, batch {batch}"),
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

    // The mood head's feature term (1,280 x 24 per image), on the CPU; on
    // a GPU it runs inside the model's batch.
    if settings.cpu {
        log("mood head");
        let head = MoodHead::embedded()?;
        let n = if smoke { 256 } else { 4096 };
        let mut rng = Rng(9);
        let features: Vec<f32> = (0..n * FEATURE_DIM).map(|_| rng.unit()).collect();
        let secs = runs(scale, || {
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
    }

    // Exact top-k over generated tracks.
    let catalog_sizes: &[usize] = match scale {
        Scale::Smoke => &[20_000],
        Scale::Quick => &[1_000_000],
        Scale::Full => &[1_000_000, 10_000_000],
    };
    for &tracks in catalog_sizes {
        log(&format!("similarity, {tracks} tracks"));
        let mut rng = Rng(11);
        let matrix = TrackMatrix::build(tracks, |i| {
            let mut r = Rng(i as u64 ^ 0x5eed);
            std::array::from_fn(|_| r.unit() - 0.5)
        });
        let batch = if smoke { 4 } else { 32 };
        let queries: Vec<SimVector> = (0..batch).map(|_| std::array::from_fn(|_| rng.unit() - 0.5)).collect();
        for &(device, backend) in &devices {
            for k in [20usize, 200] {
                let (matcher, _) = backend.matcher(&matrix, k)?;
                let (secs, timing) = device_runs(scale, backend.gpu(), || matcher.top_k(&queries, k).map(drop))?;
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

    // Parquet writing: recommendation rows, the widest table.
    if settings.cpu {
        log("parquet writing");
        let rows = match scale {
            Scale::Smoke => 10_000,
            Scale::Quick => 200_000,
            Scale::Full => 2_000_000,
        };
        let dir = tempdir()?;
        let path = dir.join("recommendations.parquet");
        let contributions = [("valence", 0.4f32), ("arousal", 0.3), ("calm", 0.2)];
        let secs = runs(scale, || {
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
    }

    // End to end: `recommend` over generated photos and a generated catalog.
    {
        let dir = tempdir()?;
        let (count, tracks) = match scale {
            Scale::Smoke => (4, 2_000),
            Scale::Quick => (48, 100_000),
            Scale::Full => (400, 1_000_000),
        };
        log(&format!("end to end: {count} photos, {tracks} tracks"));
        let images = dir.join("photos");
        photos(&images, count, &PhotoSpec { seed: 5, ..PhotoSpec::default() })?;
        let cat_path = dir.join("catalog.parquet");
        catalog::synth::write(&cat_path, tracks as u64, 3)?;
        let catalog = catalog::load(&CatalogOptions::new(&cat_path))?;
        let case = format!("recommend, {count} photos of about 640x480, {} tracks", count_name(tracks));
        let e2e = EndToEnd { scale, devices: &devices, images: &images, out: &dir.join("out"), count };
        figures.extend(e2e.time(Some(&catalog), case)?);
        let _ = std::fs::remove_dir_all(&dir);
    }

    // Photos as people have them: `analyze` over 1080p and (with --full)
    // 12-MP JPEGs, where decoding is most of the work. The peer to hold
    // these against, Pillow's DCT-scaled `draft` -> onnxruntime, is
    // benches/peers/phone_photos.py.
    {
        let dir = tempdir()?;
        let mut sets = vec![(
            1920u32,
            1080u32,
            match scale {
                Scale::Smoke => 2,
                Scale::Quick => 16,
                Scale::Full => 64,
            },
        )];
        if full {
            sets.push((4000, 3000, 32));
        }
        for (w, h, count) in sets {
            log(&format!("end to end: analyze {count} photos of {w}x{h}"));
            let images = dir.join(format!("photos-{w}x{h}"));
            photos(&images, count, &PhotoSpec { width: w, height: h, exact: true, quality: 88, seed: 9 })?;
            let out = dir.join(format!("out-{w}x{h}"));
            let e2e = EndToEnd { scale, devices: &devices, images: &images, out: &out, count };
            figures.extend(e2e.time(None, format!("analyze, {count} JPEGs of {w}x{h}"))?);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    // A smoke run's peaks are launch overhead, not peaks: no shares.
    for f in figures.iter_mut().filter(|f| f.device == "gpu" && !smoke) {
        f.peak_fraction = match f.stage {
            "model" => f.gflops.zip(peak.0).map(|(g, p)| g / p),
            "similarity" => f.gbytes_per_s.zip(peak.1).map(|(g, p)| g / p),
            _ => None,
        };
    }
    Ok(BenchReport {
        pixtape_version: env!("CARGO_PKG_VERSION"),
        mode: scale.name(),
        machine: machine(),
        adapter: gpu_backend.as_ref().and_then(|b| b.gpu()).map(|g| Adapter {
            name: g.info.name.clone(),
            backend: format!("{:?}", g.info.backend),
            device_type: format!("{:?}", g.info.device_type),
            driver: g.info.driver.clone(),
            driver_info: g.info.driver_info.clone(),
            max_storage_buffer_binding_size: g.max_binding(),
            max_compute_workgroup_storage_size: g.limits.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: g.limits.max_compute_invocations_per_workgroup,
            timestamp_queries: g.has_timestamps(),
        }),
        gpu_missing,
        figures,
    })
}

/// 20000 -> "20k", 1000000 -> "1M".
fn count_name(n: usize) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n % 1000 == 0 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("pixtape-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

fn machine() -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        simd: match Isa::detect() {
            Isa::Avx512 => "avx512f",
            Isa::Avx2 => "avx2+fma",
            Isa::Scalar => "scalar",
        },
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
    }
}

/// The report as a table for a person: CPU and GPU side by side, and the
/// GPU/CPU ratio.
pub fn table(r: &BenchReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(s, "pixtape {} bench ({})", r.pixtape_version, r.mode);
    let _ = writeln!(s, "CPU: {} ({} cores, {})", m.cpu_model, m.cores, m.simd);
    match (&r.adapter, &r.gpu_missing) {
        (Some(a), _) => {
            let _ = writeln!(
                s,
                "GPU: {} ({}, {}; driver {} {}; max binding {} MiB)",
                a.name,
                a.backend,
                a.device_type,
                a.driver,
                a.driver_info,
                a.max_storage_buffer_binding_size >> 20
            );
        }
        (None, Some(why)) => {
            let _ = writeln!(s, "GPU: not measured ({why})");
        }
        _ => {}
    }
    let _ = writeln!(s, "medians of the runs after a warm-up; [slowest-fastest]; GPU shares of the peak measured here");
    if r.figures.iter().any(|f| f.timing == DEVICE) {
        let _ = writeln!(s, "*: the GPU passes' own time, from timestamp queries (others: host wall time to results)");
    }
    let _ = writeln!(s, "{:<11} {:<50} {:>34} {:>34} {:>8}", "stage", "case", "CPU", "GPU", "GPU/CPU");
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for f in &r.figures {
        if seen.contains(&(f.stage, f.case.as_str())) {
            continue;
        }
        seen.push((f.stage, &f.case));
        let find = |d: &str| r.figures.iter().find(|g| g.stage == f.stage && g.case == f.case && g.device == d);
        let cell = |g: Option<&Figure>| match g {
            None => "-".to_string(),
            Some(g) => {
                let mut extra = match (g.gflops, g.gbytes_per_s) {
                    _ if g.stage == "peak" => String::new(),
                    (Some(fl), Some(b)) => format!(" {fl:.0} GFLOP/s {b:.1} GB/s"),
                    (Some(fl), None) => format!(" {fl:.0} GFLOP/s"),
                    _ => String::new(),
                };
                if let Some(p) = g.peak_fraction {
                    extra.push_str(&format!(" ({:.1}% of peak)", 100.0 * p));
                }
                let mark = if g.timing == DEVICE { "*" } else { "" };
                format!("{}{mark} {}/s{extra} [{}-{}]", num(g.rate), g.unit, num(g.rate_min), num(g.rate_max))
            }
        };
        let (c, g) = (find("cpu"), find("gpu"));
        let ratio = match (c, g) {
            (Some(c), Some(g)) => format!("{:.2}", g.rate / c.rate),
            _ => "-".into(),
        };
        let _ = writeln!(s, "{:<11} {:<50} {:>34} {:>34} {:>8}", f.stage, f.case, cell(c), cell(g), ratio);
    }
    s
}

/// A rate as people read one: 3 significant figures, no exponent.
fn num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}
