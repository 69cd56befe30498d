//! Command-line flags, parsed by clap and turned into the library's settings.
//! Only `main` and this module know about clap.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use pixtape::decode::DecodeLimits;
use pixtape::pipeline::AnalyzeSettings;

/// pixtape: turns pictures into music recommendations, in bulk.
///
/// Exit codes: 0 every input succeeded; 1 the run completed but some inputs
/// failed (see errors.parquet); 2 the run could not be done (bad arguments,
/// unreadable input, unwritable output).
#[derive(Parser, Debug)]
#[command(name = "pixtape", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyse images: ImageNet labels, colour and light, written to Parquet.
    ///
    /// Writes images.parquet (one row per analysed image), errors.parquet
    /// (one row per input that failed, plus warnings) and manifest.json
    /// (written last: a folder with a manifest holds a complete run).
    Analyze(AnalyzeArgs),
    /// Print one image's analysis for a person.
    Inspect(InspectArgs),
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// A folder of images (walked recursively), a manifest (text file of
    /// paths, or CSV/TSV/Parquet with `path` and optional `id` columns), or
    /// one image. Defaults to the bundled sample photos.
    #[arg(long, value_name = "PATH")]
    pub images: Option<PathBuf>,

    /// Output folder (created if missing).
    #[arg(long, value_name = "DIR", default_value = "pixtape-out")]
    pub out: PathBuf,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The image to analyse.
    pub image: PathBuf,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Images per model batch.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: u32,

    /// Worker threads for decoding and for the CPU model (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// Refuse images larger than this many megapixels (decompression bombs).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_megapixels: u64,

    /// No progress bar and no summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl CommonArgs {
    pub fn threads(&self) -> usize {
        self.threads
            .map(|t| t as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_megapixels * 1_000_000,
            ..DecodeLimits::default()
        }
    }
}

impl AnalyzeArgs {
    pub fn settings(&self) -> anyhow::Result<AnalyzeSettings> {
        let images = match &self.images {
            Some(p) => p.clone(),
            None => bundled_photos()?,
        };
        Ok(AnalyzeSettings {
            images,
            out: self.out.clone(),
            batch_size: self.common.batch_size as usize,
            decode_threads: self.common.threads(),
            limits: self.common.limits(),
        })
    }
}

/// The sample photos shipped in the repository: next to the working
/// directory when run from a checkout, else where the crate was built.
pub fn bundled_photos() -> anyhow::Result<PathBuf> {
    let candidates = [
        Path::new("assets/photos").to_path_buf(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/photos"),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_dir())
        .ok_or_else(|| anyhow::anyhow!("no --images given and the bundled photos (assets/photos) are not here; pass --images PATH"))
}
