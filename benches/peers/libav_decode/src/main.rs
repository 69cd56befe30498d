//! Decodes a video two ways, alternating, and prints the median wall and
//! CPU seconds of each: (a) the `ffmpeg` program as a child process with
//! the filter chain `pixtape video` uses (fps, area scale to a short side
//! of 256, RGB24 frames as PPM over a pipe); (b) the libav libraries
//! in-process through `ffmpeg-next` (frame-threaded decode of every frame,
//! the frame at or after each 1/rate tick kept and scaled with swscale's
//! area filter to the same size).
//!
//! Usage: libav-decode-bench VIDEO [RATE] [PAIRS]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Instant;

use ffmpeg_next as ffmpeg;
use ffmpeg::format::Pixel;
use ffmpeg::media::Type;
use ffmpeg::software::scaling::{Context as Scaler, Flags};
use ffmpeg::util::frame::video::Video;

const SHORT_SIDE: u32 = 256;

/// Frames decoded and a checksum of their bytes (so neither side's work
/// can be skipped), plus the frame size.
struct Decoded {
    frames: u64,
    sum: u64,
    size: (usize, usize),
}

fn cpu_seconds(who: libc_who::Who) -> f64 {
    libc_who::cpu_seconds(who)
}

fn child_process(path: &str, rate: f64) -> Decoded {
    let s = SHORT_SIDE;
    let filter = format!("fps={rate},scale=w='if(gte(iw,ih),-2,{s})':h='if(gte(iw,ih),{s},-2)':flags=area,format=rgb24");
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i", path])
        .args(["-map", "0:v:0", "-an", "-sn", "-dn", "-vf", &filter, "-f", "image2pipe", "-c:v", "ppm", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs");
    let mut out = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let mut d = Decoded { frames: 0, sum: 0, size: (0, 0) };
    let mut header = String::new();
    loop {
        if out.fill_buf().unwrap().is_empty() {
            break;
        }
        // "P6\n W H\n255\n": three lines.
        header.clear();
        for _ in 0..3 {
            out.read_line(&mut header).unwrap();
        }
        let f: Vec<usize> = header.split_whitespace().skip(1).map(|t| t.parse().unwrap()).collect();
        let mut rgb = vec![0u8; f[0] * f[1] * 3];
        out.read_exact(&mut rgb).unwrap();
        d.sum = rgb.iter().step_by(97).fold(d.sum, |a, &b| a.wrapping_add(b as u64));
        d.frames += 1;
        d.size = (f[0], f[1]);
    }
    assert!(child.wait().unwrap().success());
    d
}

fn in_process(path: &str, rate: f64) -> Decoded {
    let mut input = ffmpeg::format::input(&path).expect("the video opens");
    let stream = input.streams().best(Type::Video).expect("a video stream");
    let (index, base) = (stream.index(), f64::from(stream.time_base()));
    let mut ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters()).unwrap();
    let mut threading = ctx.threading();
    threading.kind = ffmpeg::codec::threading::Type::Frame;
    threading.count = 0; // as many as the cores, as the ffmpeg program does
    ctx.set_threading(threading);
    let mut decoder = ctx.decoder().video().unwrap();
    let (w, h) = (decoder.width(), decoder.height());
    let even = |x: u32| (x / 2).max(1) * 2;
    let (ow, oh) = if w >= h { (even(w * SHORT_SIDE / h), SHORT_SIDE) } else { (SHORT_SIDE, even(h * SHORT_SIDE / w)) };
    let mut scaler = Scaler::get(decoder.format(), w, h, Pixel::RGB24, ow, oh, Flags::AREA).unwrap();
    let mut d = Decoded { frames: 0, sum: 0, size: (ow as usize, oh as usize) };
    let (mut frame, mut rgb) = (Video::empty(), Video::empty());
    let mut next_tick = 0.0f64;
    let mut take = |decoder: &mut ffmpeg::decoder::Video, d: &mut Decoded| {
        while decoder.receive_frame(&mut frame).is_ok() {
            let t = frame.timestamp().unwrap_or(0) as f64 * base;
            if t + 1e-6 < next_tick {
                continue;
            }
            while next_tick <= t + 1e-6 {
                next_tick += 1.0 / rate;
            }
            scaler.run(&frame, &mut rgb).unwrap();
            let (stride, row) = (rgb.stride(0), ow as usize * 3);
            let data = rgb.data(0);
            let mut packed = Vec::with_capacity(row * oh as usize);
            for y in 0..oh as usize {
                packed.extend_from_slice(&data[y * stride..y * stride + row]);
            }
            d.sum = packed.iter().step_by(97).fold(d.sum, |a, &b| a.wrapping_add(b as u64));
            d.frames += 1;
        }
    };
    for (s, packet) in input.packets() {
        if s.index() == index {
            decoder.send_packet(&packet).unwrap();
            take(&mut decoder, &mut d);
        }
    }
    decoder.send_eof().unwrap();
    take(&mut decoder, &mut d);
    d
}

mod libc_who {
    #[derive(Clone, Copy)]
    pub enum Who {
        Children,
        Myself,
    }

    #[repr(C)]
    struct Timeval {
        sec: i64,
        usec: i64,
    }
    #[repr(C)]
    struct Rusage {
        utime: Timeval,
        stime: Timeval,
        rest: [i64; 14],
    }
    unsafe extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }

    /// User plus system seconds of this process or of its waited-for children.
    pub fn cpu_seconds(who: Who) -> f64 {
        let mut u = Rusage { utime: Timeval { sec: 0, usec: 0 }, stime: Timeval { sec: 0, usec: 0 }, rest: [0; 14] };
        let code = match who {
            Who::Myself => 0,
            Who::Children => -1,
        };
        // SAFETY: getrusage writes one struct rusage, which Rusage lays out.
        unsafe { getrusage(code, &mut u) };
        let t = |v: &Timeval| v.sec as f64 + v.usec as f64 * 1e-6;
        t(&u.utime) + t(&u.stime)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: libav-decode-bench VIDEO [RATE] [PAIRS]");
    let rate: f64 = args.get(2).map_or(4.0, |r| r.parse().unwrap());
    let pairs: usize = args.get(3).map_or(3, |p| p.parse().unwrap());
    ffmpeg::init().unwrap();
    ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    let (mut wall, mut cpu) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    for pair in 0..pairs {
        for side in 0..2 {
            let who = if side == 0 { libc_who::Who::Children } else { libc_who::Who::Myself };
            let (c0, t0) = (cpu_seconds(who), Instant::now());
            let d = if side == 0 { child_process(path, rate) } else { in_process(path, rate) };
            let (secs, used) = (t0.elapsed().as_secs_f64(), cpu_seconds(who) - c0);
            let name = ["ffmpeg child process", "libav in-process"][side];
            eprintln!(
                "pair {pair}: {name}: {} frames {}x{} (sum {}), {secs:.2} s wall, {used:.2} s CPU",
                d.frames, d.size.0, d.size.1, d.sum
            );
            wall[side].push(secs);
            cpu[side].push(used);
        }
    }
    let (w0, w1) = (median(wall[0].clone()), median(wall[1].clone()));
    let (c0, c1) = (median(cpu[0].clone()), median(cpu[1].clone()));
    println!("ffmpeg child process: {w0:.2} s wall, {c0:.2} s CPU (median of {pairs})");
    println!("libav in-process:     {w1:.2} s wall, {c1:.2} s CPU (median of {pairs})");
    println!("child process / in-process wall: {:.2}", w0 / w1);
}
