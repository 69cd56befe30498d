//! `--device` as a user meets it: the GPU path gives the same playlists as
//! the CPU path on the bundled default, and a machine without a Vulkan
//! driver runs on the CPU under `auto` and fails clearly under `gpu`.

mod common;

use std::process::{Command, Output};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type};

fn pixtape(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pixtape"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// (image_id, rank, track_id, score) of every pick of a run.
fn picks(dir: &std::path::Path) -> Vec<(String, u16, String, f32)> {
    let b = common::read_parquet(&dir.join("recommendations.parquet"));
    let ids = common::strings(&b, "image_id");
    let tracks = common::strings(&b, "track_id");
    let ranks = b.column_by_name("rank").unwrap().as_primitive::<UInt16Type>().values().to_vec();
    let scores = b.column_by_name("score").unwrap().as_primitive::<Float32Type>().values().to_vec();
    (0..b.num_rows()).map(|i| (ids[i].clone().unwrap(), ranks[i], tracks[i].clone().unwrap(), scores[i])).collect()
}

#[test]
fn gpu_and_cpu_give_the_same_playlists_for_the_bundled_default() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Batches of 3 on the GPU: four batches, two in flight at a time. The
    // GPU runs f32, so the CPU does too (its int8 path: tests/int8.rs).
    let run = |device: &str| {
        let out = dir.path().join(device);
        let args = ["recommend", "--device", device, "--precision", "f32", "--batch-size", "3", "--quiet", "--out"];
        let args = [&args[..], &[out.to_str().unwrap()]].concat();
        let o = pixtape(&args, &[]);
        assert_eq!(o.status.code(), Some(0), "{device}: {}", String::from_utf8_lossy(&o.stderr));
        let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
        assert!(manifest.contains(&format!("\"engine\": \"{device} (")), "{manifest}");
        assert!(manifest.contains("\"batch_size\": 3"), "{manifest}");
        picks(&out)
    };
    let (gpu, cpu) = (run("gpu"), run("cpu"));
    assert_eq!(gpu.len(), cpu.len());
    assert!(!cpu.is_empty());
    for (g, c) in gpu.iter().zip(&cpu) {
        assert_eq!((&g.0, g.1, &g.2), (&c.0, c.1, &c.2), "a pick differs between --device gpu and cpu");
        assert!((g.3 - c.3).abs() <= 1e-5, "{}: score {} vs {}", g.0, g.3, c.3);
    }
}

/// Points the Vulkan loader at a driver list that does not exist: what a
/// machine without any Vulkan driver looks like to wgpu.
const NO_DRIVER: [(&str, &str); 3] = [
    ("WGPU_BACKEND", "vulkan"),
    ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
    ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
];

#[test]
fn without_a_driver_auto_runs_on_the_cpu_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = pixtape(&["analyze", "--out", out.to_str().unwrap()], &NO_DRIVER);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let notices: Vec<&str> = stderr.lines().filter(|l| l.contains("running on the CPU")).collect();
    assert_eq!(notices.len(), 1, "one notice line expected:\n{stderr}");
    assert!(notices[0].contains("no GPU adapter found"), "{stderr}");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"engine\": \"cpu (") && manifest.contains("\"requested\": \"auto\""), "{manifest}");
}

#[test]
fn without_a_driver_gpu_fails_with_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let o = pixtape(&["analyze", "--device", "gpu", "--out", dir.path().join("run").to_str().unwrap()], &NO_DRIVER);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no GPU adapter found") && stderr.contains("mesa-vulkan-drivers"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn cpu_never_looks_for_an_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = pixtape(&["analyze", "--device", "cpu", "--out", out.to_str().unwrap()], &NO_DRIVER);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("running on the CPU, as asked"));
}

/// Mesa's driver probe prints `XDG_RUNTIME_DIR is invalid or not set` on a
/// machine without a desktop session; pixtape's default path stays quiet.
#[test]
fn the_driver_probe_is_quiet_without_a_desktop_session() {
    let o = Command::new(env!("CARGO_BIN_EXE_pixtape"))
        .args(["inspect", "assets/photos/coffee.jpg"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}
