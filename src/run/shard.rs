//! Shards: one run split across the processes of a cluster's job array
//! (Slurm arrays, Kubernetes Indexed Jobs, AWS Batch arrays, or a loop),
//! without a scheduler of pixtape's own.
//!
//! Shard I of N owns the inputs whose `image_id` hashes to I modulo N
//! (sha256, so no listing order and no platform changes which shard an
//! input falls in); every shard lists the same input and keeps its own, so
//! the N shards together hold every input exactly once. Shard I writes only
//! into `OUT/shard-IIIII-of-NNNNN/`, manifest last, as an unsharded run
//! writes into OUT. The manifest carries the run's fingerprint (`fingerprint`):
//! a shard that finds its own complete manifest with the same fingerprint
//! has nothing to do, so rerunning a whole array is cheap; a different
//! fingerprint is an error, never an overwrite.
//!
//! N is always given. I is a number or `auto`: the first set of
//! `PIXTAPE_SHARD_INDEX`, `SLURM_ARRAY_TASK_ID`, `JOB_COMPLETION_INDEX` and
//! `AWS_BATCH_JOB_ARRAY_INDEX`. N never comes from the environment: Slurm
//! sets `SLURM_ARRAY_TASK_COUNT` to 1 when it reruns a single index.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Environment variables that can give the shard index, in the order
/// they are tried.
pub const INDEX_VARIABLES: [&str; 4] =
    ["PIXTAPE_SHARD_INDEX", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"];

/// One shard of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
    /// Where the index came from: `--shard` or the variable's name.
    pub index_from: String,
}

impl Shard {
    /// Parses `I/N` or `auto/N`; `env` looks a variable up (the process
    /// environment in the binary, a map in tests).
    pub fn parse(spec: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
        let bad = |m: String| Error::setting("shard", m);
        let (i, n) = spec.split_once('/').ok_or_else(|| bad(format!("`{spec}` is not I/N (say 3/64 or auto/64)")))?;
        let count: u32 =
            n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| bad(format!("`{n}` is not a shard count")))?;
        let (index, index_from) = if i.trim() == "auto" {
            let (var, value) = INDEX_VARIABLES
                .iter()
                .find_map(|v| env(v).filter(|s| !s.trim().is_empty()).map(|s| (*v, s)))
                .ok_or_else(|| bad(format!("`auto` needs one of {} to be set", INDEX_VARIABLES.join(", "))))?;
            let index = value.trim().parse().map_err(|_| bad(format!("{var}={value:?} is not a shard index")))?;
            (index, var.to_string())
        } else {
            (i.trim().parse().map_err(|_| bad(format!("`{i}` is not a shard index")))?, "--shard".to_string())
        };
        if index >= count {
            return Err(bad(format!("index {index} is not below the count {count} (indices run 0..{count})")));
        }
        Ok(Shard { index, count, index_from })
    }

    /// Whether input `image_id` belongs to this shard.
    pub fn owns(&self, image_id: &str) -> bool {
        shard_of(image_id, self.count) == self.index
    }

    /// This shard's folder under the run's output folder.
    pub fn dir(&self, out: &Path) -> PathBuf {
        out.join(folder_name(self.index, self.count))
    }
}

/// The shard an input belongs to among `count`.
pub fn shard_of(image_id: &str, count: u32) -> u32 {
    let h = Sha256::digest(image_id.as_bytes());
    (u64::from_le_bytes(h[..8].try_into().unwrap_or([0; 8])) % count as u64) as u32
}

/// `shard-00007-of-00064`.
pub fn folder_name(index: u32, count: u32) -> String {
    format!("shard-{index:05}-of-{count:05}")
}

/// Parses a shard folder's name back into (index, count).
pub fn parse_folder_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("shard-")?;
    let (i, n) = rest.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// An order-free digest of a run's input listing: the count and the
/// wrapping sum of each id's hash, so listing order does not change it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputDigest {
    pub count: u64,
    sum: u128,
}

impl InputDigest {
    pub fn add(&mut self, id: &str) {
        let h = Sha256::digest(id.as_bytes());
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(h[..16].try_into().unwrap_or([0; 16])));
        self.count += 1;
    }

    pub fn hex(&self) -> String {
        format!("{:032x}:{}", self.sum, self.count)
    }
}

/// The fingerprint of a run: sha256 of every part that decides its output,
/// each as `name=value` on its own line.
pub fn fingerprint(parts: &[(&str, String)]) -> String {
    let mut h = Sha256::new();
    for (k, v) in parts {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The first 12 hex digits of a fingerprint, as messages show it.
pub fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(12)]
}

/// The error for a folder `dir` that holds `what` ("a complete run with
/// another fingerprint", "committed parts of another run"), whose
/// fingerprint `theirs` is not this run's `ours`: a shard's folder is never
/// overwritten or mixed. `inputs` names what the run reads ("inputs",
/// "videos").
pub fn another_run(dir: &Path, what: &str, theirs: &str, ours: &str, inputs: &str) -> Error {
    Error::input(
        dir,
        format!(
            "holds {what} ({}, this run's fingerprint is {}): the {inputs}, catalog, settings, model or \
             version differ; write to another folder, or remove this one to redo it",
            short(theirs),
            short(ours)
        ),
    )
}

/// Indices as `sbatch --array` takes them: `0-3,7,9-12`.
pub fn array_ranges(indices: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    out.join(",")
}
