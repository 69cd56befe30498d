//! `pixtape catalog` and the catalog flags every command that reads one
//! shares.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use pixtape::catalog::{self, CatalogOptions, columns::Role, features::VaRange};
use pixtape::engine::mood::Weights;
use pixtape::learn::Profile;

use super::{bundled, progress};

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Write a realistic synthetic catalog (varied artists, genres, moods,
    /// tempi) for scale tests and benchmarks; .csv or .parquet by extension.
    Synth {
        /// Number of tracks.
        #[arg(long, value_name = "N")]
        tracks: u64,
        /// Output file (.csv or .parquet).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Seed of the generator: the same seed gives the same file.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Place a catalog in the mood space once and write it as an index,
    /// which `--catalog INDEX` loads in one read: for the many workers of a
    /// sharded run. Any group weights apply to it at load.
    Build {
        #[command(flatten)]
        catalog: CatalogArgs,
        /// The index file to write.
        #[arg(long, value_name = "INDEX")]
        out: PathBuf,
    },
    /// Load a catalog and report what pixtape makes of it (columns, scale,
    /// rejected rows, unknown tags), without any images.
    Check {
        #[command(flatten)]
        catalog: CatalogArgs,
    },
}

#[derive(Args, Debug)]
pub struct CatalogArgs {
    /// Music catalog: CSV, TSV, Parquet or JSON (array or one object per
    /// line). Defaults to the bundled demo catalog.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,

    /// Which column plays which role, when detection gets it wrong:
    /// `id=col,title=col,artist=col,valence=col,arousal=col,tags=col1+col2,...`
    #[arg(long, value_name = "ROLE=COLUMN,...")]
    pub catalog_columns: Option<String>,

    /// Scale of the valence/arousal columns (detected when not given).
    #[arg(long, value_name = "SCALE", value_parser = ["unit", "signed", "1-9", "0-100", "z"])]
    pub va_range: Option<String>,

    /// Field delimiter of a CSV/TSV catalog, when not the extension's (e.g. ';').
    #[arg(long, value_name = "CHAR")]
    pub catalog_delimiter: Option<String>,

    /// Group weights of the similarity: affect=0.35,moods=0.30,styles=0.20,themes=0.15
    #[arg(long, value_name = "GROUP=W,...")]
    pub weights: Option<String>,

    /// Where a source catalog, once placed, is kept as an index for the next
    /// run on the same file (keyed by its content). Default:
    /// $PIXTAPE_CACHE_DIR, else $XDG_CACHE_HOME/pixtape/catalogs, else
    /// ~/.cache/pixtape/catalogs.
    #[arg(long, value_name = "DIR", conflicts_with = "no_catalog_cache")]
    pub catalog_cache: Option<PathBuf>,

    /// Parse the source catalog every time; read or write no cache.
    #[arg(long)]
    pub no_catalog_cache: bool,
}

impl CatalogArgs {
    pub fn options(&self) -> anyhow::Result<CatalogOptions> {
        let path = match &self.catalog {
            Some(p) => p.clone(),
            None => bundled("assets/catalog/demo_catalog.csv", "--catalog FILE")?,
        };
        let mut o = CatalogOptions::new(path);
        if let Some(spec) = &self.catalog_columns {
            o.overrides = parse_columns(spec)?;
        }
        o.va_range = self.va_range.as_deref().and_then(VaRange::parse);
        o.delimiter = match self.catalog_delimiter.as_deref() {
            None => None,
            Some("\\t") | Some("tab") => Some(b'\t'),
            Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
            Some(d) => anyhow::bail!("--catalog-delimiter takes one character (or \\t), not `{d}`"),
        };
        if let Some(w) = &self.weights {
            o.weights = parse_weights(w)?;
        }
        o.cache = match self.no_catalog_cache {
            true => None,
            false => self.catalog_cache.clone().or_else(catalog::cache::default_dir),
        };
        Ok(o)
    }
}

/// `--weights affect=0.35,moods=0.30,...`: groups not named keep their default.
pub fn parse_weights(spec: &str) -> anyhow::Result<Weights> {
    let mut w = Weights::default();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| anyhow::anyhow!("--weights: `{part}` is not group=weight"))?;
        let v: f32 = v.trim().parse().map_err(|_| anyhow::anyhow!("--weights: `{v}` is not a number"))?;
        match k.trim() {
            "affect" => w.affect = v,
            "moods" => w.moods = v,
            "styles" => w.styles = v,
            "themes" => w.themes = v,
            other => anyhow::bail!("--weights: unknown group `{other}` (affect, moods, styles, themes)"),
        }
    }
    // Ranges are the library's to check (`Weights::check`, when the
    // catalog loads); its error names the setting and `main` the flag.
    Ok(w)
}

/// `--catalog-columns id=col,title=col,tags=col1+col2,...`
pub fn parse_columns(spec: &str) -> anyhow::Result<Vec<(Role, Vec<String>)>> {
    let roles = || Role::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ");
    spec.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|part| {
            let (role, cols) = part.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--catalog-columns: `{part}` is not role=column (roles: {})", roles())
            })?;
            let role = Role::parse(role.trim())
                .ok_or_else(|| anyhow::anyhow!("--catalog-columns: unknown role `{role}` (roles: {})", roles()))?;
            Ok((role, cols.split('+').map(|c| c.trim().to_string()).collect()))
        })
        .collect()
}

/// A profile's weights become the catalog's, unless `--weights` sets them.
pub fn with_profile_weights(
    mut options: CatalogOptions,
    args: &CatalogArgs,
    profile: Option<&Profile>,
) -> anyhow::Result<CatalogOptions> {
    if let Some(w) = profile.and_then(|p| p.weights) {
        anyhow::ensure!(args.weights.is_none(), "--weights and a --profile with learned weights: give one");
        options.weights = w;
    }
    Ok(options)
}

pub fn command(command: CatalogCommand) -> anyhow::Result<ExitCode> {
    match command {
        CatalogCommand::Synth { tracks, out, seed } => {
            catalog::synth::write(&out, tracks, seed)?;
            eprintln!("pixtape: wrote {tracks} synthetic tracks to {}", out.display());
        }
        CatalogCommand::Build { catalog: args, out } => {
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
        }
        CatalogCommand::Check { catalog: args } => {
            let catalog = catalog::load(&args.options()?)?;
            println!("{}", serde_json::to_string_pretty(&catalog.report)?);
            // Rows go to stderr, so that stdout stays one JSON document.
            for issue in catalog.issues.iter().take(20) {
                eprintln!("{}: {}: {}", issue.locator, if issue.is_error { "error" } else { "warning" }, issue.reason);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
