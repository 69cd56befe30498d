//! The commands that read a finished run back: `report`, `coverage`,
//! `verify` and `merge`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pixtape::after::{coverage, finished, report};
use pixtape::catalog::{self, CatalogOptions};
use pixtape::cluster::merge;
use pixtape::run::output::RECOMMENDATIONS_FILE;

use super::progress;

pub fn verify(out: &Path) -> anyhow::Result<ExitCode> {
    let report = pixtape::cluster::verify::verify(out)?;
    for line in progress::verify_lines(&report) {
        println!("{line}");
    }
    Ok(if report.is_whole() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub fn merge(out: &Path) -> anyhow::Result<ExitCode> {
    let report = merge::merge(out)?;
    println!(
        "merged {} shards: {} inputs ({} analysed, {} failed); wrote {} and {}",
        report.shards,
        report.inputs,
        report.images,
        report.errors,
        out.join("manifest.json").display(),
        out.join(merge::SUCCESS_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn report(out: &Path, catalog: Option<&Path>) -> anyhow::Result<ExitCode> {
    // A report without the catalog only lacks the tracks on the mood map,
    // so a catalog that is gone is a notice.
    let catalog = finished::load_catalog(out, catalog).unwrap_or_else(|e| {
        eprintln!("pixtape: notice: the mood map leaves out the tracks: {e}");
        None
    });
    let path = report::write(out, catalog.as_ref())?;
    eprintln!("pixtape: wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

pub fn coverage(out: &Path, catalog: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let named = finished::catalog_of(out)?;
    let path = catalog.or(named).ok_or_else(|| {
        anyhow::anyhow!("{}: the run names no catalog (was it made by `recommend`?); pass --catalog", out.display())
    })?;
    let catalog = catalog::load(&CatalogOptions::new(&path))?;
    let c = coverage::measure_file(&out.join(RECOMMENDATIONS_FILE), &catalog)?;
    coverage::write(out, &c)?;
    for line in coverage::summary_lines(&c) {
        println!("{line}");
    }
    eprintln!("pixtape: wrote {}", out.join(coverage::COVERAGE_FILE).display());
    Ok(ExitCode::SUCCESS)
}
