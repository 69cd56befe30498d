//! One video in, its scenes with their moods out: the decode, scene and
//! keyframe stages joined over one stream of sampled frames. A scene is
//! analysed as soon as its cut is certain, and its frames are dropped, so
//! at most one scene's reservoir (and the detector's few frames) is held.

use std::path::Path;

use crate::error::{Failure, Stage};
use crate::video::decode::{self, FrameStream, Probe};
use crate::video::keyframes::{FrameAnalyser, Reservoir, SceneMood};
use crate::video::scenes::{self, Cut, CutSettings, Detector, Scene};

/// How a video is sampled and cut.
#[derive(Clone, Copy, Debug)]
pub struct Sampling {
    /// Frames a second taken from the video.
    pub rate: f64,
    /// Short side of the frames FFmpeg hands over, in pixels: the model's
    /// resize (256) needs no more.
    pub short_side: u32,
    pub cuts: CutSettings,
    /// Keyframes analysed per scene.
    pub keyframes: usize,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { rate: 4.0, short_side: 256, cuts: CutSettings::default(), keyframes: 3 }
    }
}

/// A read video: its scenes, each with its mood.
pub struct Film {
    pub id: String,
    pub path: String,
    pub probe: Probe,
    /// Seconds the video runs (the probe's, or the sampled frames' span).
    pub duration: f64,
    pub scenes: Vec<(Scene, SceneMood)>,
    /// Something odd but harmless FFmpeg said while decoding.
    pub warning: Option<String>,
    /// Seconds spent waiting for FFmpeg's frames.
    pub decode_seconds: f64,
}

impl Film {
    /// The id of scene `i`'s playlist in `recommendations.parquet`.
    pub fn image_id(&self, i: usize) -> String {
        format!("{}#{i:03}", self.id)
    }
}

/// Reads the video at `path`.
pub fn read(path: &Path, id: &str, s: &Sampling, analyser: &mut FrameAnalyser<'_, '_>) -> Result<Film, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| Failure::new(Stage::Read, e.to_string()))?;
    if meta.is_dir() {
        return Err(Failure::new(Stage::Read, "is a directory, not a file"));
    }
    if meta.len() == 0 {
        return Err(Failure::new(Stage::Read, "empty file (0 bytes)"));
    }
    let probe = decode::probe(path)?;
    let mut stream = FrameStream::open(path, s.rate, s.short_side)?;
    let mut detector = Detector::new(s.cuts, s.rate);
    let mut reservoir = Reservoir::new(0);
    let mut cuts: Vec<Cut> = Vec::new();
    let mut moods: Vec<SceneMood> = Vec::new();
    let mut frames = 0u64;
    let mut decode_seconds = 0.0;
    loop {
        let t = std::time::Instant::now();
        let next = stream.next_frame()?;
        decode_seconds += t.elapsed().as_secs_f64();
        let Some(frame) = next else { break };
        frames += 1;
        let found = detector.push(&frame);
        reservoir.push(frame);
        for cut in found {
            let next = reservoir.split(cut.frame);
            moods.push(analyser.scene(&reservoir.keyframes(s.keyframes))?);
            reservoir = next;
            cuts.push(cut);
        }
    }
    let warning = stream.finish()?;
    if frames == 0 {
        return Err(Failure::new(Stage::Decode, "ffmpeg decoded no frames"));
    }
    for cut in detector.finish() {
        let next = reservoir.split(cut.frame);
        moods.push(analyser.scene(&reservoir.keyframes(s.keyframes))?);
        reservoir = next;
        cuts.push(cut);
    }
    moods.push(analyser.scene(&reservoir.keyframes(s.keyframes))?);
    let sampled = frames as f64 / s.rate;
    let last_cut = cuts.last().map_or(0.0, |c| c.frame as f64 / s.rate);
    // The container's duration when it is sound; a file that claims less
    // than its frames show (or nothing) is measured by its frames.
    let duration = if probe.duration > last_cut { probe.duration } else { sampled };
    let scenes = scenes::scenes(&cuts, s.rate, duration, probe.fps);
    Ok(Film {
        id: id.to_string(),
        path: path.to_string_lossy().into_owned(),
        probe,
        duration,
        scenes: scenes.into_iter().zip(moods).collect(),
        warning,
        decode_seconds,
    })
}
