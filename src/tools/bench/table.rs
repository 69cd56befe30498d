//! The bench report as a table for a person: CPU and GPU side by side,
//! and the GPU/CPU ratio.

use super::{BenchReport, DEVICE, Figure};

/// The report as a table for a person: CPU and GPU side by side, and the
/// GPU/CPU ratio.
pub fn table(r: &BenchReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(s, "pixtape {} bench ({})", r.pixtape_version, r.mode);
    let _ = writeln!(s, "CPU: {} ({} cores, {})", m.cpu_model, m.cores, m.simd);
    match (&r.adapter, &r.gpu_missing) {
        (Some(a), _) => {
            let _ = writeln!(
                s,
                "GPU: {} ({}, {}; driver {} {}; max binding {} MiB)",
                a.name,
                a.backend,
                a.device_type,
                a.driver,
                a.driver_info,
                a.max_storage_buffer_binding_size >> 20
            );
        }
        (None, Some(why)) => {
            let _ = writeln!(s, "GPU: not measured ({why})");
        }
        _ => {}
    }
    let _ = writeln!(s, "medians of the runs after a warm-up; [slowest-fastest]; GPU shares of the peak measured here");
    if r.figures.iter().any(|f| f.timing == DEVICE) {
        let _ = writeln!(s, "*: the GPU passes' own time, from timestamp queries (others: host wall time to results)");
    }
    let _ = writeln!(s, "{:<11} {:<50} {:>34} {:>34} {:>8}", "stage", "case", "CPU", "GPU", "GPU/CPU");
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for f in &r.figures {
        if seen.contains(&(f.stage, f.case.as_str())) {
            continue;
        }
        seen.push((f.stage, &f.case));
        let find = |d: &str| r.figures.iter().find(|g| g.stage == f.stage && g.case == f.case && g.device == d);
        let cell = |g: Option<&Figure>| match g {
            None => "-".to_string(),
            Some(g) => {
                let mut extra = match (g.gflops, g.gbytes_per_s) {
                    _ if g.stage == "peak" => String::new(),
                    (Some(fl), Some(b)) => format!(" {fl:.0} GFLOP/s {b:.1} GB/s"),
                    (Some(fl), None) => format!(" {fl:.0} GFLOP/s"),
                    _ => String::new(),
                };
                if let Some(p) = g.peak_fraction {
                    extra.push_str(&format!(" ({:.1}% of peak)", 100.0 * p));
                }
                let mark = if g.timing == DEVICE { "*" } else { "" };
                format!("{}{mark} {}/s{extra} [{}-{}]", num(g.rate), g.unit, num(g.rate_min), num(g.rate_max))
            }
        };
        let (c, g) = (find("cpu"), find("gpu"));
        let ratio = match (c, g) {
            (Some(c), Some(g)) => format!("{:.2}", g.rate / c.rate),
            _ => "-".into(),
        };
        let _ = writeln!(s, "{:<11} {:<50} {:>34} {:>34} {:>8}", f.stage, f.case, cell(c), cell(g), ratio);
    }
    s
}

/// A rate as people read one: 3 significant figures, no exponent.
fn num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}
