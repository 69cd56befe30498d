//! Helpers the benches share: a median over repeated calls, the line each
//! bench prints in the units the README quotes, and the tests' seeded
//! generator for their inputs.
#![allow(dead_code)]

#[path = "../../tests/common/rng.rs"]
mod rng;
pub use rng::Rng;

/// Median seconds per call of `f` over `reps` calls, after one warm-up.
pub fn median_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let start = std::time::Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// `name batch B: X unit/s, Y GFLOP/s[, Z% of peak] (median)`, where
/// `PIXTAPE_PEAK_GFLOPS` gives the device's FP32 peak.
pub fn report(name: &str, unit: &str, batch: usize, secs: f64, flop_per_item: f64) {
    let gflops = flop_per_item * batch as f64 / secs / 1e9;
    let peak = std::env::var("PIXTAPE_PEAK_GFLOPS").ok().and_then(|p| p.parse::<f64>().ok());
    let of_peak = peak.map_or(String::new(), |p| format!(", {:.1}% of {p:.0} GFLOP/s peak", 100.0 * gflops / p));
    eprintln!("{name} batch {batch}: {:.1} {unit}/s, {gflops:.1} GFLOP/s{of_peak} (median)", batch as f64 / secs);
}
