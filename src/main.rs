//! The `pixtape` binary: parse flags, build settings, call the library, map
//! the outcome to an exit code. Everything else lives in the library.

mod cli;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use cli::{CatalogCommand, Cli, Command};
use pixtape::catalog::{self, Catalog};
use pixtape::gpu::{self, Gpu};
use pixtape::model::{Engine, MobileNetV2, cpu::CpuEngine, gpu::GpuEngine};
use pixtape::pipeline::{self, Recommend};
use pixtape::similarity::{CpuMatcher, Matcher, gpu::GpuMatcher};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("pixtape: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => {
            let mut settings = args.settings()?;
            let quiet = args.common.quiet;
            init_threads(args.common.threads())?;
            let device = open_device(&args.common, quiet)?;
            let engine = run_engine(&device, &mut settings, &args.common)?;
            let bar = progress::Bar::new(quiet);
            let summary = pipeline::analyze(&settings, engine.as_ref(), &bar)?;
            bar.finish();
            if !quiet {
                eprintln!("{}", progress::summary_line(&summary));
            }
            Ok(exit_code(&summary))
        }
        Command::Recommend(args) => {
            let mut settings = args.analyze.settings()?;
            let quiet = args.analyze.common.quiet;
            init_threads(args.analyze.common.threads())?;
            let device = open_device(&args.analyze.common, quiet)?;
            let options = args.catalog.options()?;
            let catalog = catalog::load(&options)?;
            if !quiet {
                eprintln!("{}", progress::catalog_line(&catalog));
            }
            let engine = run_engine(&device, &mut settings, &args.analyze.common)?;
            let playlist = args.playlist.settings()?;
            let matcher = matcher(device.gpu.as_ref(), &catalog, playlist.candidates(), quiet)?;
            let recommend = Recommend {
                catalog: &catalog,
                matcher: matcher.as_ref(),
                mode: args.playlist.mode(),
                weights: options.weights,
                playlist,
            };
            let bar = progress::Bar::new(quiet);
            let summary = pipeline::run(&settings, engine.as_ref(), Some(&recommend), &bar)?;
            bar.finish();
            if !quiet {
                eprintln!("{}", progress::summary_line(&summary));
                progress::print_playlists(&summary.out, &catalog)?;
            }
            Ok(exit_code(&summary))
        }
        Command::Inspect(args) => {
            init_threads(args.common.threads())?;
            let device = open_device(&args.common, true)?;
            let engine = engine(device.gpu.as_ref(), 1)?;
            let catalog: Option<Catalog> = match &args.catalog {
                Some(path) => Some(catalog::load(&catalog::CatalogOptions::new(path))?),
                None => None,
            };
            let playlist = args.playlist.settings()?;
            let matcher = match &catalog {
                Some(c) => Some(matcher(device.gpu.as_ref(), c, playlist.candidates(), true)?),
                None => None,
            };
            let recommend = match (&catalog, &matcher) {
                (Some(c), Some(m)) => Some(Recommend {
                    catalog: c,
                    matcher: m.as_ref(),
                    mode: args.playlist.mode(),
                    weights: Default::default(),
                    playlist,
                }),
                _ => None,
            };
            let report =
                pixtape::inspect::inspect(&args.image, engine.as_ref(), args.common.limits(), recommend.as_ref())?;
            print!("{report}");
            println!("device: {}", device.notice);
            Ok(ExitCode::SUCCESS)
        }
        Command::Catalog(CatalogCommand::Synth { tracks, out, seed }) => {
            catalog::synth::write(&out, tracks, seed)?;
            eprintln!("pixtape: wrote {tracks} synthetic tracks to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Catalog(CatalogCommand::Check { catalog: args }) => {
            let catalog = catalog::load(&args.options()?)?;
            println!("{}", serde_json::to_string_pretty(&catalog.report)?);
            // Rows go to stderr, so that stdout stays one JSON document.
            for issue in catalog.issues.iter().take(20) {
                eprintln!("{}: {}: {}", issue.locator, if issue.is_error { "error" } else { "warning" }, issue.reason);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Opens what `--device` asks for and says what came of it.
fn open_device(common: &cli::CommonArgs, quiet: bool) -> anyhow::Result<gpu::Selection> {
    let selection = gpu::select(common.device())?;
    if !quiet {
        eprintln!("pixtape: {}", selection.notice);
    }
    Ok(selection)
}

/// The model engine for the selected device, for batches of up to `batch`.
/// Engines keep the weights in their own layouts, so the parsed model (14
/// MB) is dropped as soon as the engine exists.
fn engine<'g>(gpu: Option<&'g Gpu>, batch: usize) -> anyhow::Result<Box<dyn Engine + 'g>> {
    let net = MobileNetV2::embedded()?;
    Ok(match gpu {
        Some(gpu) => Box::new(GpuEngine::new(gpu, &net, batch)?),
        None => Box::new(CpuEngine::new(&net)),
    })
}

/// The engine of a run, with the run's batch size settled: the user's, or
/// 32 on the CPU and 128 on a GPU, within what the engine takes.
fn run_engine<'g>(
    device: &'g gpu::Selection,
    settings: &mut pipeline::AnalyzeSettings,
    common: &cli::CommonArgs,
) -> anyhow::Result<Box<dyn Engine + 'g>> {
    let gpu = device.gpu.as_ref();
    let wanted = common.batch_size.map_or(if gpu.is_some() { 128 } else { 32 }, |b| b as usize);
    let engine = engine(gpu, wanted)?;
    settings.batch_size = wanted.min(engine.max_batch());
    settings.device_notice = device.notice.clone();
    if settings.batch_size < wanted && !common.quiet {
        eprintln!("pixtape: batches of {} images, the most this adapter's binding limits allow", settings.batch_size);
    }
    Ok(engine)
}

/// The matcher for the selected device. A `k` beyond what the GPU kernel
/// holds in workgroup memory (long playlists) is matched on the CPU.
fn matcher<'a>(
    gpu: Option<&'a Gpu>,
    catalog: &'a Catalog,
    k: usize,
    quiet: bool,
) -> anyhow::Result<Box<dyn Matcher + 'a>> {
    if let Some(gpu) = gpu {
        let m = GpuMatcher::new(gpu, &catalog.matrix)?;
        if k <= m.max_k() {
            return Ok(Box::new(m));
        }
        if !quiet {
            eprintln!(
                "pixtape: {k} candidates per playlist exceed the GPU top-k's {} on this adapter; matching on the CPU",
                m.max_k()
            );
        }
    }
    Ok(Box::new(CpuMatcher { tracks: &catalog.matrix }))
}

fn exit_code(summary: &pipeline::RunSummary) -> ExitCode {
    if summary.counts.errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn init_threads(n: usize) -> anyhow::Result<()> {
    rayon::ThreadPoolBuilder::new().num_threads(n).build_global()?;
    Ok(())
}
