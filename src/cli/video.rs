//! `pixtape video`: its flags, and the settings they become.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use pixtape::catalog;
use pixtape::recommend::Recommender;
use pixtape::run::shard::Shard;
use pixtape::video::read::Sampling;
use pixtape::video::scenes::CutSettings;
use pixtape::video::{self, VideoSettings, VideoSummary};

use super::catalog::{CatalogArgs, with_profile_weights};
use super::run::{CommonArgs, PlaylistArgs, model};
use super::{progress, say};

#[derive(Args, Debug)]
pub struct VideoArgs {
    /// Video files, and folders walked for videos (mp4, mov, mkv, webm, …).
    #[arg(required = true, value_name = "FILE_OR_FOLDER")]
    pub inputs: Vec<PathBuf>,

    /// Output folder (created if missing).
    #[arg(long, value_name = "DIR", default_value = "pixtape-out")]
    pub out: PathBuf,

    /// Frames a second sampled from each video for cutting and keyframes.
    #[arg(long, value_name = "FPS", default_value_t = 4.0)]
    pub sample_rate: f64,

    /// Shortest scene, in seconds: a cut closer than this to the one before is dropped.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub min_scene: f64,

    /// A cut needs a content change this many times the mean of its
    /// neighbours' (PySceneDetect's adaptive threshold).
    #[arg(long, value_name = "RATIO", default_value_t = 3.0)]
    pub cut_threshold: f32,

    /// Keyframes read per scene; the scene's mood is their mean.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=24))]
    pub keyframes: u32,

    /// Also write report.html: each video's scenes as a strip of keyframes
    /// with their times, moods and tracks.
    #[arg(long)]
    pub report: bool,

    /// Read only shard I of N, into OUT/shard-IIIII-of-NNNNN/ (one video is
    /// one input). I is a number, or `auto`: the first set of
    /// PIXTAPE_SHARD_INDEX, SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX,
    /// AWS_BATCH_JOB_ARRAY_INDEX. A shard that finds its own complete run
    /// does nothing.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    #[command(flatten)]
    pub catalog: CatalogArgs,

    #[command(flatten)]
    pub playlist: PlaylistArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

impl VideoArgs {
    pub fn settings(&self) -> anyhow::Result<VideoSettings> {
        anyhow::ensure!(self.sample_rate > 0.0 && self.sample_rate <= 60.0, "--sample-rate must be within (0, 60]");
        anyhow::ensure!(self.min_scene >= 0.0 && self.min_scene.is_finite(), "--min-scene must be 0 or more");
        anyhow::ensure!(self.cut_threshold > 0.0, "--cut-threshold must be above 0");
        let cuts = CutSettings { adaptive: self.cut_threshold, min_scene: self.min_scene, ..CutSettings::default() };
        let sampling =
            Sampling { rate: self.sample_rate, cuts, keyframes: self.keyframes as usize, ..Sampling::default() };
        Ok(VideoSettings {
            inputs: self.inputs.clone(),
            out: self.out.clone(),
            sampling,
            limits: self.common.limits(),
            faces: self.common.faces(),
            face_gate: self.common.face_gate,
            report: self.report,
            shard: self.shard.as_deref().map(|s| Shard::parse(s, &|v| std::env::var(v).ok())).transpose()?,
            profile: None,
        })
    }
}

pub fn video(args: VideoArgs) -> anyhow::Result<ExitCode> {
    let (common, quiet) = (&args.common, args.common.quiet);
    let mut settings = args.settings()?;
    common.init_threads()?;
    let backend = common.backend()?;
    say(quiet, Some(&backend.report().notice));
    let (model, profile) = model(&backend, common, common.batch())?;
    let (profile, report) = profile.unzip();
    settings.profile = report.map(|r| r.sha256);
    let options = with_profile_weights(args.catalog.options()?, &args.catalog, profile.as_ref())?;
    let catalog = catalog::load(&options)?;
    say(quiet, Some(&progress::catalog_line(&catalog)));
    let mut recommender = Recommender::new(&backend, &catalog, args.playlist.mode(), args.playlist.settings()?)?;
    if let Some(p) = &profile {
        recommender = recommender.with_profile(p);
    }
    say(quiet, recommender.notice());
    let bar = progress::Bar::new(quiet);
    let summary = video::run(&settings, &model, &recommender, &bar)?;
    bar.finish();
    if summary.already_complete {
        say(quiet, Some(&format!("{} holds this shard's complete run: nothing to do", settings.out_dir().display())));
        return Ok(if summary.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    say(quiet, Some(&summary_line(&summary, &settings)));
    if let Some(r) = &summary.report {
        say(quiet, Some(&format!("wrote {}", r.display())));
    }
    Ok(if summary.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn summary_line(s: &VideoSummary, settings: &VideoSettings) -> String {
    let speed = s.read_seconds / s.wall_seconds.max(1e-9);
    let resumed = match s.resumed {
        0 => String::new(),
        n => format!(", {n} resumed"),
    };
    format!(
        "{} videos ({} failed{resumed}), {:.1} s of video in {} scenes, {} cues; {:.1} s ({speed:.1} s of video a \
         second, {:.0}% waiting on decode) -> {}",
        s.videos,
        s.failed,
        s.seconds,
        s.scenes,
        s.cues,
        s.wall_seconds,
        100.0 * s.decode_seconds / s.wall_seconds.max(1e-9),
        settings.out_dir().display()
    )
}
