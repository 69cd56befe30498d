//! `pixtape learn`: a profile from people's feedback on a run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use pixtape::catalog::CatalogOptions;
use pixtape::learn::LearnSettings;

use super::catalog::parse_columns;
use super::progress;

#[derive(Args, Debug)]
pub struct LearnArgs {
    /// Output folder of the run the feedback is about (made with --features).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,

    /// Feedback table; repeat for several files.
    #[arg(long, value_name = "FILE", required = true)]
    pub feedback: Vec<PathBuf>,

    /// Where to write the profile (a .safetensors file).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// The catalog the run matched against, for reactions (default: the
    /// one its manifest names). The run's weights are used, not --weights.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,

    /// How the catalog's columns were mapped in the run, if by hand.
    #[arg(long, value_name = "ROLE=COLUMN,...")]
    pub catalog_columns: Option<String>,
}

impl LearnArgs {
    pub fn settings(&self) -> anyhow::Result<LearnSettings> {
        let catalog = match &self.catalog {
            Some(p) => {
                let mut o = CatalogOptions::new(p);
                if let Some(spec) = &self.catalog_columns {
                    o.overrides = parse_columns(spec)?;
                }
                Some(o)
            }
            None => None,
        };
        Ok(LearnSettings { run: self.run.clone(), feedback: self.feedback.clone(), catalog })
    }
}

pub fn learn(args: &LearnArgs) -> anyhow::Result<ExitCode> {
    let profile = pixtape::learn::learn(&args.settings()?)?;
    profile.save(&args.out)?;
    for line in progress::profile_lines(&profile) {
        eprintln!("pixtape: {line}");
    }
    eprintln!("pixtape: wrote the profile to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
