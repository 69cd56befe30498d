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

mod cases;
mod json;
mod placement;
mod table;
mod timing;

use serde::Serialize;

pub use json::{Adapter, Machine};
pub use table::table;

use crate::engine::backend::{Backend, DeviceChoice};
use crate::error::Result;
use cases::Ctx;

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

/// Runs the benchmark; `log` hears each stage as it starts.
pub fn run(settings: &BenchSettings, log: &dyn Fn(&str)) -> Result<BenchReport> {
    let scale = settings.scale;
    let smoke = scale == Scale::Smoke;
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
    let gpu = gpu_backend.as_ref().and_then(|b| b.gpu());
    let c = Ctx { scale, devices, log };
    cases::decode(&c, &mut figures)?;
    let mut peak = (settings.peak_gflops, None::<f64>);
    if let Some(gpu) = gpu {
        let measured = cases::peaks(&c, gpu, &mut figures)?;
        peak = (peak.0.or(measured.0), measured.1);
    }
    cases::model(&c, &mut figures)?;
    cases::faces(&c, &mut figures)?;
    if settings.cpu {
        cases::mood_head(&c, &mut figures)?;
    }
    cases::similarity(&c, &mut figures)?;
    if settings.cpu {
        cases::parquet(&c, &mut figures)?;
        placement::catalog(scale, log, &mut figures)?;
    }
    cases::recommend_end_to_end(&c, &mut figures)?;
    cases::analyze_end_to_end(&c, &mut figures)?;

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
        machine: json::machine(),
        adapter: gpu.map(json::adapter),
        gpu_missing,
        figures,
    })
}
