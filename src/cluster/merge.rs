//! `pixtape merge`: the dataset-level view of a whole sharded run. After
//! `verify` finds the run whole, it writes `OUT/manifest.json` (totals, the
//! fingerprint, each shard's wall time and rate, and the rate of the run
//! as a whole, from its first start to its last finish) and then an empty
//! `OUT/_SUCCESS`, the marker Spark and Hadoop tools wait for. The shards'
//! tables stay where they are: each table of the run is one glob.

use std::path::Path;

use serde::Serialize;

use crate::atomic::write_atomic;
use crate::cluster::verify::{Report, verify};
use crate::error::{Error, Result};
use crate::run::output::MANIFEST_FILE;
use crate::run::shard::folder_name;

/// The marker written last.
pub const SUCCESS_FILE: &str = "_SUCCESS";

#[derive(Serialize)]
struct Merged {
    pixtape_version: &'static str,
    fingerprint: String,
    shards: u32,
    totals: Totals,
    /// From the first shard's start to the last shard's finish.
    span_seconds: f64,
    /// Images over the span: the run's rate as the cluster delivered it.
    images_per_second: f64,
    /// Sum of the shards' wall times: what the run cost.
    shard_seconds: f64,
    tables: Vec<(&'static str, String)>,
    per_shard: Vec<ShardInfo>,
}

#[derive(Serialize, Default)]
struct Totals {
    inputs: u64,
    images: u64,
    errors: u64,
    warnings: u64,
    recommendations: u64,
}

#[derive(Serialize)]
struct ShardInfo {
    index: u32,
    images: u64,
    wall_seconds: f64,
    images_per_second: f64,
    engine: String,
    started_at: String,
    finished_at: String,
}

/// Merges the run in `out`; fails, changing nothing, unless it is whole.
pub fn merge(out: &Path) -> Result<Report> {
    let report = verify(out)?;
    if !report.is_whole() {
        return Err(Error::input(out, "the run is not whole; `pixtape verify` says what is missing"));
    }
    let n = report.shards;
    let mut totals = Totals::default();
    let mut per_shard = Vec::new();
    let mut fingerprint = String::new();
    let (mut first, mut last) = (None::<std::time::SystemTime>, None::<std::time::SystemTime>);
    let mut tables =
        vec![("images", "shard-*/images.parquet".to_string()), ("errors", "shard-*/errors.parquet".into())];
    for i in 0..n {
        let path = out.join(folder_name(i, n)).join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let m: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::input(&path, e.to_string()))?;
        let c = |k: &str| match (k, m["command"].as_str()) {
            // A video run's inputs are videos: those read count as analysed.
            ("images", Some("video")) => {
                m["counts"]["videos"].as_u64().unwrap_or(0).saturating_sub(m["counts"]["failed"].as_u64().unwrap_or(0))
            }
            _ => m["counts"][k].as_u64().unwrap_or(0),
        };
        totals.inputs += c("inputs");
        totals.images += c("images");
        totals.errors += c("errors");
        totals.warnings += c("warnings");
        totals.recommendations += c("recommendations");
        fingerprint = m["fingerprint"].as_str().unwrap_or("").to_string();
        let time = |k: &str| m[k].as_str().and_then(|t| humantime::parse_rfc3339(t).ok());
        if let Some(t) = time("started_at") {
            first = Some(first.map_or(t, |f| f.min(t)));
        }
        if let Some(t) = time("finished_at") {
            last = Some(last.map_or(t, |l| l.max(t)));
        }
        if i == 0 && m["command"].as_str() == Some("video") {
            tables = ["scenes", "recommendations", "soundtrack", "errors"]
                .map(|t| (t, format!("shard-*/{t}.parquet")))
                .to_vec();
            tables.push(("cues", "shard-*/cues.csv".into()));
        } else if i == 0 {
            for table in ["recommendations", "features"] {
                if m["outputs"][table].is_string() {
                    tables.push((table, format!("shard-*/{table}.parquet")));
                }
            }
        }
        per_shard.push(ShardInfo {
            index: i,
            images: c("images"),
            wall_seconds: m["wall_seconds"].as_f64().unwrap_or(0.0),
            images_per_second: m["images_per_second"].as_f64().unwrap_or(0.0),
            engine: m["engine"].as_str().unwrap_or("").to_string(),
            started_at: m["started_at"].as_str().unwrap_or("").to_string(),
            finished_at: m["finished_at"].as_str().unwrap_or("").to_string(),
        });
    }
    // Timestamps are to the second: a span under one is one.
    let span = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).map_or(0.0, |d| d.as_secs_f64()).max(1.0),
        _ => 1.0,
    };
    let merged = Merged {
        pixtape_version: env!("CARGO_PKG_VERSION"),
        fingerprint,
        shards: n,
        images_per_second: totals.images as f64 / span,
        totals,
        span_seconds: span,
        shard_seconds: per_shard.iter().map(|s| s.wall_seconds).sum(),
        tables,
        per_shard,
    };
    let manifest = out.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&merged).map_err(|e| Error::output(&manifest, e))?;
    write_atomic(&manifest, &json)?;
    write_atomic(&out.join(SUCCESS_FILE), b"")?;
    Ok(report)
}
