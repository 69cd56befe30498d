//! Command-line flags, parsed by clap and turned into the library's settings.
//! Only `main` and this module know about clap.

pub mod progress;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use pixtape::catalog::{CatalogOptions, columns::Role, features::VaRange};
use pixtape::engine::backend::DeviceChoice;
use pixtape::engine::decode::DecodeLimits;
use pixtape::engine::mood::{MoodMode, Weights};
use pixtape::learn::LearnSettings;
use pixtape::recommend::playlist::PlaylistSettings;
use pixtape::run::pipeline::AnalyzeSettings;
use pixtape::run::shard::Shard;

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
pub struct RecommendArgs {
    #[command(flatten)]
    pub analyze: AnalyzeArgs,

    #[command(flatten)]
    pub catalog: CatalogArgs,

    #[command(flatten)]
    pub playlist: PlaylistArgs,

    #[command(flatten)]
    pub after: AfterArgs,
}

/// What runs after the playlists: album, playlist files, the report.
#[derive(Args, Debug)]
pub struct AfterArgs {
    /// Also turn all the photos into one playlist that follows them in
    /// order (capture time, else name): album.parquet.
    #[arg(long)]
    pub album: bool,

    /// Tracks in the album playlist.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub album_length: u32,

    /// Write playlist files people can play, one per image (and one for
    /// the album) into OUT/playlists/: m3u8, xspf, jspf (comma-separated).
    #[arg(long, value_name = "FORMAT,...", value_delimiter = ',')]
    pub export: Vec<String>,

    /// Prefix for the catalog's relative audio locations in playlist files
    /// (a folder or a URL).
    #[arg(long, value_name = "DIR|URL")]
    pub audio_root: Option<String>,

    /// Also write OUT/report.html: thumbnails, moods, playlists with their
    /// reasons, a mood map, coverage and errors, in one offline file.
    #[arg(long)]
    pub report: bool,
}

impl AfterArgs {
    pub fn formats(&self) -> anyhow::Result<Vec<pixtape::after::export::Format>> {
        self.export
            .iter()
            .filter(|f| !f.trim().is_empty())
            .map(|f| {
                pixtape::after::export::Format::parse(f)
                    .ok_or_else(|| anyhow::anyhow!("--export: unknown format `{f}` (m3u8, xspf, jspf)"))
            })
            .collect()
    }
}

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
}

#[derive(Args, Debug)]
pub struct PlaylistArgs {
    /// Tracks per playlist.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub top_k: u32,

    /// At most this many tracks by one artist in a playlist (0: no limit).
    #[arg(long, default_value_t = 2)]
    pub per_artist: u32,

    /// Match the picture's mood, lift it toward positive valence, or calm it toward low arousal.
    #[arg(long, default_value = "match", value_parser = ["match", "uplift", "calm"])]
    pub mood: String,

    /// Maximal-marginal-relevance λ: 1 ranks by similarity alone, lower values favour variety.
    #[arg(long, default_value_t = 0.7)]
    pub mmr_lambda: f32,

    /// Counter hubs: lower each track's re-ranking score by β times its
    /// hubness, ln(1 + how many ImageNet classes' moods it answers), so
    /// that a few central tracks do not fill every playlist. 0 is off;
    /// 0.02 to 0.1 is useful (see the README for what it costs and gains).
    #[arg(long, value_name = "BETA", default_value_t = 0.0)]
    pub hub_penalty: f32,

    /// No track in more than N playlists of the run (of each shard in a
    /// sharded run); images are served in input order. 0: no cap.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_exposure: u32,
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

    /// Analyse only shard I of N, into OUT/shard-IIIII-of-NNNNN/. I is a
    /// number, or `auto`: the first set of PIXTAPE_SHARD_INDEX,
    /// SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX.
    /// A shard that finds its own complete run does nothing.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    /// Also write features.parquet: what `pixtape learn` reads of each image
    /// (the model's pooled 1,280-d features and its mood before the learned
    /// head; about 5 KB an image).
    #[arg(long)]
    pub features: bool,

    /// Inputs per committed part. The run commits its rows every N inputs,
    /// so a killed run, rerun with the same command, resumes from its last
    /// part; the finished tables do not depend on N.
    #[arg(long, value_name = "N", default_value_t = pixtape::run::output::DEFAULT_PART_INPUTS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub part_size: u64,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The image to analyse.
    pub image: PathBuf,

    /// Also build its playlist from this catalog.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,

    #[command(flatten)]
    pub playlist: PlaylistArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Where the model and the matching run: `auto` uses a hardware GPU
    /// when there is one (through Vulkan, Metal or DX12) and the CPU
    /// otherwise; `gpu` insists on a GPU adapter, software ones included;
    /// `cpu` never looks. WGPU_BACKEND and WGPU_ADAPTER_NAME pick the
    /// backend and the adapter.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub device: String,

    /// Images per model batch (default: 32 on the CPU; on a GPU 128, or
    /// fewer where the adapter's binding limit says so).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: Option<u32>,

    /// Worker threads for decoding and for the CPU model (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// Refuse images larger than this many megapixels (decompression bombs).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_megapixels: u64,

    /// Decode every JPEG at full size, exactly as torchvision's transform
    /// does. By default a large JPEG (short side 512 or more) is decoded at
    /// 1/2, 1/4 or 1/8 scale in the DCT domain, as Pillow's `draft` does,
    /// which is several times faster on phone photos and changes the
    /// model's input slightly.
    #[arg(long)]
    pub exact_decode: bool,

    /// A profile written by `pixtape learn`: its mood head reads the
    /// pictures, and its weights and style preferences (if it has them)
    /// rank the tracks.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,

    /// No progress bar and no summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl CommonArgs {
    pub fn device(&self) -> DeviceChoice {
        DeviceChoice::parse(&self.device).unwrap_or(DeviceChoice::Auto)
    }

    /// The batch size asked for, if any; the backend settles the rest.
    pub fn batch(&self) -> Option<usize> {
        self.batch_size.map(|b| b as usize)
    }

    /// Sizes the global thread pool (decode workers and the CPU model).
    pub fn init_threads(&self) -> anyhow::Result<()> {
        rayon::ThreadPoolBuilder::new().num_threads(self.threads()).build_global()?;
        Ok(())
    }

    pub fn threads(&self) -> usize {
        self.threads.map(|t| t as usize).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_megapixels * 1_000_000,
            exact: self.exact_decode,
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
        let mut settings = AnalyzeSettings::new(images, self.out.clone());
        settings.decode_threads = self.common.threads();
        settings.limits = self.common.limits();
        settings.features = self.features;
        settings.part_inputs = self.part_size;
        settings.shard = self.shard.as_deref().map(|s| Shard::parse(s, &|v| std::env::var(v).ok())).transpose()?;
        Ok(settings)
    }
}

/// The sample photos shipped in the repository: next to the working
/// directory when run from a checkout, else where the crate was built.
pub fn bundled_photos() -> anyhow::Result<PathBuf> {
    bundled("assets/photos", "--images PATH")
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

impl PlaylistArgs {
    pub fn settings(&self) -> anyhow::Result<PlaylistSettings> {
        anyhow::ensure!((0.0..=1.0).contains(&self.mmr_lambda), "--mmr-lambda must be within 0..1");
        anyhow::ensure!((0.0..=10.0).contains(&self.hub_penalty), "--hub-penalty must be within 0..10");
        Ok(PlaylistSettings {
            length: self.top_k as usize,
            per_artist: self.per_artist as usize,
            relevance: self.mmr_lambda,
            hub_penalty: self.hub_penalty,
            max_exposure: self.max_exposure,
        })
    }

    pub fn mode(&self) -> MoodMode {
        match self.mood.as_str() {
            "uplift" => MoodMode::Uplift,
            "calm" => MoodMode::Calm,
            _ => MoodMode::Match,
        }
    }
}

/// A file shipped in the repository: next to the working directory when run
/// from a checkout, else where the crate was built.
fn bundled(rel: &str, flag: &str) -> anyhow::Result<PathBuf> {
    [Path::new(rel).to_path_buf(), Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| anyhow::anyhow!("the bundled default {rel} is not here; pass {flag}"))
}
