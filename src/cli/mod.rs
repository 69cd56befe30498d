//! The `pixtape` binary's commands: the flags of each (clap) and what it
//! does with them, which is to build the library's settings, call it and
//! say what came of it. `main` only parses and maps the outcome to an exit
//! code.
//!
//! `run` holds the commands that analyse pictures (`analyze`, `recommend`,
//! `inspect`) and the flags they share; `finished` those that read a
//! finished run back (`report`, `coverage`, `verify`, `merge`); `catalog`,
//! `learn`, `tools` and `video` the rest. `progress` draws the bar and the lines.

mod catalog;
mod finished;
mod learn;
pub mod progress;
mod run;
mod tools;
mod video;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use catalog::CatalogCommand;
use learn::LearnArgs;
use run::{AnalyzeArgs, InspectArgs, RecommendArgs};
use tools::{BenchArgs, PhotosCommand};
use video::VideoArgs;

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
    /// Analyse images and build a playlist for each from a music catalog.
    ///
    /// Writes what `analyze` writes plus recommendations.parquet (one row
    /// per pick). Without arguments it runs on the bundled photos and the
    /// bundled demo catalog and prints a short summary.
    Recommend(RecommendArgs),
    /// Print one image's analysis (and, with --catalog, its playlist) for a person.
    Inspect(InspectArgs),
    /// Check that a run (sharded or not) is whole: every shard complete,
    /// fingerprints agreeing, each input exactly once, counts adding up.
    ///
    /// Exit 0 only when it is whole; otherwise prints what is wrong and the
    /// missing shard indices in the form `sbatch --array=` takes.
    Verify {
        /// The run's output folder (the one given to --out).
        out: PathBuf,
    },
    /// Write a whole sharded run's dataset-level manifest.json (totals,
    /// per-shard wall times, the run's images/s) and a _SUCCESS marker.
    ///
    /// Refuses, changing nothing, unless `verify` finds the run whole. The
    /// tables stay in the shard folders: each reads with one glob.
    Merge {
        /// The run's output folder (the one given to --out).
        out: PathBuf,
    },
    /// Write a finished run's report.html: one self-contained file with
    /// thumbnails, palettes, moods, playlists and their reasons, a mood map,
    /// coverage and errors; it opens offline in any browser.
    Report {
        /// The run's output folder.
        out: PathBuf,
        /// The catalog the run used, for coverage (default: the one its
        /// manifest names).
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
    },
    /// Measure what a finished run recommends against what the catalog
    /// holds: the share of tracks and artists ever picked, the Gini of
    /// exposure, the hubs, and the style, era and tempo mix. Writes
    /// coverage.json into the run's folder.
    Coverage {
        /// The run's output folder.
        out: PathBuf,
        /// The catalog the run used (default: the one its manifest names).
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
    },
    /// Fit a profile from people's feedback on a run, for `--profile`.
    ///
    /// Feedback is a CSV, TSV, Parquet or JSON table of image ratings
    /// (image_id, valence and arousal on 1-9, optional labels) or of
    /// reactions to the run's picks (image_id, track_id, and liked or a 1-5
    /// rating). The run must have been made with --features. Prints how the
    /// profile does on held-out images and writes it as one file.
    Learn(LearnArgs),
    /// Cut videos into scenes and give each its music: a playlist per
    /// scene and one soundtrack per video that follows its scenes.
    ///
    /// Needs FFmpeg (`ffmpeg` and `ffprobe`). Writes scenes.parquet,
    /// recommendations.parquet (one playlist per scene, as `VIDEO#003`),
    /// soundtrack.parquet, errors.parquet, and cue sheets: cues.csv and a
    /// CMX3600 EDL per video in cues/.
    Video(VideoArgs),
    /// Catalog tools.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Photo tools.
    #[command(subcommand)]
    Photos(PhotosCommand),
    /// Measure how fast pixtape runs here, stage by stage, on the CPU and
    /// the GPU, on data it generates itself; prints a table and, with
    /// --json, writes every run's times.
    Bench(BenchArgs),
}

/// Does what the command line asks.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => run::analyze(args),
        Command::Recommend(args) => run::recommend(args),
        Command::Inspect(args) => run::inspect(args),
        Command::Verify { out } => finished::verify(&out),
        Command::Merge { out } => finished::merge(&out),
        Command::Report { out, catalog } => finished::report(&out, catalog.as_deref()),
        Command::Coverage { out, catalog } => finished::coverage(&out, catalog),
        Command::Learn(args) => learn::learn(&args),
        Command::Catalog(command) => catalog::command(command),
        Command::Photos(command) => tools::photos(command),
        Command::Bench(args) => tools::bench(&args),
        Command::Video(args) => video::video(args),
    }
}

/// Tells the user what went wrong: a library error that names a setting
/// names the flag instead, and a full or read-only disk gets advice.
pub fn report_error(err: &anyhow::Error) {
    match err.downcast_ref::<pixtape::Error>() {
        Some(pixtape::Error::Setting { setting, message }) if flag_of(setting).is_some() => {
            eprintln!("pixtape: error: {}: {message}", flag_of(setting).unwrap_or_default())
        }
        _ => eprintln!("pixtape: error: {err:#}"),
    }
    if let Some(advice) = disk_advice(err) {
        eprintln!("pixtape: {advice}");
    }
}

/// Decode workers, the catalog's parse workers and the writer allocate on
/// one thread and free on another (`main` makes mimalloc the allocator for
/// that). With purging off, mimalloc keeps freed pages instead of returning
/// them to the kernel and faulting them in again: loading a 10M-track index
/// spent most of its time zeroing such pages.
pub fn tune_allocator() {
    // `mi_option_purge_delay` in mimalloc.h's option enum (the crate does
    // not name it); -1 turns purging off.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a process-wide allocator option; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// The flag behind a library setting, for error messages.
pub fn flag_of(setting: &str) -> Option<&'static str> {
    Some(match setting {
        "device" => "--device",
        "weights" => "--weights",
        "columns" => "--catalog-columns",
        "va_range" => "--va-range",
        "delimiter" => "--catalog-delimiter",
        "catalog" => "--catalog",
        "batch_size" => "--batch-size",
        "feedback" => "--feedback",
        "profile" => "--profile",
        "shard" => "--shard",
        _ => return None,
    })
}

/// One line on stderr, unless `--quiet`.
fn say(quiet: bool, line: Option<&str>) {
    if let (false, Some(line)) = (quiet, line) {
        eprintln!("pixtape: {line}");
    }
}

/// 1 when some inputs failed, as the command's help says.
fn exit_code(summary: &pixtape::run::RunSummary) -> ExitCode {
    if summary.counts.errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// What to do when the output disk refused a write: a full disk (or quota)
/// and a read-only one are told apart from other failures.
fn disk_advice(err: &anyhow::Error) -> Option<&'static str> {
    const FULL: &str = "the output disk is full: free space (or write elsewhere) and rerun the same command; the \
                        parts already committed are kept and the run resumes from them";
    const READ_ONLY: &str = "the output folder is on a read-only file system: give --out a writable folder";
    let codes = err.chain().filter_map(|e| e.downcast_ref::<std::io::Error>()?.raw_os_error());
    // Parquet flattens I/O errors into text, so the text is checked too.
    let text = format!("{err:#}");
    for code in codes.chain([28, 122, 30].into_iter().filter(|c| text.contains(&format!("(os error {c})")))) {
        match code {
            28 | 122 => return Some(FULL),
            30 => return Some(READ_ONLY),
            _ => {}
        }
    }
    None
}

/// A file shipped in the repository: next to the working directory when run
/// from a checkout, else where the crate was built.
pub(crate) fn bundled(rel: &str, flag: &str) -> anyhow::Result<PathBuf> {
    [Path::new(rel).to_path_buf(), Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| anyhow::anyhow!("the bundled default {rel} is not here; pass {flag}"))
}
