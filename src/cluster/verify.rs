//! `pixtape verify`: whether a sharded run (or a single run) is whole, and
//! what to rerun when it is not. It reads only what the run wrote: each
//! shard's manifest and tables.
//!
//! A run is whole when every shard folder `shard-IIIII-of-NNNNN` from 0 to
//! N − 1 has its manifest; all fingerprints agree (same inputs, catalog,
//! settings, model, version); no half-written file is left; every table
//! reads and holds the rows its manifest counts; each input appears exactly
//! once across the shards, in the shard its id hashes to; and the shards'
//! inputs add up to the listing every shard saw.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::run::output::{
    ERRORS_FILE, IMAGES_FILE, Journal, MANIFEST_FILE, PARTS_DIR, RECOMMENDATIONS_FILE, SCENES_FILE, SOUNDTRACK_FILE,
    VIDEO_JOURNAL_FILE,
};
use crate::run::shard::{self, array_ranges, folder_name, parse_folder_name};

/// What `verify` found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Shards the run has (1 for an unsharded run).
    pub shards: u32,
    /// Indices without a complete manifest, ascending.
    pub missing: Vec<u32>,
    /// Everything else that is wrong, one sentence each.
    pub problems: Vec<String>,
    /// Inputs found across the complete shards.
    pub inputs: u64,
    pub images: u64,
    pub errors: u64,
}

impl Report {
    pub fn is_whole(&self) -> bool {
        self.missing.is_empty() && self.problems.is_empty()
    }

    /// The missing indices as `sbatch --array=` takes them.
    pub fn missing_array(&self) -> String {
        array_ranges(&self.missing)
    }
}

/// Checks the run in `out`.
pub fn verify(out: &Path) -> Result<Report> {
    let mut folders: BTreeMap<u32, u32> = BTreeMap::new(); // index -> count
    let mut counts_seen: Vec<u32> = Vec::new();
    let entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io(out, e))?;
        if let Some((i, n)) = e.file_name().to_str().and_then(parse_folder_name) {
            folders.insert(i, n);
            if !counts_seen.contains(&n) {
                counts_seen.push(n);
            }
        }
    }
    let mut report = Report::default();
    if folders.is_empty() {
        // An unsharded run: the folder itself.
        report.shards = 1;
        let mut ids = HashMap::new();
        match check_shard(out, None, &mut ids, &mut report)? {
            Some(_) => {}
            None => report.missing.push(0),
        }
        return Ok(report);
    }
    counts_seen.sort();
    if counts_seen.len() > 1 {
        report.problems.push(format!(
            "shard folders of different counts ({}): parts of different runs share this folder",
            counts_seen.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    let n = *counts_seen.last().unwrap_or(&1);
    report.shards = n;
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut fingerprints: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut listed: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for i in 0..n {
        let dir = out.join(folder_name(i, n));
        if !dir.is_dir() {
            report.missing.push(i);
            continue;
        }
        match check_shard(&dir, Some((i, n)), &mut ids, &mut report)? {
            Some(m) => {
                fingerprints.entry(m.fingerprint).or_default().push(i);
                listed.entry(m.listed).or_default().push(i);
            }
            None => report.missing.push(i),
        }
    }
    if fingerprints.len() > 1 {
        let groups: Vec<String> = fingerprints
            .iter()
            .map(|(f, s)| format!("{} in shards {}", &f[..f.len().min(12)], array_ranges(s)))
            .collect();
        report.problems.push(format!(
            "the shards' fingerprints differ ({}): they ran on different inputs, catalogs, settings, models or \
             versions",
            groups.join("; ")
        ));
    }
    if report.missing.is_empty()
        && listed.len() == 1
        && let Some((&total, _)) = listed.iter().next()
        && total != report.inputs
    {
        report.problems.push(format!(
            "the shards hold {} inputs between them, but the listing they saw has {total}",
            report.inputs
        ));
    }
    Ok(report)
}

struct ShardManifest {
    fingerprint: String,
    listed: u64,
}

/// Checks one shard folder (or an unsharded run); `None` when it has no
/// manifest, i.e. is not complete.
fn check_shard(
    dir: &Path,
    shard: Option<(u32, u32)>,
    ids: &mut HashMap<String, u32>,
    report: &mut Report,
) -> Result<Option<ShardManifest>> {
    let name = dir.display().to_string();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let file = e.map_err(|e| Error::io(dir, e))?.file_name().to_string_lossy().into_owned();
        if file.ends_with(".partial") {
            report.problems.push(format!("{name}: a half-written file is left: {file}"));
        }
    }
    let path = dir.join(MANIFEST_FILE);
    if !path.exists() {
        interrupted(dir, &name, report)?;
    }
    let manifest: serde_json::Value = match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                report.problems.push(format!("{name}: manifest.json does not parse: {e}"));
                return Ok(None);
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let index = shard.map_or(0, |s| s.0);
    if let Some((i, n)) = shard {
        let (mi, mn) = (manifest["shard"]["index"].as_u64(), manifest["shard"]["count"].as_u64());
        if mi != Some(i as u64) || mn != Some(n as u64) {
            report.problems.push(format!("{name}: its manifest says shard {mi:?} of {mn:?}"));
        }
    }
    let count = |k: &str| manifest["counts"][k].as_u64().unwrap_or(0);
    let (want_inputs, want_images, want_errors) = (count("inputs"), count("images"), count("errors"));
    let mut inputs = 0u64;
    let read = match manifest["command"].as_str() {
        // A video run: each read video has its scenes, a row each.
        Some("video") => video_ids(dir, &name, &count, report),
        // Images: one row per analysed input.
        _ => match read_column(&dir.join(IMAGES_FILE), &["image_id"]) {
            Ok(rows) => {
                if rows.len() as u64 != want_images {
                    report.problems.push(format!(
                        "{name}: images.parquet has {} rows, its manifest counts {want_images}",
                        rows.len()
                    ));
                }
                rows.into_iter().map(|r| r[0].clone().unwrap_or_default()).collect()
            }
            Err(e) => {
                report.problems.push(format!("{name}: images.parquet cannot be read ({e}): a corrupt part"));
                Vec::new()
            }
        },
    };
    for id in read {
        inputs += 1;
        see(id, index, shard, ids, report, &name);
    }
    // Errors: one row per failed input (catalog rows and warnings are not inputs).
    match read_column(&dir.join(ERRORS_FILE), &["image_id", "path", "stage", "severity"]) {
        Ok(rows) => {
            let failed: Vec<_> = rows
                .into_iter()
                .filter(|r| r[2].as_deref() != Some("catalog") && r[3].as_deref() == Some("error"))
                .collect();
            if failed.len() as u64 != want_errors {
                report.problems.push(format!(
                    "{name}: errors.parquet has {} failed inputs, its manifest counts {want_errors}",
                    failed.len()
                ));
            }
            for r in failed {
                inputs += 1;
                let id = r[0].clone().or_else(|| r[1].clone()).unwrap_or_default();
                see(id, index, shard, ids, report, &name);
            }
        }
        Err(e) => report.problems.push(format!("{name}: errors.parquet cannot be read ({e}): a corrupt part")),
    }
    let recs = dir.join(RECOMMENDATIONS_FILE);
    if manifest["outputs"]["recommendations"].is_string() {
        match read_column(&recs, &["image_id"]) {
            Ok(rows) if rows.len() as u64 != count("recommendations") => report.problems.push(format!(
                "{name}: recommendations.parquet has {} rows, its manifest counts {}",
                rows.len(),
                count("recommendations")
            )),
            Ok(_) => {}
            Err(e) => report.problems.push(format!("{name}: recommendations.parquet cannot be read ({e})")),
        }
    }
    if inputs != want_inputs {
        report.problems.push(format!("{name}: its tables hold {inputs} inputs, its manifest counts {want_inputs}"));
    }
    report.inputs += inputs;
    // A video run's inputs are videos: those read count as analysed.
    report.images += match manifest["command"].as_str() {
        Some("video") => want_inputs.saturating_sub(want_errors),
        _ => want_images,
    };
    report.errors += want_errors;
    Ok(Some(ShardManifest {
        fingerprint: manifest["fingerprint"].as_str().unwrap_or("").to_string(),
        listed: manifest["input"]["listed"].as_u64().unwrap_or(0),
    }))
}

/// The ids of the videos a video run read, one per video, from
/// `scenes.parquet`, checking its and `soundtrack.parquet`'s rows against
/// the manifest's counts.
fn video_ids(dir: &Path, name: &str, count: &dyn Fn(&str) -> u64, report: &mut Report) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    match read_column(&dir.join(SCENES_FILE), &["video_id"]) {
        Ok(rows) => {
            if rows.len() as u64 != count("scenes") {
                report.problems.push(format!(
                    "{name}: scenes.parquet has {} rows, its manifest counts {}",
                    rows.len(),
                    count("scenes")
                ));
            }
            // A video's scenes are consecutive rows.
            for id in rows.into_iter().map(|r| r[0].clone().unwrap_or_default()) {
                if ids.last() != Some(&id) {
                    ids.push(id);
                }
            }
        }
        Err(e) => report.problems.push(format!("{name}: scenes.parquet cannot be read ({e}): a corrupt part")),
    }
    match read_column(&dir.join(SOUNDTRACK_FILE), &["video_id"]) {
        Ok(rows) if rows.len() as u64 != count("cues") => report.problems.push(format!(
            "{name}: soundtrack.parquet has {} rows, its manifest counts {} cues",
            rows.len(),
            count("cues")
        )),
        Ok(_) => {}
        Err(e) => report.problems.push(format!("{name}: soundtrack.parquet cannot be read ({e})")),
    }
    ids
}

/// Says what an incomplete shard's committed parts hold, and names a part
/// left half-written by a kill. Rerunning the shard resumes from its last
/// committed part and removes the half-written one.
fn interrupted(dir: &Path, name: &str, report: &mut Report) -> Result<()> {
    let parts = dir.join(PARTS_DIR);
    let Ok(entries) = std::fs::read_dir(&parts) else { return Ok(()) };
    for e in entries {
        let file = e.map_err(|e| Error::io(&parts, e))?.file_name().to_string_lossy().into_owned();
        if file.ends_with(".partial") {
            report.problems.push(format!(
                "{name}: a half-written part is left ({PARTS_DIR}/{file}): the shard was stopped mid-part; \
                 rerunning it discards that part and resumes"
            ));
        }
    }
    // A video run's journal: a header line, then a line per committed video.
    if let Ok(text) = std::fs::read_to_string(parts.join(VIDEO_JOURNAL_FILE)) {
        let videos = text.matches('\n').count().saturating_sub(1);
        report
            .problems
            .push(format!("{name}: interrupted with {videos} videos committed; rerunning it resumes from there"));
    }
    match Journal::read(dir) {
        Ok(Some(j)) => report.problems.push(format!(
            "{name}: interrupted with {} inputs in {} committed parts; rerunning it resumes from there",
            j.committed(),
            j.parts.len()
        )),
        Ok(None) => {}
        Err(e) => report.problems.push(format!("{name}: {e}")),
    }
    Ok(())
}

/// Records input `id` seen in shard `index`, reporting duplicates and
/// inputs in the wrong shard.
fn see(
    id: String,
    index: u32,
    shard: Option<(u32, u32)>,
    ids: &mut HashMap<String, u32>,
    report: &mut Report,
    name: &str,
) {
    if let Some((_, n)) = shard {
        let owner = shard::shard_of(&id, n);
        if owner != index {
            report.problems.push(format!("{name}: input {id:?} belongs to shard {owner}"));
        }
    }
    if let Some(first) = ids.insert(id.clone(), index) {
        report.problems.push(format!("input {id:?} appears more than once (shards {first} and {index})"));
    }
}

/// The named text columns of every row of a Parquet file.
fn read_column(path: &Path, names: &[&str]) -> std::result::Result<Vec<Vec<Option<String>>>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let cols: Vec<_> = names
            .iter()
            .map(|n| {
                batch
                    .column_by_name(n)
                    .and_then(|c| c.as_string_opt::<i32>().cloned())
                    .ok_or_else(|| format!("no text column `{n}`"))
            })
            .collect::<std::result::Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            rows.push(cols.iter().map(|c| (!c.is_null(r)).then(|| c.value(r).to_string())).collect());
        }
    }
    Ok(rows)
}
