//! A real Slurm array, end to end, on a single-node cluster that the test
//! starts itself: `munged`, `slurmctld` and `slurmd` with a generated
//! `slurm.conf` (no systemd, no accounting). Eight shards run as
//! `sbatch --array=0-7%2`; shard 3 fails once through the test-only fault
//! switch (`PIXTAPE_TEST_FAULT`) after committing its first part. Slurm does
//! not retry it, so the test does what an operator does: `pixtape verify`
//! names the missing index, it is resubmitted, and `verify` and `merge`
//! then pass. The merged run must equal a single-process run row for row.
//!
//! Needs root and Slurm (`slurmctld slurmd slurm-client munge`, which
//! `.ci/run` installs). Without them the test says it is skipped, unless
//! `PIXTAPE_REQUIRE_SLURM=1` (set by CI) makes that a failure.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use common::{read_parquet, strings};
use pixtape::run::shard::folder_name;

const SHARDS: u32 = 8;
const FAILING: u32 = 3;

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// The cluster's daemons, stopped when the test ends however it ends.
struct Cluster {
    conf: PathBuf,
    daemons: Vec<Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let host = String::from_utf8(Command::new("hostname").arg("-s").output().unwrap().stdout).unwrap();
        let host = host.trim();
        let node = String::from_utf8(Command::new("slurmd").arg("-C").output().unwrap().stdout).unwrap();
        let node = node.lines().next().expect("slurmd -C describes this node");
        for d in ["state", "spool", "log"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let p = |s: &str| dir.join(s).display().to_string();
        let conf = dir.join("slurm.conf");
        let text = format!(
            "ClusterName=pixtape-test\nSlurmctldHost={host}\nSlurmctldPort={}\nSlurmdPort={}\n\
             SlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\nCredType=cred/munge\n\
             ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSchedulerType=sched/builtin\n\
             SchedulerParameters=sched_interval=1\nSelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
             StateSaveLocation={}\nSlurmdSpoolDir={}\nSlurmctldPidFile={}\nSlurmdPidFile={}\n\
             SlurmctldLogFile={}\nSlurmdLogFile={}\nReturnToService=2\nMpiDefault=none\n\
             JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
             JobCompType=jobcomp/none\nMinJobAge=600\n{node} State=UNKNOWN\n\
             PartitionName=ci Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            free_port(),
            free_port(),
            p("state"),
            p("spool"),
            p("slurmctld.pid"),
            p("slurmd.pid"),
            p("log/slurmctld.log"),
            p("log/slurmd.log"),
        );
        std::fs::write(&conf, text).unwrap();
        start_munge();
        let daemon = |name: &str| {
            Command::new(name)
                .args(["-D", "-f"])
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let mut cluster = Cluster { conf: conf.clone(), daemons: Vec::new() };
        cluster.daemons.push(daemon("slurmctld"));
        cluster.daemons.push(daemon("slurmd"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let o = cluster.tool("sinfo").args(["-h", "-o", "%t"]).output().unwrap();
            let state = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if o.status.success() && state == "idle" {
                break;
            }
            assert!(Instant::now() < deadline, "the node never became idle (state {state:?}); see {}", p("log"));
            std::thread::sleep(Duration::from_millis(300));
        }
        cluster
    }

    fn tool(&self, name: &str) -> Command {
        let mut c = Command::new(name);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Submits `script` as an array over `indices`; waits for every task.
    fn run_array(&self, script: &Path, indices: &str, logs: &Path) {
        let o = self
            .tool("sbatch")
            .args(["--parsable", "--cpus-per-task=1", &format!("--array={indices}")])
            .arg(format!("--output={}/task-%A-%a.log", logs.display()))
            .arg(script)
            .output()
            .unwrap();
        assert!(o.status.success(), "sbatch: {}", String::from_utf8_lossy(&o.stderr));
        let job = String::from_utf8(o.stdout).unwrap().trim().to_string();
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let o = self.tool("squeue").args(["-h", "-j", &job]).output().unwrap();
            if o.status.success() && o.stdout.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            assert!(Instant::now() < deadline, "array {job} did not finish: {}", String::from_utf8_lossy(&o.stdout));
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Starts munged unless one already answers.
fn start_munge() {
    let works = || Command::new("sh").args(["-c", "munge -n | unmunge"]).output().is_ok_and(|o| o.status.success());
    if works() {
        return;
    }
    std::fs::create_dir_all("/run/munge").unwrap();
    let _ = Command::new("chown").args(["munge:munge", "/run/munge"]).status();
    let o = Command::new("runuser").args(["-u", "munge", "--", "munged"]).output().unwrap();
    assert!(o.status.success(), "munged: {}", String::from_utf8_lossy(&o.stderr));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !works() {
        assert!(Instant::now() < deadline, "munged does not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pixtape() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pixtape"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("PIXTAPE_TEST_FAULT");
    for v in pixtape::run::shard::INDEX_VARIABLES {
        c.env_remove(v);
    }
    c
}

/// Rows of `batch` keyed by the named columns (text, or `rank`).
fn keyed(batch: &RecordBatch, keys: &[&str]) -> BTreeMap<Vec<String>, RecordBatch> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt16Type;
    let cols: Vec<Vec<String>> = keys
        .iter()
        .map(|&k| match k {
            "rank" => {
                batch.column_by_name(k).unwrap().as_primitive::<UInt16Type>().iter().map(|v| format!("{v:?}")).collect()
            }
            _ => strings(batch, k).into_iter().map(|v| v.unwrap_or_default()).collect(),
        })
        .collect();
    (0..batch.num_rows()).map(|i| (cols.iter().map(|c| c[i].clone()).collect(), batch.slice(i, 1))).collect()
}

#[test]
fn a_slurm_array_with_a_failed_task_resubmitted_equals_a_single_run() {
    let required = std::env::var("PIXTAPE_REQUIRE_SLURM").is_ok_and(|v| v == "1");
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let tools = ["sbatch", "squeue", "sinfo", "slurmctld", "slurmd", "munged"].iter().all(|t| have(t));
    if !(root && tools) {
        assert!(!required, "PIXTAPE_REQUIRE_SLURM=1, but Slurm and munge are not installed or this is not root");
        eprintln!("skipped: needs root and slurmctld, slurmd, slurm-client and munge");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cluster = Cluster::start(&d.join("slurm"));

    // Inputs: generated photos, one corrupt file, a generated catalog.
    let images = d.join("photos");
    let o = pixtape().args(["photos", "synth", "--count", "48", "--size", "160x120", "--out"]).arg(&images).output();
    assert!(o.unwrap().status.success());
    std::fs::write(images.join("photo-broken.jpg"), b"\xff\xd8 not really").unwrap();
    let catalog = d.join("catalog.csv");
    let o = pixtape().args(["catalog", "synth", "--tracks", "3000", "--out"]).arg(&catalog).output();
    assert!(o.unwrap().status.success());
    let out = d.join("run");
    let logs = d.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let marker = d.join("shard-3-failed-once");
    let script = d.join("pixtape-shard.sbatch");
    std::fs::write(
        &script,
        format!(
            "#!/bin/bash\n# One pixtape shard per array task; the index comes from SLURM_ARRAY_TASK_ID.\n\
             export PIXTAPE_TEST_FAULT='fail-once:{FAILING}:{}'\n\
             exec '{}' recommend --device cpu -q --threads 1 --images '{}' --catalog '{}' --out '{}' \\\n  \
             --shard auto/{SHARDS} --part-size 2\n",
            marker.display(),
            env!("CARGO_BIN_EXE_pixtape"),
            images.display(),
            catalog.display(),
            out.display()
        ),
    )
    .unwrap();

    cluster.run_array(&script, &format!("0-{}%2", SHARDS - 1), &logs);
    assert!(marker.exists(), "shard {FAILING} was to fail once");
    let o = pixtape().arg("verify").arg(&out).output().unwrap();
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{said}");
    let line = said.lines().find_map(|l| l.split("--array=").nth(1)).unwrap_or_else(|| panic!("{said}"));
    let missing = line.split_whitespace().next().unwrap();
    assert_eq!(missing, FAILING.to_string(), "{said}");

    // What an operator does: resubmit what verify names.
    cluster.run_array(&script, missing, &logs);
    let o = pixtape().arg("verify").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let o = pixtape().arg("merge").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("_SUCCESS").exists());
    let shard3: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(folder_name(FAILING, SHARDS)).join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(shard3["shard"]["index_from"], "SLURM_ARRAY_TASK_ID");
    assert_eq!(shard3["resumed"]["inputs"], 2, "the resubmitted task resumed from its committed part");

    // The same job in one process, row for row.
    let single = d.join("single");
    let o = pixtape()
        .args(["recommend", "--device", "cpu", "-q", "--images"])
        .arg(&images)
        .arg("--catalog")
        .arg(&catalog)
        .arg("--out")
        .arg(&single)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "one input is corrupt: {}", String::from_utf8_lossy(&o.stderr));
    for (table, keys) in [
        ("images.parquet", &["image_id"][..]),
        ("recommendations.parquet", &["image_id", "rank"][..]),
        ("errors.parquet", &["path", "stage"][..]),
    ] {
        let want = keyed(&read_parquet(&single.join(table)), keys);
        let mut got = BTreeMap::new();
        for i in 0..SHARDS {
            for (k, row) in keyed(&read_parquet(&out.join(folder_name(i, SHARDS)).join(table)), keys) {
                assert!(got.insert(k.clone(), row).is_none(), "{table}: {k:?} twice");
            }
        }
        assert_eq!(got.len(), want.len(), "{table}: row counts");
        for (k, row) in &want {
            assert_eq!(got.get(k), Some(row), "{table}: row {k:?}");
        }
    }
    drop(cluster);
}
