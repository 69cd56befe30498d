//! Scene stage: sampled frames in, cuts out, as PySceneDetect finds them.
//!
//! * **Hard cuts**: the content score of a frame is the mean absolute
//!   change of hue, saturation and value from the frame before (OpenCV's
//!   8-bit HSV: hue 0..180, the others 0..255), averaged over the three, as
//!   PySceneDetect's ContentDetector scores it. A fixed threshold on it
//!   fires on every fast pan; so, as its AdaptiveDetector does, a frame cuts
//!   when its score is at least `min_content` and at least `adaptive` times
//!   the mean score of the `window` frames on each side. A still or slow
//!   shot has near-zero neighbours, a pan has high ones.
//! * **Fades**: a frame is dark when its mean intensity (the mean of R, G
//!   and B, 0..255) is under `fade_level`, as ThresholdDetector's is. A dark
//!   stretch between two lit ones is a fade, cut in its middle. Sampled at a
//!   few frames a second, a quick fade's black frame is rarely sampled, so
//!   a dip (a frame under `DIP_RATIO` of the brightest frames around it)
//!   is a fade too. Content cuts inside a fade or at its edges (the steps
//!   of a quick fade) are dropped.
//! * **Flashes**: a change undone within `window` frames (a flash, a
//!   frame of something else) is not a cut.
//! * **Minimum length**: a cut closer than `min_scene` seconds to the one
//!   before is dropped, so a flash does not make a scene; a clip shorter
//!   than that is one scene.
//!
//! The detector streams: it keeps the scores of a few frames, and reports
//! each cut `window` frames after it, once the frames that judge it are in.

use std::collections::VecDeque;

use crate::video::decode::Frame;

/// How scenes are cut; the defaults are PySceneDetect's for its adaptive
/// and threshold detectors, with the minimum length in seconds (its 15
/// frames at 25 fps are 0.6 s; at 4 sampled frames a second a scene of one
/// second holds 4).
#[derive(Clone, Copy, Debug)]
pub struct CutSettings {
    pub adaptive: f32,
    pub min_content: f32,
    pub window: usize,
    pub fade_level: f32,
    pub min_scene: f64,
}

impl Default for CutSettings {
    fn default() -> Self {
        CutSettings { adaptive: 3.0, min_content: 15.0, window: 2, fade_level: 12.0, min_scene: 1.0 }
    }
}

/// Why a scene starts where it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutKind {
    Start,
    Hard,
    Fade,
}

impl CutKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CutKind::Start => "start",
            CutKind::Hard => "cut",
            CutKind::Fade => "fade",
        }
    }
}

/// A cut: the first sampled frame of the new scene.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cut {
    pub frame: u64,
    pub kind: CutKind,
}

/// A dip's frame is under this share of the brightest frame on each side.
const DIP_RATIO: f32 = 0.35;
/// Frames before a dip that it is compared with.
const DIP_BEFORE: usize = 4;

/// Intensities this close to the darkest frame's tie with it.
const DARKEST_TIE: f32 = 0.5;

/// A stretch of dark frames: its first frame, its lowest mean intensity
/// and the first and last frames that reach it.
#[derive(Clone, Copy, Debug)]
struct Dark {
    first: u64,
    min: f32,
    at: (u64, u64),
}

/// The streaming detector.
pub struct Detector {
    s: CutSettings,
    rate: f64,
    /// HSV of the last `window + 2` frames, oldest first: the frame being
    /// judged, the one before it and the ones after.
    hsv: VecDeque<(u64, Vec<u8>)>,
    /// (frame, content score) of frames not yet judged, and the `window`
    /// judged ones before them.
    scores: VecDeque<(u64, f32)>,
    /// The dark stretch under way, if any.
    dark: Option<Dark>,
    /// (frame, mean intensity) of the last frames, for dips.
    levels: VecDeque<(u64, f32)>,
    /// Whether any lit frame came before: a video that opens in black has
    /// no fade to cut.
    lit_before: bool,
    /// Dark stretches seen (first, last frame), to drop content cuts there.
    dark_spans: VecDeque<(u64, u64)>,
    /// Content cuts waiting until no fade can still claim them.
    pending: VecDeque<Cut>,
    last_cut: u64,
    frames: u64,
    /// The last frame of the latest flash: changes up to it are no cuts.
    flash_until: u64,
}

impl Detector {
    pub fn new(s: CutSettings, rate: f64) -> Detector {
        Detector {
            s,
            rate,
            hsv: VecDeque::new(),
            scores: VecDeque::new(),
            dark: None,
            lit_before: false,
            levels: VecDeque::new(),
            dark_spans: VecDeque::new(),
            pending: VecDeque::new(),
            last_cut: 0,
            frames: 0,
            flash_until: 0,
        }
    }

    /// Takes the next frame; returns the cuts now certain, in order.
    pub fn push(&mut self, frame: &Frame) -> Vec<Cut> {
        let mut found = Vec::new();
        let mut hsv = match self.hsv.len() > self.s.window + 1 {
            true => self.hsv.pop_front().map(|(_, v)| v).unwrap_or_default(),
            false => Vec::new(),
        };
        to_hsv(&frame.rgb, &mut hsv);
        let score = match self.hsv.back() {
            Some((_, prev)) if prev.len() == hsv.len() => content_score(prev, &hsv),
            _ => 0.0,
        };
        self.hsv.push_back((frame.index, hsv));
        self.frames = frame.index + 1;
        if frame.index > 0 {
            self.scores.push_back((frame.index, score));
        }
        // Fades: the frame after a dark stretch closes it, and the cut
        // goes to the middle of its darkest frames (the black between a
        // fade out and a fade in).
        let level = mean_intensity(&frame.rgb);
        let dark = level < self.s.fade_level;
        match (dark, self.dark.as_mut()) {
            (true, None) => self.dark = Some(Dark { first: frame.index, min: level, at: (frame.index, frame.index) }),
            (true, Some(d)) if level < d.min - DARKEST_TIE => {
                (d.min, d.at) = (level, (frame.index, frame.index));
            }
            (true, Some(d)) if level <= d.min + DARKEST_TIE => d.at.1 = frame.index,
            (false, Some(d)) => {
                let d = *d;
                self.dark = None;
                if self.lit_before {
                    self.dark_spans.push_back((d.first, frame.index - 1));
                    self.pending.push_back(Cut { frame: (d.at.0 + d.at.1).div_ceil(2), kind: CutKind::Fade });
                }
            }
            _ => {}
        }
        if !dark {
            self.lit_before = true;
        }
        self.levels.push_back((frame.index, level));
        if self.levels.len() > DIP_BEFORE + self.s.window + 1 {
            self.levels.pop_front();
        }
        self.judge_dip();
        // Hard cuts: judge the frame `window` back, now that its right
        // neighbours are in.
        let w = self.s.window;
        if self.scores.len() > w {
            let at = self.scores.len() - 1 - w;
            let (f, score) = self.scores[at];
            let neighbours: Vec<f32> =
                self.scores.iter().enumerate().filter(|&(i, _)| i != at).map(|(_, &(_, s))| s).collect();
            let mean = neighbours.iter().sum::<f32>() / neighbours.len().max(1) as f32;
            // Near-still neighbours would make any ratio infinite: as
            // PySceneDetect does, a flat neighbourhood passes outright.
            let ratio = if mean > 1e-3 { score / mean } else { f32::INFINITY };
            if score >= self.s.min_content && ratio >= self.s.adaptive && f > self.flash_until {
                match self.flash(f, score) {
                    Some(back) => self.flash_until = back,
                    None => self.pending.push_back(Cut { frame: f, kind: CutKind::Hard }),
                }
            }
            if at >= w {
                self.scores.pop_front();
            }
        }
        self.settle(Some(frame.index), &mut found);
        found
    }

    /// A dip: the frame `window` back is darker than its neighbours and
    /// under `DIP_RATIO` of the brightest frame on each side. At a few
    /// frames a second a quick fade's black frame is rarely the one
    /// sampled, so the dip, not the level, tells the fade; it is cut there.
    fn judge_dip(&mut self) {
        let w = self.s.window;
        if self.levels.len() < DIP_BEFORE + w + 1 || self.dark.is_some() {
            return;
        }
        let at = self.levels.len() - 1 - w;
        let (f, level) = self.levels[at];
        let before = self.levels.range(..at).map(|l| l.1).fold(0.0, f32::max);
        let after = self.levels.range(at + 1..).map(|l| l.1).fold(0.0, f32::max);
        let local = level < self.levels[at - 1].1 && level <= self.levels[at + 1].1;
        let in_dark = self.dark_spans.iter().any(|&(a, b)| f + 1 >= a && f <= b + 1);
        if local && !in_dark && level < DIP_RATIO * before && level < DIP_RATIO * after {
            self.dark_spans.push_back((f.saturating_sub(1), f + 1));
            self.pending.push_back(Cut { frame: f, kind: CutKind::Fade });
        }
    }

    /// Whether the change at frame `f` (of content score `score`) is a
    /// flash: a frame after it is back near the one before it, `adaptive`
    /// times closer than the jump was (as PySceneDetect's flash filter
    /// suppresses), so the shot never changed.
    /// Returns the frame that is back, whose own jump is no cut either.
    fn flash(&self, f: u64, score: f32) -> Option<u64> {
        let (_, before) = self.hsv.iter().find(|(i, _)| *i + 1 == f)?;
        let back =
            self.hsv.iter().filter(|(i, _)| *i > f).find(|(_, after)| {
                after.len() == before.len() && content_score(before, after) * self.s.adaptive < score
            });
        back.map(|(i, _)| *i)
    }

    /// The cuts still held back at the end of the stream.
    pub fn finish(&mut self) -> Vec<Cut> {
        let mut found = Vec::new();
        self.settle(None, &mut found);
        found
    }

    /// Releases the pending cuts no later frame can change: a content cut
    /// waits while a dark stretch is under way, since the fade's own cut
    /// replaces the steps into and out of it.
    fn settle(&mut self, now: Option<u64>, found: &mut Vec<Cut>) {
        let mut pending: Vec<Cut> = self.pending.drain(..).collect();
        pending.sort_by_key(|c| c.frame);
        let slack = self.s.window as u64 + 1;
        let mut held = Vec::new();
        for cut in pending {
            let in_fade = |&(a, b): &(u64, u64)| cut.frame + slack >= a && cut.frame <= b + slack + 1;
            if cut.kind == CutKind::Hard && self.dark_spans.iter().any(in_fade) {
                continue;
            }
            let open_dark = self.dark.is_some_and(|d| cut.frame + slack >= d.first);
            let young = now.is_some_and(|n| cut.kind == CutKind::Hard && n < cut.frame + slack + 1);
            if now.is_some() && (open_dark || young) {
                held.push(cut);
                continue;
            }
            let min_frames = (self.s.min_scene * self.rate).round() as u64;
            if cut.frame < self.last_cut + min_frames.max(1) {
                continue;
            }
            self.last_cut = cut.frame;
            found.push(cut);
        }
        self.pending.extend(held);
        // Spans far behind can no longer touch a pending cut.
        let horizon = self.frames.saturating_sub(4 * slack + 4);
        while self.dark_spans.front().is_some_and(|&(_, b)| b + slack + 1 < horizon) {
            self.dark_spans.pop_front();
        }
    }
}

/// RGB8 to OpenCV's 8-bit HSV (H 0..180, S and V 0..255), as PySceneDetect
/// reads frames.
pub fn to_hsv(rgb: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(rgb.len());
    for p in rgb.chunks_exact(3) {
        let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
        let v = r.max(g).max(b);
        let d = v - r.min(g).min(b);
        let s = if v == 0 { 0 } else { (255 * d + v / 2) / v };
        let h = if d == 0 {
            0.0
        } else if v == r {
            60.0 * (g - b) as f32 / d as f32
        } else if v == g {
            120.0 + 60.0 * (b - r) as f32 / d as f32
        } else {
            240.0 + 60.0 * (r - g) as f32 / d as f32
        };
        let h = if h < 0.0 { h + 360.0 } else { h };
        out.extend_from_slice(&[((h / 2.0).round() as i32 % 180) as u8, s as u8, v as u8]);
    }
}

/// Mean absolute change of H, S and V, averaged over the three channels.
pub fn content_score(a: &[u8], b: &[u8]) -> f32 {
    let mut sum = [0u64; 3];
    for (x, y) in a.chunks_exact(3).zip(b.chunks_exact(3)) {
        for c in 0..3 {
            sum[c] += x[c].abs_diff(y[c]) as u64;
        }
    }
    let n = (a.len() / 3).max(1) as f64;
    (sum.iter().map(|&s| s as f64 / n).sum::<f64>() / 3.0) as f32
}

/// Mean of all channels of all pixels, 0..255.
pub fn mean_intensity(rgb: &[u8]) -> f32 {
    let sum: u64 = rgb.iter().map(|&v| v as u64).sum();
    sum as f32 / rgb.len().max(1) as f32
}

/// One scene of a video.
#[derive(Clone, Debug)]
pub struct Scene {
    pub index: usize,
    pub start_s: f64,
    pub end_s: f64,
    /// Frame numbers of the source (at its own rate), first and last.
    pub start_frame: u64,
    pub end_frame: u64,
    /// How the scene begins.
    pub cut: CutKind,
}

/// The scenes between `cuts` (ascending, after frame 0, before `duration`
/// seconds) of a video of source rate `fps`, sampled at `rate`: one more
/// than the cuts.
pub fn scenes(cuts: &[Cut], rate: f64, duration: f64, fps: f64) -> Vec<Scene> {
    let mut starts = vec![(0.0, CutKind::Start)];
    starts.extend(cuts.iter().map(|c| (c.frame as f64 / rate, c.kind)));
    let frame_at = |t: f64| (t * fps + 1e-6).floor() as u64;
    (0..starts.len())
        .map(|i| {
            let (start_s, cut) = starts[i];
            let end_s = starts.get(i + 1).map_or(duration, |s| s.0);
            let start_frame = frame_at(start_s);
            let end_frame = frame_at(end_s).saturating_sub(1).max(start_frame);
            Scene { index: i, start_s, end_s, start_frame, end_frame, cut }
        })
        .collect()
}

/// `HH:MM:SS.mmm`, the timecode of `scenes.parquet` and the CSV cue sheet.
pub fn timecode(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// `HH:MM:SS:FF` at `fps` rounded to whole frames, non-drop-frame, as a
/// CMX3600 EDL writes it (29.97 counts as 30).
pub fn smpte(seconds: f64, fps: f64) -> String {
    let base = fps.round().max(1.0) as u64;
    let frames = (seconds.max(0.0) * base as f64).round() as u64;
    let (s, ff) = (frames / base, frames % base);
    format!("{:02}:{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60, ff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_follows_opencv() {
        let mut out = Vec::new();
        to_hsv(&[255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128, 255, 128, 0], &mut out);
        assert_eq!(out, [0, 255, 255, 60, 255, 255, 120, 255, 255, 0, 0, 128, 15, 255, 255]);
    }

    #[test]
    fn timecodes() {
        assert_eq!(timecode(3725.5), "01:02:05.500");
        assert_eq!(smpte(4.48, 25.0), "00:00:04:12");
        assert_eq!(smpte(61.0, 29.97), "00:01:01:00");
    }

    #[test]
    fn scenes_span_the_video() {
        let cuts = [Cut { frame: 16, kind: CutKind::Hard }, Cut { frame: 32, kind: CutKind::Fade }];
        let s = scenes(&cuts, 4.0, 12.0, 25.0);
        assert_eq!(s.len(), 3);
        assert_eq!((s[1].start_s, s[1].end_s, s[1].start_frame, s[1].end_frame), (4.0, 8.0, 100, 199));
        assert_eq!((s[2].end_s, s[2].end_frame, s[2].cut), (12.0, 299, CutKind::Fade));
    }
}
