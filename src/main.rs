//! The `pixtape` binary: parse flags, build settings, call the library, map
//! the outcome to an exit code. Everything else lives in the library.

mod cli;

use cli::progress;

use std::process::ExitCode;

use clap::Parser;

use cli::{CatalogCommand, Cli, Command, PhotosCommand};
use std::path::PathBuf;

use pixtape::catalog::{self, CatalogOptions};
use pixtape::engine::backend::{self, Backend, Model};
use pixtape::learn::{self, Profile};
use pixtape::recommend::Recommender;
use pixtape::run::pipeline::{self, RunSummary};

// Decode workers, the catalog's parse workers and the writer allocate on one
// thread and free on another; glibc's allocator spends a third of a
// parallel catalog parse consolidating and unlinking those chunks. mimalloc
// does not, and with purging off (see `main`) it keeps freed pages instead
// of returning them to the kernel and faulting them in again: loading a
// 10M-track index spent most of its time zeroing such pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `mi_option_purge_delay` in mimalloc.h's option enum (the crate does
    // not name it); -1 turns purging off.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a process-wide allocator option; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // SAFETY: the first thing the process does, before any thread exists.
    unsafe { backend::quiet_driver_probe() };
    match run() {
        Ok(code) => code,
        Err(err) => {
            // A library error names a setting; tell the user the flag.
            match err.downcast_ref::<pixtape::Error>() {
                Some(pixtape::Error::Setting { setting, message }) if cli::flag_of(setting).is_some() => {
                    eprintln!("pixtape: error: {}: {message}", cli::flag_of(setting).unwrap_or_default())
                }
                _ => eprintln!("pixtape: error: {err:#}"),
            }
            if let Some(advice) = disk_advice(&err) {
                eprintln!("pixtape: {advice}");
            }
            ExitCode::from(2)
        }
    }
}

/// The post-run stages asked for on the command line.
fn after_settings(a: &cli::AfterArgs) -> anyhow::Result<pixtape::after::AfterSettings> {
    Ok(pixtape::after::AfterSettings {
        album: a.album.then(|| pixtape::after::album::AlbumSettings { length: a.album_length as usize }),
        export: a.formats()?,
        audio_root: a.audio_root.clone(),
        report: a.report,
    })
}

/// The catalog a finished run used, for the report's mood map: the one
/// given, else the one its manifest names; a report without it only lacks
/// the tracks on the map, so a catalog that is gone is a notice.
fn run_catalog(out: &std::path::Path, given: Option<&PathBuf>) -> Option<catalog::Catalog> {
    let path = given.cloned().or_else(|| pixtape::after::finished::catalog_of(out).ok().flatten())?;
    match catalog::load(&CatalogOptions::new(&path)) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("pixtape: notice: the mood map leaves out the tracks: {e}");
            None
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Analyze(args) => {
            let (settings, quiet) = (args.settings()?, args.common.quiet);
            args.common.init_threads()?;
            let backend = open(quiet, &args.common)?;
            let (model, _) = model(&backend, &args.common, args.common.batch())?;
            say(quiet, model.notice.as_deref());
            say(quiet, progress::shard_line(&settings).as_deref());
            let bar = progress::Bar::new(quiet);
            let summary = pipeline::analyze(&settings, &model, &bar)?;
            bar.finish();
            say(quiet, Some(&progress::summary_line(&summary)));
            Ok(exit_code(&summary))
        }
        Command::Recommend(args) => {
            let (common, quiet) = (&args.analyze.common, args.analyze.common.quiet);
            let settings = args.analyze.settings()?;
            let after = after_settings(&args.after)?;
            anyhow::ensure!(
                !(args.after.album && settings.shard.is_some()),
                "--album needs every photo in one run; it cannot be combined with --shard"
            );
            common.init_threads()?;
            let backend = open(quiet, common)?;
            let (model, profile) = model(&backend, common, common.batch())?;
            let catalog = catalog::load(&with_profile_weights(args.catalog.options()?, &args.catalog, &profile)?)?;
            say(quiet, Some(&progress::catalog_line(&catalog)));
            say(quiet, model.notice.as_deref());
            let mut recommender =
                Recommender::new(&backend, &catalog, args.playlist.mode(), args.playlist.settings()?)?;
            if let Some(p) = &profile {
                recommender = recommender.with_profile(p);
            }
            say(quiet, recommender.notice());
            say(quiet, progress::shard_line(&settings).as_deref());
            let bar = progress::Bar::new(quiet);
            let summary = pipeline::run(&settings, &model, Some(&recommender), &bar)?;
            bar.finish();
            say(quiet, Some(&progress::summary_line(&summary)));
            if !quiet && !summary.already_complete {
                progress::print_playlists(&summary.out)?;
            }
            let done = pixtape::after::finish(&summary.out, &recommender, &after)?;
            if !quiet {
                for line in pixtape::after::coverage::summary_lines(&done.coverage) {
                    eprintln!("pixtape: {line}");
                }
                if !done.exported.is_empty() {
                    eprintln!(
                        "pixtape: wrote {} playlist files to {}",
                        done.exported.len(),
                        summary.out.join(pixtape::after::export::PLAYLISTS_DIR).display()
                    );
                }
                if let Some(r) = &done.report {
                    eprintln!("pixtape: wrote {}", r.display());
                }
            }
            if let Some(album) = &done.album {
                for line in pixtape::after::album::summary_lines(album) {
                    println!("{line}");
                }
            }
            Ok(exit_code(&summary))
        }
        Command::Inspect(args) => {
            args.common.init_threads()?;
            let backend = Backend::open(args.common.device())?;
            let (model, profile) = model(&backend, &args.common, Some(1))?;
            let options = |p: &PathBuf| {
                let mut o = CatalogOptions::new(p);
                if let Some(w) = profile.as_ref().and_then(|p| p.weights) {
                    o.weights = w;
                }
                o
            };
            let catalog = args.catalog.as_ref().map(|p| catalog::load(&options(p))).transpose()?;
            let playlist = args.playlist.settings()?;
            let recommender = catalog
                .as_ref()
                .map(|c| {
                    let r = Recommender::new(&backend, c, args.playlist.mode(), playlist)?;
                    Ok::<_, pixtape::Error>(match &profile {
                        Some(p) => r.with_profile(p),
                        None => r,
                    })
                })
                .transpose()?;
            let report =
                pixtape::tools::inspect::inspect(&args.image, &model, args.common.limits(), recommender.as_ref())?;
            print!("{report}");
            println!("device: {}", backend.report().notice);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { out } => {
            let report = pixtape::cluster::verify::verify(&out)?;
            for line in progress::verify_lines(&report) {
                println!("{line}");
            }
            Ok(if report.is_whole() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Merge { out } => {
            let report = pixtape::cluster::merge::merge(&out)?;
            println!(
                "merged {} shards: {} inputs ({} analysed, {} failed); wrote {} and {}",
                report.shards,
                report.inputs,
                report.images,
                report.errors,
                out.join("manifest.json").display(),
                out.join(pixtape::cluster::merge::SUCCESS_FILE).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { out, catalog } => {
            let catalog = run_catalog(&out, catalog.as_ref());
            let path = pixtape::after::report::write(&out, catalog.as_ref())?;
            eprintln!("pixtape: wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Coverage { out, catalog } => {
            let named = pixtape::after::finished::catalog_of(&out)?;
            let path = catalog.or(named).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: the run names no catalog (was it made by `recommend`?); pass --catalog",
                    out.display()
                )
            })?;
            let catalog = catalog::load(&CatalogOptions::new(&path))?;
            let c = pixtape::after::coverage::measure_file(
                &out.join(pixtape::run::output::RECOMMENDATIONS_FILE),
                &catalog,
            )?;
            pixtape::after::coverage::write(&out, &c)?;
            for line in pixtape::after::coverage::summary_lines(&c) {
                println!("{line}");
            }
            eprintln!("pixtape: wrote {}", out.join(pixtape::after::coverage::COVERAGE_FILE).display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Learn(args) => {
            let profile = learn::learn(&args.settings()?)?;
            profile.save(&args.out)?;
            for line in progress::profile_lines(&profile) {
                eprintln!("pixtape: {line}");
            }
            eprintln!("pixtape: wrote the profile to {}", args.out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            use pixtape::tools::bench::{GpuUse, Scale};
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
            let settings = pixtape::tools::bench::BenchSettings { cpu, gpu, scale, peak_gflops: args.peak_gflops };
            let report = pixtape::tools::bench::run(&settings, &|stage| eprintln!("pixtape: bench: {stage}"))?;
            print!("{}", pixtape::tools::bench::table(&report));
            if let Some(path) = &args.json {
                pixtape::atomic::write_atomic(path, &serde_json::to_vec_pretty(&report)?)?;
                eprintln!("pixtape: wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Photos(PhotosCommand::Synth { count, out, size: (width, height), exact, quality, seed }) => {
            let spec = pixtape::tools::synth::PhotoSpec { width, height, exact, quality, seed };
            pixtape::tools::synth::photos(&out, count, &spec)?;
            eprintln!("pixtape: wrote {count} synthetic photos to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Catalog(CatalogCommand::Synth { tracks, out, seed }) => {
            catalog::synth::write(&out, tracks, seed)?;
            eprintln!("pixtape: wrote {tracks} synthetic tracks to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Catalog(CatalogCommand::Build { catalog: args, out }) => {
            let mut options = args.options()?;
            options.keep_moods = true;
            let catalog = catalog::load(&options)?;
            eprintln!("pixtape: {}", progress::catalog_line(&catalog));
            catalog::index::write(&catalog, &out)?;
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "pixtape: wrote the index of {} tracks to {} ({:.1} MB)",
                catalog.len(),
                out.display(),
                bytes as f64 / 1e6
            );
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

/// Opens the device `--device` asks for and says what came of it.
fn open(quiet: bool, common: &cli::CommonArgs) -> anyhow::Result<Backend> {
    let backend = Backend::open(common.device())?;
    say(quiet, Some(&backend.report().notice));
    Ok(backend)
}

/// The model engine, with the head of `--profile` when given, and the
/// profile itself.
fn model<'b>(
    backend: &'b Backend,
    common: &cli::CommonArgs,
    batch: Option<usize>,
) -> anyhow::Result<(Model<'b>, Option<Profile>)> {
    let Some(path) = &common.profile else { return Ok((backend.model(batch)?, None)) };
    let (profile, report) = Profile::load(path)?;
    let mut model = backend.model_with(batch, profile.head.clone())?;
    model.profile = Some(report);
    Ok((model, Some(profile)))
}

/// A profile's weights become the catalog's, unless `--weights` sets them.
fn with_profile_weights(
    mut options: CatalogOptions,
    args: &cli::CatalogArgs,
    profile: &Option<Profile>,
) -> anyhow::Result<CatalogOptions> {
    if let Some(w) = profile.as_ref().and_then(|p| p.weights) {
        anyhow::ensure!(args.weights.is_none(), "--weights and a --profile with learned weights: give one");
        options.weights = w;
    }
    Ok(options)
}

/// One line on stderr, unless `--quiet`.
fn say(quiet: bool, line: Option<&str>) {
    if let (false, Some(line)) = (quiet, line) {
        eprintln!("pixtape: {line}");
    }
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

fn exit_code(summary: &RunSummary) -> ExitCode {
    if summary.counts.errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
