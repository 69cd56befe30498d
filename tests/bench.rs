//! `pixtape bench`: every stage runs and is reported, in the table and the
//! JSON. CI runs `--smoke` on every device (lavapipe included) and
//! `--quick` on the CPU; the figures themselves are not asserted (speed is
//! measured, not tested), only that they are there and make sense.

use std::process::Command;

use pixtape::engine::isa::Isa;

fn bench(args: &[&str], json: &std::path::Path) -> (String, serde_json::Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_pixtape"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg(json)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{table}\n{}", String::from_utf8_lossy(&o.stderr));
    (table, serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap())
}

fn check(table: &str, report: &serde_json::Value, devices: &[&str], mode: &str) {
    assert_eq!(report["mode"], mode);
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(!report["machine"]["cpu_model"].as_str().unwrap().is_empty());
    let figures = report["figures"].as_array().unwrap();
    for stage in ["decode", "model", "mood head", "similarity", "parquet", "catalog", "end to end"] {
        assert!(table.lines().any(|l| l.starts_with(stage)), "no {stage} row in\n{table}");
        assert!(figures.iter().any(|f| f["stage"] == stage), "no {stage} figure");
    }
    // The CPU model at each precision it runs fast here.
    let cases: Vec<&str> = figures
        .iter()
        .filter(|f| f["stage"] == "model" && f["device"] == "cpu")
        .filter_map(|f| f["case"].as_str())
        .collect();
    assert!(cases.iter().any(|c| c.ends_with(", f32")), "{cases:?}");
    assert_eq!(
        cases.iter().any(|c| c.ends_with(", int8")),
        pixtape::engine::model::quant::runs_on(Isa::Avx512),
        "{cases:?}"
    );
    for place in ["place a", "load its index"] {
        assert!(figures.iter().any(|f| f["stage"] == "catalog" && f["case"].as_str().unwrap().starts_with(place)));
    }
    for d in devices {
        for stage in ["model", "similarity", "end to end"] {
            assert!(figures.iter().any(|f| f["stage"] == stage && f["device"] == *d), "no {stage} figure on {d}");
        }
    }
    for f in figures {
        let runs = f["runs_seconds"].as_array().unwrap();
        assert!(!runs.is_empty() && runs.iter().all(|s| s.as_f64().unwrap() > 0.0), "{f}");
        let (lo, mid, hi) =
            (f["rate_min"].as_f64().unwrap(), f["rate"].as_f64().unwrap(), f["rate_max"].as_f64().unwrap());
        assert!(lo > 0.0 && lo <= mid * (1.0 + 1e-9) && mid <= hi * (1.0 + 1e-9), "{f}");
        if f["stage"] == "similarity" {
            assert!(f["gflops"].as_f64().unwrap() > 0.0 && f["gbytes_per_s"].as_f64().unwrap() > 0.0, "{f}");
        }
    }
    // The CPU and end-to-end figures are host time; the GPU's passes are
    // timed on the device wherever the adapter has timestamp queries.
    let stamps = report["adapter"]["timestamp_queries"].as_bool() == Some(true);
    for f in figures {
        let on_device = f["device"] == "gpu" && ["peak", "model", "similarity"].contains(&f["stage"].as_str().unwrap());
        let want = if on_device && stamps { "gpu timestamps" } else { "host wall time" };
        assert_eq!(f["timing"], want, "{f}");
    }
    if devices.contains(&"gpu") {
        assert!(report["adapter"]["name"].is_string(), "the adapter is named");
        assert!(table.contains("GPU: ") && table.contains("GPU/CPU"));
    }
}

#[test]
fn smoke_bench_runs_every_stage_on_every_device() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("smoke.json");
    let gpu = std::env::var("PIXTAPE_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let (table, report) = bench(&["--smoke", "--device", if gpu { "all" } else { "cpu" }], &json);
    check(&table, &report, if gpu { &["cpu", "gpu"] } else { &["cpu"] }, "smoke");
    // Once per case: one run after the warm-up.
    assert!(report["figures"].as_array().unwrap().iter().all(|f| f["runs_seconds"].as_array().unwrap().len() == 1));
}

#[test]
fn quick_bench_on_the_cpu_takes_several_runs_a_case() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("quick.json");
    let (table, report) = bench(&["--quick", "--device", "cpu"], &json);
    check(&table, &report, &["cpu"], "quick");
    assert!(report["figures"].as_array().unwrap().iter().all(|f| f["runs_seconds"].as_array().unwrap().len() >= 2));
    assert!(report["adapter"].is_null());
}
