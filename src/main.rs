//! The `pixtape` binary: parse flags, build settings, call the library, map
//! the outcome to an exit code. Everything else lives in the library.

mod cli;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use cli::{CatalogCommand, Cli, Command};
use pixtape::catalog::{self, Catalog};
use pixtape::model::{MobileNetV2, cpu::CpuEngine};
use pixtape::pipeline::{self, Recommend};
use pixtape::similarity::CpuMatcher;

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
            let settings = args.settings()?;
            init_threads(args.common.threads())?;
            let engine = CpuEngine::new(&MobileNetV2::embedded()?);
            let bar = progress::Bar::new(args.common.quiet);
            let summary = pipeline::analyze(&settings, &engine, &bar)?;
            bar.finish();
            if !args.common.quiet {
                eprintln!("{}", progress::summary_line(&summary));
            }
            Ok(exit_code(&summary))
        }
        Command::Recommend(args) => {
            let settings = args.analyze.settings()?;
            let quiet = args.analyze.common.quiet;
            init_threads(args.analyze.common.threads())?;
            let options = args.catalog.options()?;
            let catalog = catalog::load(&options)?;
            if !quiet {
                eprintln!("{}", progress::catalog_line(&catalog));
            }
            let engine = CpuEngine::new(&MobileNetV2::embedded()?);
            let matcher = CpuMatcher { tracks: &catalog.matrix };
            let recommend = Recommend {
                catalog: &catalog,
                matcher: &matcher,
                mode: args.playlist.mode(),
                weights: options.weights,
                playlist: args.playlist.settings()?,
            };
            let bar = progress::Bar::new(quiet);
            let summary = pipeline::run(&settings, &engine, Some(&recommend), &bar)?;
            bar.finish();
            if !quiet {
                eprintln!("{}", progress::summary_line(&summary));
                progress::print_playlists(&summary.out, &catalog)?;
            }
            Ok(exit_code(&summary))
        }
        Command::Inspect(args) => {
            init_threads(args.common.threads())?;
            let engine = CpuEngine::new(&MobileNetV2::embedded()?);
            let catalog: Option<Catalog> = match &args.catalog {
                Some(path) => Some(catalog::load(&catalog::CatalogOptions::new(path))?),
                None => None,
            };
            let matcher = catalog.as_ref().map(|c| CpuMatcher { tracks: &c.matrix });
            let recommend = match (&catalog, &matcher) {
                (Some(c), Some(m)) => Some(Recommend {
                    catalog: c,
                    matcher: m,
                    mode: args.playlist.mode(),
                    weights: Default::default(),
                    playlist: args.playlist.settings()?,
                }),
                _ => None,
            };
            let report = pixtape::inspect::inspect(&args.image, &engine, args.common.limits(), recommend.as_ref())?;
            print!("{report}");
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
            for issue in catalog.issues.iter().take(20) {
                println!("{}: {}: {}", issue.locator, if issue.is_error { "error" } else { "warning" }, issue.reason);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit_code(summary: &pipeline::RunSummary) -> ExitCode {
    if summary.counts.errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn init_threads(n: usize) -> anyhow::Result<()> {
    rayon::ThreadPoolBuilder::new().num_threads(n).build_global()?;
    Ok(())
}
