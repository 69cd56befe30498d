//! How a case is timed: one warm-up run, then as many as the scale's budget
//! allows; on a GPU with timestamp queries, the device's own time. A
//! figure keeps every run's seconds and reports the median and the spread.

use std::time::Instant;

use super::{DEVICE, Figure, HOST, Scale};
use crate::engine::gpu::Gpu;
use crate::error::Result;

/// `runs` for a call on `gpu` (or on the CPU, for `None`): where the
/// adapter has timestamp queries, each run's seconds are the time its
/// compute passes took on the device, summed, and the timing is `DEVICE`;
/// otherwise host wall time.
pub(super) fn device_runs(
    scale: Scale,
    gpu: Option<&Gpu>,
    mut f: impl FnMut() -> Result<()>,
) -> Result<(Vec<f64>, &'static str)> {
    let Some(gpu) = gpu.filter(|g| g.has_timestamps()) else { return Ok((runs(scale, f)?, HOST)) };
    let mut device = Vec::new();
    let host = runs(scale, || {
        gpu.start_timing();
        let result = f();
        device.push(gpu.stop_timing()?);
        result
    })?;
    // The first timing window was the warm-up's.
    let timed: Option<Vec<f64>> = device.into_iter().skip(1).collect();
    Ok(match timed {
        Some(t) if t.iter().all(|&s| s > 0.0) => (t, DEVICE),
        _ => (host, HOST),
    })
}

/// Runs `f` once to warm up, then as often as the scale's budget allows
/// (2 to 10 times; once for a smoke test); returns each run's seconds.
pub(super) fn runs(scale: Scale, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    let t = Instant::now();
    f()?;
    let first = t.elapsed().as_secs_f64().max(1e-6);
    let n = match scale {
        Scale::Smoke => 1,
        Scale::Quick => ((3.0 / first) as usize).clamp(2, 10),
        Scale::Full => ((20.0 / first) as usize).clamp(2, 10),
    };
    let mut secs = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        secs.push(t.elapsed().as_secs_f64());
    }
    Ok(secs)
}

/// `f`, timed as `timing` says.
pub(super) fn timed(timing: &'static str, mut f: Figure) -> Figure {
    f.timing = timing;
    f
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn figure(
    stage: &'static str,
    case: String,
    device: &'static str,
    unit: &'static str,
    items: f64,
    secs: Vec<f64>,
    flop_per_run: Option<f64>,
    bytes_per_run: Option<f64>,
) -> Figure {
    let m = median(&secs);
    let (fast, slow) = secs.iter().fold((f64::MAX, 0.0f64), |(a, b), &s| (a.min(s), b.max(s)));
    Figure {
        stage,
        case,
        device,
        unit,
        items,
        rate: items / m,
        rate_min: items / slow,
        rate_max: items / fast,
        gflops: flop_per_run.map(|f| f / m / 1e9),
        gbytes_per_s: bytes_per_run.map(|b| b / m / 1e9),
        peak_fraction: None,
        runs_seconds: secs,
        timing: HOST,
    }
}
