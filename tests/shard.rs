//! Shards and `verify`: which inputs a shard owns, where it writes, reruns
//! of complete shards, and every way `verify` must find a run not whole (a
//! missing shard, a shard of another catalog, a duplicated input, a
//! half-written or corrupt part).

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{photos_dir, read_parquet, strings};
use pixtape::catalog::{self, CatalogOptions};
use pixtape::cluster::verify::verify;
use pixtape::engine::backend::{Backend, Model};
use pixtape::engine::mood::MoodMode;
use pixtape::recommend::Recommender;
use pixtape::recommend::playlist::PlaylistSettings;
use pixtape::run::shard::{Shard, array_ranges, folder_name, shard_of};
use pixtape::run::{self, AnalyzeSettings, Silent};

#[test]
fn shard_specs_take_the_index_from_the_first_variable_set_and_never_the_count() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    };
    let none = env(&[]);
    assert_eq!(Shard::parse("3/8", &none).unwrap(), Shard { index: 3, count: 8, index_from: "--shard".into() });
    let slurm = env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_COUNT", "1"), ("JOB_COMPLETION_INDEX", "2")]);
    let s = Shard::parse("auto/8", &slurm).unwrap();
    assert_eq!((s.index, s.count, s.index_from.as_str()), (5, 8, "SLURM_ARRAY_TASK_ID"));
    let k8s = env(&[("JOB_COMPLETION_INDEX", "2"), ("PIXTAPE_SHARD_INDEX", "")]);
    assert_eq!(Shard::parse("auto/4", &k8s).unwrap().index_from, "JOB_COMPLETION_INDEX");
    for (spec, words) in [
        ("8/8", "not below the count"),
        ("x/8", "not a shard index"),
        ("3", "not I/N"),
        ("3/0", "not a shard count"),
        ("auto/8", "needs one of PIXTAPE_SHARD_INDEX"),
    ] {
        let e = Shard::parse(spec, &none).unwrap_err().to_string();
        assert!(e.contains(words), "{spec}: {e}");
    }
    assert_eq!(array_ranges(&[0, 1, 2, 3, 7, 9, 10, 11, 12]), "0-3,7,9-12");
    // Ownership is a function of the id alone.
    assert_eq!(shard_of("a/b.jpg", 64), shard_of("a/b.jpg", 64));
    let owners: Vec<u32> = (0..200).map(|i| shard_of(&format!("img{i}.jpg"), 4)).collect();
    assert!((0..4).all(|s| owners.contains(&s)), "every shard gets inputs: {owners:?}");
}

fn settings(out: &Path, shard: Option<(u32, u32)>) -> AnalyzeSettings {
    let mut s = AnalyzeSettings::new(photos_dir(), out);
    s.shard = shard.map(|(index, count)| Shard { index, count, index_from: "--shard".into() });
    s
}

/// image_id -> mood vector of a run's images table.
fn moods(dir: &Path) -> HashMap<String, Vec<f32>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float32Type;
    let b = read_parquet(&dir.join("images.parquet"));
    let lists = b.column_by_name("mood_vector").unwrap().as_list::<i32>().clone();
    strings(&b, "image_id")
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id.unwrap(), lists.value(i).as_primitive::<Float32Type>().values().to_vec()))
        .collect()
}

fn run_shards(model: &Model, out: &Path, n: u32) {
    for i in 0..n {
        let s = run::analyze(&settings(out, Some((i, n))), model, &Silent).unwrap();
        assert!(!s.already_complete);
        assert_eq!(s.out, out.join(folder_name(i, n)));
    }
}

#[test]
fn shards_together_hold_every_input_once_and_equal_a_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    let single = dir.path().join("single");
    run::analyze(&settings(&single, None), &model, &Silent).unwrap();
    let out = dir.path().join("sharded");
    run_shards(&model, &out, 3);
    let report = verify(&out).unwrap();
    assert!(report.is_whole(), "{report:?}");
    let want = moods(&single);
    assert_eq!(report.inputs, want.len() as u64);
    let mut got = HashMap::new();
    for i in 0..3 {
        got.extend(moods(&out.join(folder_name(i, 3))));
    }
    assert_eq!(got, want, "the shards' rows are the single run's");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(folder_name(1, 3)).join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["shard"]["index_from"], "--shard");
    assert_eq!(m["input"]["listed"].as_u64(), Some(want.len() as u64));
    // An unsharded run verifies as one shard.
    assert!(verify(&single).unwrap().is_whole());

    // Rerunning a complete shard does nothing; other settings are refused.
    let again = run::analyze(&settings(&out, Some((1, 3))), &model, &Silent).unwrap();
    assert!(again.already_complete);
    let mut other = settings(&out, Some((1, 3)));
    other.features = true;
    let e = run::analyze(&other, &model, &Silent).unwrap_err().to_string();
    assert!(e.contains("another fingerprint"), "{e}");
    assert!(verify(&out).unwrap().is_whole(), "the refused rerun touched nothing");
}

#[test]
fn verify_finds_a_missing_shard_and_names_it_for_sbatch() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    let out = dir.path().join("run");
    run_shards(&model, &out, 4);
    std::fs::remove_dir_all(out.join(folder_name(1, 4))).unwrap();
    std::fs::remove_file(out.join(folder_name(2, 4)).join("manifest.json")).unwrap();
    let report = verify(&out).unwrap();
    assert_eq!(report.missing, [1, 2]);
    assert_eq!(report.missing_array(), "1-2");
    assert!(!report.is_whole());
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pixtape"))
        .args(["verify", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("--array=1-2"), "{stdout}");
}

#[test]
fn verify_finds_a_shard_made_with_another_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    let out = dir.path().join("run");
    let demo = CatalogOptions::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/catalog/demo_catalog.csv"));
    let synth = dir.path().join("other.csv");
    catalog::synth::write(&synth, 300, 3).unwrap();
    let recommend = |i: u32, path: &Path| {
        let cat = catalog::load(&CatalogOptions::new(path)).unwrap();
        let r = Recommender::new(&backend, &cat, MoodMode::Match, PlaylistSettings::default()).unwrap();
        run::run(&settings(&out, Some((i, 2))), &model, Some(&r), &Silent).unwrap();
    };
    // The same catalog, from another path: the same fingerprint.
    let copy = dir.path().join("copy.csv");
    std::fs::copy(&demo.path, &copy).unwrap();
    recommend(0, &demo.path);
    recommend(1, &copy);
    let report = verify(&out).unwrap();
    assert!(report.is_whole(), "{report:?}");
    std::fs::remove_dir_all(out.join(folder_name(1, 2))).unwrap();
    recommend(1, &synth);
    let report = verify(&out).unwrap();
    assert!(report.missing.is_empty());
    assert!(report.problems.iter().any(|p| p.contains("fingerprints differ")), "{report:?}");
}

#[test]
fn verify_finds_duplicated_inputs_and_half_written_or_corrupt_parts() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    let out = dir.path().join("run");
    run_shards(&model, &out, 2);
    let (a, b) = (out.join(folder_name(0, 2)), out.join(folder_name(1, 2)));
    // Shard 0's images again in shard 1's table: duplicated inputs.
    std::fs::copy(a.join("images.parquet"), b.join("images.parquet")).unwrap();
    let report = verify(&out).unwrap();
    assert!(report.problems.iter().any(|p| p.contains("appears more than once")), "{report:?}");
    assert!(report.problems.iter().any(|p| p.contains("belongs to shard 0")), "{report:?}");

    run_shards_again(&model, &out);
    // A part left half-written by a killed run, and a truncated table.
    std::fs::write(a.join(".images.parquet.partial"), b"PAR1").unwrap();
    let bytes = std::fs::read(b.join("images.parquet")).unwrap();
    std::fs::write(b.join("images.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    let report = verify(&out).unwrap();
    assert!(report.problems.iter().any(|p| p.contains("half-written")), "{report:?}");
    assert!(report.problems.iter().any(|p| p.contains("cannot be read")), "{report:?}");

    // A shard killed mid-part: committed parts, one half-written, no manifest.
    run_shards_again(&model, &out);
    let mut s = settings(&out, Some((1, 2)));
    s.part_inputs = 2;
    std::fs::remove_dir_all(&b).unwrap();
    run::analyze(&s, &model, &Silent).unwrap();
    std::fs::remove_file(b.join("manifest.json")).unwrap();
    std::fs::create_dir_all(b.join("_parts")).unwrap();
    let journal = serde_json::json!({"pixtape_version": "x", "fingerprint": "f", "recommendations": false,
        "features": false, "parts": [{"index": 0, "first": 0, "end": 2, "ids_sha256": "00",
        "counts": {"inputs": 2, "images": 2, "errors": 0, "warnings": 0, "recommendations": 0, "features": 0}}]});
    std::fs::write(b.join("_parts/journal.json"), journal.to_string()).unwrap();
    std::fs::write(b.join("_parts/.images-00001.parquet.partial"), b"PAR1\0\0").unwrap();
    let report = verify(&out).unwrap();
    assert_eq!(report.missing, [1]);
    assert!(report.problems.iter().any(|p| p.contains("half-written part")), "{report:?}");
    assert!(report.problems.iter().any(|p| p.contains("interrupted with 2 inputs in 1 committed parts")), "{report:?}");
}

/// Redoes a run from scratch in `out` (2 shards).
fn run_shards_again(model: &Model, out: &Path) {
    std::fs::remove_dir_all(out).unwrap();
    run_shards(model, out, 2);
    assert!(verify(out).unwrap().is_whole());
}

/// The contract a Kubernetes Indexed Job (or a Slurm array) relies on, run
/// by hand: each process gets only its index in the environment. This
/// covers pixtape's side of the contract, not the engines themselves.
#[test]
fn indexed_job_contract_then_verify_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let pixtape = |env: &[(&str, &str)], args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pixtape"));
        c.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
        for v in pixtape::run::shard::INDEX_VARIABLES {
            c.env_remove(v);
        }
        c.envs(env.iter().copied());
        c.output().unwrap()
    };
    let run = ["analyze", "--device", "cpu", "-q", "--shard", "auto/3", "--out", out.to_str().unwrap()];
    for i in ["0", "2"] {
        let o = pixtape(&[("JOB_COMPLETION_INDEX", i)], &run);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // Merging an incomplete run is refused and writes nothing.
    let o = pixtape(&[], &["merge", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.join("_SUCCESS").exists() && !out.join("manifest.json").exists());
    // Slurm rerunning one index says the array has one task: the count is
    // still the one --shard gives.
    let o = pixtape(&[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "1")], &run);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(folder_name(1, 3)).join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["shard"]["index_from"], "SLURM_ARRAY_TASK_ID");
    assert_eq!(m["shard"]["count"], 3);
    // A retried pod of a complete shard does nothing.
    let o = pixtape(
        &[("JOB_COMPLETION_INDEX", "2")],
        &["analyze", "--device", "cpu", "--shard", "auto/3", "--out", out.to_str().unwrap()],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to do"));
    let o = pixtape(&[], &["verify", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let o = pixtape(&[], &["merge", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("_SUCCESS").exists());
    let merged: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(merged["shards"], 3);
    assert_eq!(merged["per_shard"].as_array().unwrap().len(), 3);
    let images: u64 =
        (0..3).map(|i| read_parquet(&out.join(folder_name(i, 3)).join("images.parquet")).num_rows() as u64).sum();
    assert_eq!(merged["totals"]["images"].as_u64(), Some(images));
    // The run still verifies with its dataset-level manifest beside the shards.
    assert!(verify(&out).unwrap().is_whole());
}

#[test]
fn deployment_files_agree_with_themselves() {
    let job =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/pixtape-indexed-job.yaml")).unwrap();
    let completions: u32 = job.lines().find_map(|l| l.trim().strip_prefix("completions: ")).unwrap().parse().unwrap();
    assert!(job.contains("completionMode: Indexed") && job.contains("backoffLimitPerIndex"));
    assert!(job.contains(&format!("--shard=auto/{completions}")), "completions and --shard disagree");
    let sbatch =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/pixtape-array.sbatch")).unwrap();
    let array = sbatch.lines().find_map(|l| l.strip_prefix("#SBATCH --array=0-")).unwrap();
    let last: u32 = array.split('%').next().unwrap().parse().unwrap();
    assert!(sbatch.contains(&format!("SHARDS=${{SHARDS:-{}}}", last + 1)), "array size and SHARDS disagree");
}

#[test]
fn a_folder_being_written_is_locked_and_a_dead_runs_lock_is_taken_over() {
    use pixtape::run::output::{LOCK_FILE, OutputLock};
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::cpu();
    let model = backend.model(Some(4)).unwrap();
    let out = dir.path().join("run");
    std::fs::create_dir_all(&out).unwrap();
    // A live holder (this very process) on this host: refused, lock named.
    let held = OutputLock::acquire(&out).unwrap();
    let e = run::analyze(&settings(&out, None), &model, &Silent).unwrap_err().to_string();
    assert!(e.contains(LOCK_FILE) && e.contains("another pixtape run"), "{e}");
    assert!(!out.join("manifest.json").exists());
    drop(held);
    assert!(!out.join(LOCK_FILE).exists(), "the lock goes with its holder");
    // A killed run's lock (no such process here) is stale: taken over.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if !host.trim().is_empty() {
        let text = format!("pid={}\nhost={}\nsince=2026-01-01T00:00:00Z\n", u32::MAX - 7, host.trim());
        std::fs::write(out.join(LOCK_FILE), text).unwrap();
        run::analyze(&settings(&out, None), &model, &Silent).unwrap();
        assert!(out.join("manifest.json").exists() && !out.join(LOCK_FILE).exists());
    }
    // Another host's lock cannot be checked from here: refused, with advice.
    std::fs::write(out.join(LOCK_FILE), "pid=12\nhost=elsewhere-node-7\nsince=2026-01-01T00:00:00Z\n").unwrap();
    let e = run::analyze(&settings(&out, None), &model, &Silent).unwrap_err().to_string();
    assert!(e.contains("elsewhere-node-7") && e.contains("remove the lock file"), "{e}");
    assert!(out.join("manifest.json").exists(), "the refused run removed nothing");
}
