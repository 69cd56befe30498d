//! The commands that analyse pictures, `analyze`, `recommend` and
//! `inspect`, and the flags they share.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use pixtape::after::{self, AfterSettings, album::AlbumSettings};
use pixtape::catalog::{self, Catalog, CatalogOptions};
use pixtape::engine::backend::{Backend, DeviceChoice, Model};
use pixtape::engine::decode::DecodeLimits;
use pixtape::engine::model::precision::Precision;
use pixtape::engine::mood::MoodMode;
use pixtape::learn::Profile;
use pixtape::recommend::Recommender;
use pixtape::recommend::playlist::PlaylistSettings;
use pixtape::recommend::profile::ProfileReport;
use pixtape::run::{self, AnalyzeSettings, shard::Shard};

use super::catalog::{CatalogArgs, with_profile_weights};
use super::{bundled, exit_code, progress, say};

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
    /// The post-run stages asked for.
    pub fn settings(&self) -> anyhow::Result<AfterSettings> {
        Ok(AfterSettings {
            album: self.album.then(|| AlbumSettings { length: self.album_length as usize }),
            export: self.formats()?,
            audio_root: self.audio_root.clone(),
            report: self.report,
        })
    }

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

    /// The model's arithmetic. On the CPU, that of its 1x1 convolutions:
    /// `int8` (per channel weights, per pixel activations; AVX-512 VNNI or AVX2),
    /// `bf16` (AVX-512 BF16) or `f32`, the torchvision-equal path; `auto`
    /// takes int8 where the CPU has AVX2 or VNNI and f32 elsewhere. On a GPU, `f16`
    /// stores activations and 1x1 weights as f16 (adapters with
    /// SHADER_F16); anything else runs f32. A request the device cannot
    /// run is said at start and the device's default runs instead.
    #[arg(long, default_value = "auto", value_parser = ["auto", "f32", "int8", "bf16", "f16"])]
    pub precision: String,

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

    /// Find the faces in each picture and read their expressions
    /// (faces.parquet; the mood and the reasons use them). `off` skips
    /// both networks, which cost about as much again as the scene model.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub faces: String,

    /// The detector score a face needs, in (0, 1): lower finds more faces
    /// and more things that are not faces.
    #[arg(long, value_name = "SCORE", default_value_t = pixtape::engine::faces::DEFAULT_THRESHOLD,
          value_parser = face_threshold)]
    pub face_threshold: f32,

    /// Search a picture's faces only when the scene model's people cue (the
    /// probability of its person-like classes) is at least this; 0 searches
    /// every picture. The search costs about as much as the scene model.
    #[arg(long, value_name = "CUE", default_value_t = pixtape::engine::faces::DEFAULT_GATE,
          value_parser = face_gate)]
    pub face_gate: f32,

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

    /// Opens the device `--device` asks for, at `--precision`.
    pub fn backend(&self) -> pixtape::Result<Backend> {
        let precision = Precision::parse(&self.precision).unwrap_or_else(Precision::auto);
        Ok(Backend::open(self.device())?.with_precision(precision))
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

    /// The face threshold, or `None` with `--faces off`.
    pub fn faces(&self) -> Option<f32> {
        (self.faces == "on").then_some(self.face_threshold)
    }

    /// How faces are searched, or `None` with `--faces off`.
    pub fn face_search(&self) -> Option<pixtape::engine::faces::Search> {
        self.faces().map(|threshold| pixtape::engine::faces::Search { threshold, gate: self.face_gate })
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
        settings.faces = self.common.faces();
        settings.face_gate = self.common.face_gate;
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

pub fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let (mut settings, quiet) = (args.settings()?, args.common.quiet);
    args.common.init_threads()?;
    let backend = open(quiet, &args.common)?;
    let (model, profile) = model(&backend, &args.common, args.common.batch())?;
    settings.profile = profile.map(|(_, report)| report);
    say(quiet, model.notice.as_deref());
    say(quiet, progress::shard_line(&settings).as_deref());
    let bar = progress::Bar::new(quiet);
    let summary = run::analyze(&settings, &model, &bar)?;
    bar.finish();
    say(quiet, Some(&progress::summary_line(&summary)));
    Ok(exit_code(&summary))
}

pub fn recommend(args: RecommendArgs) -> anyhow::Result<ExitCode> {
    let (common, quiet) = (&args.analyze.common, args.analyze.common.quiet);
    let mut settings = args.analyze.settings()?;
    let after = args.after.settings()?;
    anyhow::ensure!(
        !(args.after.album && settings.shard.is_some()),
        "--album needs every photo in one run; it cannot be combined with --shard"
    );
    common.init_threads()?;
    let backend = open(quiet, common)?;
    let (model, profile) = model(&backend, common, common.batch())?;
    let (profile, report) = profile.unzip();
    settings.profile = report;
    let options = with_profile_weights(args.catalog.options()?, &args.catalog, profile.as_ref())?;
    let (catalog, pending) = catalog::load_deferring_cache(&options)?;
    // A first run's cache entry is written while the images are worked on.
    catalog::cache::write_beside(&catalog, pending, || {
        recommend_with(&args, &settings, &after, &backend, &model, profile.as_ref(), &catalog)
    })
}

/// `recommend` once the model and the catalog are loaded.
fn recommend_with(
    args: &RecommendArgs,
    settings: &AnalyzeSettings,
    after: &AfterSettings,
    backend: &Backend,
    model: &Model,
    profile: Option<&Profile>,
    catalog: &Catalog,
) -> anyhow::Result<ExitCode> {
    let quiet = args.analyze.common.quiet;
    say(quiet, Some(&progress::catalog_line(catalog)));
    say(quiet, model.notice.as_deref());
    let mut recommender = Recommender::new(backend, catalog, args.playlist.mode(), args.playlist.settings()?)?;
    if let Some(p) = profile {
        recommender = recommender.with_profile(p);
    }
    say(quiet, recommender.notice());
    say(quiet, progress::shard_line(settings).as_deref());
    let bar = progress::Bar::new(quiet);
    let summary = run::run(settings, model, Some(&recommender), &bar)?;
    bar.finish();
    say(quiet, Some(&progress::summary_line(&summary)));
    if !quiet && !summary.already_complete {
        progress::print_playlists(&summary.out)?;
    }
    let done = after::finish(&summary.out, &recommender, after)?;
    if !quiet {
        for line in after::coverage::summary_lines(&done.coverage) {
            eprintln!("pixtape: {line}");
        }
        if !done.exported.is_empty() {
            eprintln!(
                "pixtape: wrote {} playlist files to {}",
                done.exported.len(),
                summary.out.join(after::export::PLAYLISTS_DIR).display()
            );
        }
        if let Some(r) = &done.report {
            eprintln!("pixtape: wrote {}", r.display());
        }
    }
    if let Some(album) = &done.album {
        for line in after::album::summary_lines(album) {
            println!("{line}");
        }
    }
    Ok(exit_code(&summary))
}

pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    args.common.init_threads()?;
    let backend = args.common.backend()?;
    let (model, profile) = model(&backend, &args.common, Some(1))?;
    let profile = profile.map(|(p, _)| p);
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
    let report = pixtape::tools::inspect::inspect(
        &args.image,
        &model,
        args.common.limits(),
        args.common.face_search(),
        recommender.as_ref(),
    )?;
    print!("{report}");
    println!("device: {}", backend.report().notice);
    Ok(ExitCode::SUCCESS)
}

/// Opens the device `--device` asks for and says what came of it.
fn open(quiet: bool, common: &CommonArgs) -> anyhow::Result<Backend> {
    let backend = common.backend()?;
    say(quiet, Some(&backend.report().notice));
    Ok(backend)
}

/// The model engine, with the head of `--profile` when given, and the
/// profile with what the run's manifest records of it.
pub(super) fn model<'b>(
    backend: &'b Backend,
    common: &CommonArgs,
    batch: Option<usize>,
) -> anyhow::Result<(Model<'b>, Option<(Profile, ProfileReport)>)> {
    let Some(path) = &common.profile else { return Ok((backend.model(batch)?, None)) };
    let (profile, report) = Profile::load(path)?;
    let model = backend.model_with(batch, profile.head.clone())?;
    Ok((model, Some((profile, report))))
}

fn face_gate(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(g) if (0.0..=1.0).contains(&g) => Ok(g),
        _ => Err(format!("{s:?} is not a people cue between 0 and 1")),
    }
}

fn face_threshold(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(t) if t > 0.0 && t < 1.0 => Ok(t),
        _ => Err(format!("{s:?} is not a score between 0 and 1 (exclusive)")),
    }
}
