//! `pixtape bench` and `pixtape photos`: the tools' commands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use pixtape::tools::bench::{self, BenchSettings, GpuUse, Scale};
use pixtape::tools::synth::{self, PhotoSpec};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// `cpu`, `gpu` (fails without an adapter; software ones count), `all`
    /// (both; a missing GPU is reported), or `auto` (the CPU, and a
    /// hardware GPU when there is one).
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu", "all"])]
    pub device: String,
    /// Small data, about 3 s a case (the default): under a minute on 2 CPU
    /// cores; a software GPU adapter takes minutes.
    #[arg(long, conflicts_with_all = ["full", "smoke"])]
    pub quick: bool,
    /// 12-MP photos, batch 128, 10M tracks, about 20 s a case: for real GPUs.
    #[arg(long, conflicts_with = "smoke")]
    pub full: bool,
    /// The smallest sizes, one run a case: checks that every stage runs
    /// here (CI runs it on a software adapter). Its figures are not a
    /// benchmark.
    #[arg(long)]
    pub smoke: bool,
    /// Also write the whole report (machine, adapter, every run) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// The GPU's FP32 peak in GFLOP/s as its vendor states it; the model's
    /// share of peak is then of this figure, not of the measured one.
    #[arg(long, value_name = "GFLOPS")]
    pub peak_gflops: Option<f64>,
}

#[derive(Subcommand, Debug)]
pub enum PhotosCommand {
    /// Write synthetic JPEG scenes (gradients, soft shapes, sensor noise)
    /// for scale tests and benchmarks: photo-000000.jpg, ... The same seed
    /// gives the same files.
    Synth {
        /// Number of photos.
        #[arg(long, value_name = "N")]
        count: usize,
        /// Output folder (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Size of a landscape photo, WIDTHxHEIGHT; sizes vary by up to 25 %
        /// and one photo in five is portrait unless --exact.
        #[arg(long, default_value = "640x480", value_parser = parse_size)]
        size: (u32, u32),
        /// Every photo exactly --size, landscape.
        #[arg(long)]
        exact: bool,
        /// JPEG quality, 1-100.
        #[arg(long, default_value_t = 88, value_parser = clap::value_parser!(u8).range(1..=100))]
        quality: u8,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let n = |v: &str| v.trim().parse::<u32>().ok().filter(|&n| (8..=20_000).contains(&n));
    match (n(w), n(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("{s:?}: width and height must be whole numbers from 8 to 20000")),
    }
}

pub fn bench(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let (cpu, gpu) = match args.device.as_str() {
        "cpu" => (true, GpuUse::No),
        "gpu" => (false, GpuUse::Required),
        "all" => (true, GpuUse::IfAny),
        _ => (true, GpuUse::IfHardware),
    };
    let scale = if args.full {
        Scale::Full
    } else if args.smoke {
        Scale::Smoke
    } else {
        Scale::Quick
    };
    let settings = BenchSettings { cpu, gpu, scale, peak_gflops: args.peak_gflops };
    let report = bench::run(&settings, &|stage| eprintln!("pixtape: bench: {stage}"))?;
    print!("{}", bench::table(&report));
    if let Some(path) = &args.json {
        pixtape::atomic::write_atomic(path, &serde_json::to_vec_pretty(&report)?)?;
        eprintln!("pixtape: wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn photos(command: PhotosCommand) -> anyhow::Result<ExitCode> {
    let PhotosCommand::Synth { count, out, size: (width, height), exact, quality, seed } = command;
    let spec = PhotoSpec { width, height, exact, quality, seed };
    synth::photos(&out, count, &spec)?;
    eprintln!("pixtape: wrote {count} synthetic photos to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
