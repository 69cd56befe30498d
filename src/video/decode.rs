//! Video decode stage: FFmpeg's own programs as child processes. `ffprobe`
//! says what the file holds; `ffmpeg` samples frames at a fixed rate,
//! scales them down itself and streams them over a pipe, one at a time, so
//! a 4K film is never held at full size and memory stays flat however long
//! it runs.
//!
//! Child processes rather than the libav libraries through a crate: the
//! programs are what every system already has (no libav headers or
//! matching library versions at build time), a codec that crashes takes
//! down its process and not the run, and the pipe costs little beside the
//! decode itself (see the README's `pixtape video` figures).
//!
//! Frames come as PPM images (`-f image2pipe -c:v ppm`): each carries its
//! own size, so a rotated phone video, whose frames FFmpeg turns upright,
//! needs no size worked out in advance.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use crate::error::{Error, Failure, Result, Stage};

/// What FFmpeg must be for a video run; named in the error when it is missing.
pub const INSTALL_HINT: &str = "pixtape video needs FFmpeg's `ffmpeg` and `ffprobe` programs on the PATH: install \
                                FFmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg; \
                                Windows: winget install ffmpeg)";

/// Stderr kept per child: enough for FFmpeg's reasons, bounded for a file
/// that logs an error on every frame.
const STDERR_KEEP: usize = 4096;

/// What `ffprobe` says of a file's first video stream.
#[derive(Clone, Debug)]
pub struct Probe {
    /// Seconds, from the stream or else the container (0 when neither says).
    pub duration: f64,
    /// The stream's frame rate (frames a second), for frame numbers and
    /// timecodes; 25 when the file does not say.
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    pub codec: String,
}

/// Checks that both programs run, before any input is read: their absence
/// stops the run with what to install rather than failing every video.
pub fn check_tools() -> Result<()> {
    for tool in ["ffmpeg", "ffprobe"] {
        match Command::new(tool).arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(s) if s.success() => {}
            Ok(s) => return Err(Error::Config(format!("`{tool} -version` failed ({s}). {INSTALL_HINT}"))),
            Err(e) => return Err(Error::Config(format!("cannot run `{tool}` ({e}). {INSTALL_HINT}"))),
        }
    }
    Ok(())
}

/// Probes `path`'s first video stream.
pub fn probe(path: &Path) -> Result<Probe, Failure> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg("stream=width,height,r_frame_rate,avg_frame_rate,duration,codec_name:format=duration")
        .args(["-of", "json"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure::new(Stage::Read, format!("cannot run ffprobe: {e}. {INSTALL_HINT}")))?;
    let stderr = tail(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(Failure::new(Stage::Decode, format!("ffprobe: {}", or_status(&stderr, out.status))));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Failure::new(Stage::Decode, format!("ffprobe gave no readable answer: {e}")))?;
    let Some(stream) = json["streams"].get(0) else {
        return Err(Failure::new(Stage::Decode, "no video stream"));
    };
    let number = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<f64>().ok()).filter(|x| x.is_finite());
    let rate = |v: &serde_json::Value| {
        let s = v.as_str()?;
        let (n, d) = s.split_once('/').unwrap_or((s, "1"));
        let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
        (n > 0.0 && d > 0.0).then(|| n / d).filter(|r| *r < 1000.0)
    };
    let fps = rate(&stream["avg_frame_rate"]).or_else(|| rate(&stream["r_frame_rate"])).unwrap_or(25.0);
    let duration = number(&stream["duration"]).or_else(|| number(&json["format"]["duration"])).unwrap_or(0.0);
    Ok(Probe {
        duration: duration.max(0.0),
        fps,
        width: stream["width"].as_u64().unwrap_or(0) as u32,
        height: stream["height"].as_u64().unwrap_or(0) as u32,
        codec: stream["codec_name"].as_str().unwrap_or("?").to_string(),
    })
}

/// One sampled frame: upright RGB8, its short side `short_side` pixels.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Its place among the sampled frames, from 0.
    pub index: u64,
    /// Seconds from the start: `index / rate`.
    pub time: f64,
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

/// A running `ffmpeg` streaming sampled frames.
pub struct FrameStream {
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    rate: f64,
    next: u64,
}

impl FrameStream {
    /// Starts decoding `path` at `rate` frames a second, each scaled in
    /// FFmpeg so that its short side is `short_side` pixels.
    pub fn open(path: &Path, rate: f64, short_side: u32) -> Result<FrameStream, Failure> {
        // Short side to `short_side`, long side to keep the aspect (even,
        // as some scalers want); `area` averages when it shrinks, as a
        // photo's resize does.
        let s = short_side;
        let filter =
            format!("fps={rate},scale=w='if(gte(iw,ih),-2,{s})':h='if(gte(iw,ih),{s},-2)':flags=area,format=rgb24");
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-an", "-sn", "-dn", "-vf", &filter, "-f", "image2pipe", "-c:v", "ppm", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Failure::new(Stage::Read, format!("cannot run ffmpeg: {e}. {INSTALL_HINT}")))?;
        let (Some(stdout), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::new(Stage::Read, "ffmpeg started without its pipes"));
        };
        // Stderr is drained on its own thread: a child that fills the pipe
        // with messages would otherwise block before its next frame.
        let stderr = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * STDERR_KEEP {
                    kept.drain(..kept.len() - STDERR_KEEP);
                }
            }
            String::from_utf8_lossy(&kept).into_owned()
        });
        Ok(FrameStream {
            child,
            stdout: BufReader::with_capacity(1 << 20, stdout),
            stderr: Some(stderr),
            rate,
            next: 0,
        })
    }

    /// The next frame, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, Failure> {
        let bad = |what: &str| Failure::new(Stage::Decode, format!("ffmpeg's frame stream: {what}"));
        if self.stdout.fill_buf().map_err(|e| bad(&e.to_string()))?.is_empty() {
            return Ok(None);
        }
        let mut fields = [0usize; 4];
        for (i, field) in fields.iter_mut().enumerate() {
            let token = self.token().map_err(|e| bad(&e))?;
            *field = match i {
                0 if token == "P6" => 0,
                0 => return Err(bad(&format!("expected a PPM frame, found {token:?}"))),
                _ => token.parse().map_err(|_| bad(&format!("bad PPM header field {token:?}")))?,
            };
        }
        let [_, width, height, max] = fields;
        if max != 255 || width == 0 || height == 0 || width * height > 1 << 26 {
            return Err(bad(&format!("unexpected frame {width}x{height}, max {max}")));
        }
        let mut rgb = vec![0u8; width * height * 3];
        self.stdout.read_exact(&mut rgb).map_err(|e| bad(&format!("frame cut short: {e}")))?;
        let index = self.next;
        self.next += 1;
        Ok(Some(Frame { index, time: index as f64 / self.rate, width, height, rgb }))
    }

    /// One whitespace-separated PPM header token; the single whitespace
    /// byte after the last one (before the pixels) is consumed with it.
    fn token(&mut self) -> std::result::Result<String, String> {
        let mut token = String::new();
        let mut byte = [0u8; 1];
        loop {
            self.stdout.read_exact(&mut byte).map_err(|e| format!("header cut short: {e}"))?;
            match byte[0] {
                b if b.is_ascii_whitespace() && token.is_empty() => continue,
                b if b.is_ascii_whitespace() => return Ok(token),
                b if token.len() < 16 => token.push(b as char),
                _ => return Err("header token too long".into()),
            }
        }
    }

    /// Waits for ffmpeg. A failed exit is an error; messages on a
    /// successful one (damaged packets it decoded around) are returned as a
    /// warning.
    pub fn finish(mut self) -> Result<Option<String>, Failure> {
        self.stop(false)
    }

    fn stop(&mut self, kill: bool) -> Result<Option<String>, Failure> {
        if kill {
            let _ = self.child.kill();
        }
        let status = self.child.wait().map_err(|e| Failure::new(Stage::Decode, format!("ffmpeg: {e}")))?;
        let stderr = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
        let stderr = tail(&stderr);
        match status.success() {
            true => Ok((!stderr.is_empty()).then(|| format!("ffmpeg: {stderr}"))),
            false => Err(Failure::new(Stage::Decode, format!("ffmpeg: {}", or_status(&stderr, status)))),
        }
    }
}

impl Drop for FrameStream {
    /// A stream dropped early (the run failed, or the video did) stops its
    /// child rather than leave it decoding into a closed pipe.
    fn drop(&mut self) {
        if self.stderr.is_some() {
            let _ = self.stop(true);
        }
    }
}

/// The last lines of a child's stderr, on one line, without the memory
/// addresses FFmpeg names its components by (`[mov,mp4 @ 0x55…]`): they
/// change from run to run, and the errors table should not.
fn tail(stderr: &str) -> String {
    let lines: Vec<String> = stderr.lines().map(|l| without_addresses(l.trim())).filter(|l| !l.is_empty()).collect();
    let keep = &lines[lines.len().saturating_sub(3)..];
    let mut s = keep.join("; ");
    if s.len() > 600 {
        let cut = (0..=600).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// `line` with each ` @ 0x…` (a hexadecimal address) taken out.
fn without_addresses(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(" @ 0x") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 5..];
        rest = after.trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    out
}

fn or_status(stderr: &str, status: std::process::ExitStatus) -> String {
    if stderr.is_empty() { format!("failed ({status})") } else { stderr.to_string() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_are_taken_out_of_ffmpeg_messages() {
        let line = "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x555db66cbbc0] moov atom not found";
        assert_eq!(super::without_addresses(line), "[mov,mp4,m4a,3gp,3g2,mj2] moov atom not found");
        assert_eq!(super::tail("a @ 0xff b\n\n[x @ 0x1]\n"), "a b; [x]");
    }
}
