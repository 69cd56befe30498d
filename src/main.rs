//! The `pixtape` binary: parse flags, build settings, call the library, map
//! the outcome to an exit code. Everything else lives in the library.

mod cli;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use pixtape::model::{MobileNetV2, cpu::CpuEngine};
use pixtape::pipeline;

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
            Ok(if summary.counts.errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Inspect(args) => {
            init_threads(args.common.threads())?;
            let engine = CpuEngine::new(&MobileNetV2::embedded()?);
            let report = pixtape::inspect::inspect(&args.image, &engine, args.common.limits())?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_threads(n: usize) -> anyhow::Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()?;
    Ok(())
}
