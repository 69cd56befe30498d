//! Parts: a run commits its work as it goes, so a killed run resumes
//! instead of starting again from zero.
//!
//! While a run is under way its rows go to `OUT/_parts/`, one set of
//! Parquet files per part of `part_inputs` inputs (`images-00003.parquet`,
//! `errors-00003.parquet`, ...). Each file is written under a temporary
//! name and renamed into place; once all of a part's files are in place,
//! `journal.json` is rewritten (also atomically) to list the part: which
//! input sequence numbers it holds, its row counts, and a running digest of
//! the ids of every input up to its end, in order. A part exists exactly
//! when the journal lists it; anything else in the folder (a temporary
//! file, a renamed file of a part the journal never listed) is the residue
//! of a kill and is removed on resume.
//!
//! Rerunning the same command reads the journal: with the same fingerprint
//! and the same inputs in the same order up to the last committed part, the
//! run skips those inputs and carries on from there. At the end the parts
//! are copied, in order, into the run's tables (`images.parquet`, ...):
//! an interrupted and resumed run writes the same tables as one that never
//! stopped, because both are made this way. `_parts/` is removed after the
//! manifest is written; the leading underscore keeps Spark, pyarrow and
//! DuckDB dataset discovery away from it meanwhile.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    Dest, ERRORS_FILE, ErrorsWriter, FACES_FILE, FEATURES_FILE, FacesWriter, FeaturesWriter, IMAGES_FILE, ImagesWriter,
    MemoryTables, RECOMMENDATIONS_FILE, RecommendationsWriter, Table, faces_schema, features_schema, images_schema,
    recommendations_schema,
};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};

/// The folder of committed parts inside a run's output folder.
pub const PARTS_DIR: &str = "_parts";
const JOURNAL_FILE: &str = "journal.json";
/// Inputs per part unless the caller says otherwise: a few thousand rows a
/// table, so a kill loses under a minute of work on two cores, and a run of
/// a million images has a few hundred parts.
pub const DEFAULT_PART_INPUTS: u64 = 2000;

/// Row counts of one part (or of several, summed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartCounts {
    /// Inputs the part holds: analysed images plus failed inputs.
    pub inputs: u64,
    pub images: u64,
    /// Failed inputs (error rows).
    pub errors: u64,
    pub warnings: u64,
    pub recommendations: u64,
    pub features: u64,
    /// Rows of the faces table (journals of older runs lack it).
    #[serde(default)]
    pub faces: u64,
}

impl PartCounts {
    fn add(&mut self, o: &PartCounts) {
        self.inputs += o.inputs;
        self.images += o.images;
        self.errors += o.errors;
        self.warnings += o.warnings;
        self.recommendations += o.recommendations;
        self.features += o.features;
        self.faces += o.faces;
    }
}

/// One committed part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartEntry {
    pub index: u32,
    /// The input sequence numbers it holds: `first..end`.
    pub first: u64,
    pub end: u64,
    pub counts: PartCounts,
    /// sha256 over the ids of inputs `0..end`, in order.
    pub ids_sha256: String,
}

/// Which parts are committed, for which run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journal {
    pub pixtape_version: String,
    /// The run's fingerprint; parts of another run are never resumed.
    pub fingerprint: String,
    /// Whether parts hold recommendations and features tables.
    pub recommendations: bool,
    pub features: bool,
    /// Whether parts hold a faces table.
    #[serde(default)]
    pub faces: bool,
    pub parts: Vec<PartEntry>,
}

impl Journal {
    /// Inputs committed: the end of the last part.
    pub fn committed(&self) -> u64 {
        self.parts.last().map_or(0, |p| p.end)
    }

    /// The ordered digest of the committed inputs' ids.
    pub fn committed_ids(&self) -> String {
        self.parts.last().map_or_else(|| OrderedIds::default().hex(), |p| p.ids_sha256.clone())
    }

    pub fn totals(&self) -> PartCounts {
        let mut t = PartCounts::default();
        for p in &self.parts {
            t.add(&p.counts);
        }
        t
    }

    /// The journal of the run in `out`, if one was left there.
    pub fn read(out: &Path) -> Result<Option<Journal>> {
        let path = out.join(PARTS_DIR).join(JOURNAL_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::input(
                    &path,
                    format!("the journal of committed parts does not parse ({e}); remove {PARTS_DIR}/ to start over"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn write(&self, parts: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::output(parts.join(JOURNAL_FILE), e))?;
        write_atomic(&parts.join(JOURNAL_FILE), &bytes)
    }
}

/// A running sha256 over ids in order: tells whether a listing still starts
/// with the inputs the committed parts hold.
#[derive(Clone, Default)]
pub struct OrderedIds(Sha256);

impl OrderedIds {
    pub fn add(&mut self, id: &str) {
        self.0.update(id.as_bytes());
        self.0.update(b"\n");
    }

    pub fn hex(&self) -> String {
        self.0.clone().finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The name of table `file`'s piece in part `index`.
fn part_file(file: &str, index: u32) -> String {
    let stem = file.strip_suffix(".parquet").unwrap_or(file);
    format!("{stem}-{index:05}.parquet")
}

/// Removes the parts folder of `out`, if any.
pub fn remove(out: &Path) -> Result<()> {
    let dir = out.join(PARTS_DIR);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&dir, e)),
        _ => Ok(()),
    }
}

/// Test-only fault switch, read from `PIXTAPE_TEST_FAULT`. The value
/// `fail-once:INDEX:MARKER` makes the run of shard INDEX (0 for an unsharded
/// run) fail right after committing its first part, but only while the file
/// MARKER does not exist; the failure creates it. The cluster tests use it
/// to make one array task fail and be resubmitted. It is not a feature:
/// never set it outside tests.
fn test_fault(shard: u32) -> Option<PathBuf> {
    let v = std::env::var("PIXTAPE_TEST_FAULT").ok()?;
    let mut it = v.splitn(3, ':');
    let (kind, index, marker) = (it.next()?, it.next()?, it.next()?);
    (kind == "fail-once" && index.parse::<u32>().ok()? == shard && !Path::new(marker).exists())
        .then(|| PathBuf::from(marker))
}

/// The tables of the part being written.
pub struct PartTables {
    pub images: ImagesWriter,
    pub errors: ErrorsWriter,
    pub recommendations: Option<RecommendationsWriter>,
    pub features: Option<FeaturesWriter>,
    pub faces: Option<FacesWriter>,
}

/// Which optional tables a run's parts hold.
#[derive(Clone, Copy, Debug, Default)]
pub struct Optional {
    pub recommendations: bool,
    pub features: bool,
    pub faces: bool,
}

/// Where the sink writes: rows go to the current part, and every
/// `part_inputs` inputs the part is committed.
pub struct PartSink {
    dir: PathBuf,
    /// Set for a run kept in memory: no files, no journal on disk.
    memory: Option<MemoryTables>,
    journal: Journal,
    part_inputs: u64,
    shard: u32,
    current: Option<PartTables>,
    /// Sequence number of the current part's first input, and of the next.
    first: u64,
    next: u64,
    ids: OrderedIds,
}

impl PartSink {
    /// Starts or resumes the parts of run `fingerprint` in `out`.
    /// `resume` is the journal left by an earlier attempt, already checked
    /// against this run (fingerprint and ordered ids); `ids` is the ordered
    /// digest of its committed inputs, to carry on from.
    pub fn open(
        out: &Path,
        fingerprint: &str,
        tables: Optional,
        part_inputs: u64,
        shard: u32,
        resume: Option<(Journal, OrderedIds)>,
    ) -> Result<Self> {
        let dir = out.join(PARTS_DIR);
        let (journal, ids) = match resume {
            Some((j, ids)) => (j, ids),
            None => {
                remove(out)?;
                let j = Journal {
                    pixtape_version: env!("CARGO_PKG_VERSION").to_string(),
                    fingerprint: fingerprint.to_string(),
                    recommendations: tables.recommendations,
                    features: tables.features,
                    faces: tables.faces,
                    parts: Vec::new(),
                };
                (j, OrderedIds::default())
            }
        };
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        remove_uncommitted(&dir, &journal)?;
        journal.write(&dir)?;
        let next = journal.committed();
        let part_inputs = part_inputs.max(1);
        Ok(PartSink { dir, memory: None, journal, part_inputs, shard, current: None, first: next, next, ids })
    }

    /// A sink whose tables stay in memory, in the returned `MemoryTables`:
    /// one part, nothing to resume, nothing on disk.
    pub fn memory(tables: Optional) -> (Self, MemoryTables) {
        let memory = MemoryTables::default();
        let journal = Journal {
            pixtape_version: env!("CARGO_PKG_VERSION").to_string(),
            fingerprint: String::new(),
            recommendations: tables.recommendations,
            features: tables.features,
            faces: tables.faces,
            parts: Vec::new(),
        };
        let sink = PartSink {
            dir: PathBuf::new(),
            memory: Some(memory.clone()),
            journal,
            part_inputs: u64::MAX,
            shard: 0,
            current: None,
            first: 0,
            next: 0,
            ids: OrderedIds::default(),
        };
        (sink, memory)
    }

    /// The tables of the current part, started if need be.
    pub fn tables(&mut self) -> Result<&mut PartTables> {
        if self.current.is_none() {
            let i = self.journal.parts.len() as u32;
            let path = |f: &str| match &self.memory {
                Some(m) => m.dest(f),
                None => Dest::File(self.dir.join(part_file(f, i))),
            };
            self.current = Some(PartTables {
                images: ImagesWriter::create(path(IMAGES_FILE))?,
                errors: ErrorsWriter::create(path(ERRORS_FILE))?,
                recommendations: match self.journal.recommendations {
                    true => Some(RecommendationsWriter::create(path(RECOMMENDATIONS_FILE))?),
                    false => None,
                },
                features: match self.journal.features {
                    true => Some(FeaturesWriter::create(path(FEATURES_FILE))?),
                    false => None,
                },
                faces: match self.journal.faces {
                    true => Some(FacesWriter::create(path(FACES_FILE))?),
                    false => None,
                },
            });
        }
        Ok(self.current.as_mut().expect("part tables were just created"))
    }

    /// Input `id` is fully written; commits the part when it is full.
    pub fn input_done(&mut self, id: &str) -> Result<()> {
        self.ids.add(id);
        self.next += 1;
        if self.next - self.first >= self.part_inputs { self.commit() } else { Ok(()) }
    }

    /// Closes the current part's files and lists it in the journal.
    fn commit(&mut self) -> Result<()> {
        let Some(t) = self.current.take() else { return Ok(()) };
        let (errors, warnings) = t.errors.counts();
        let counts = PartCounts {
            inputs: self.next - self.first,
            images: t.images.finish()?,
            errors,
            warnings,
            recommendations: t.recommendations.map(|r| r.finish()).transpose()?.unwrap_or(0),
            features: t.features.map(|f| f.finish()).transpose()?.unwrap_or(0),
            faces: t.faces.map(|f| f.finish()).transpose()?.unwrap_or(0),
        };
        t.errors.finish()?;
        let index = self.journal.parts.len() as u32;
        self.journal.parts.push(PartEntry {
            index,
            first: self.first,
            end: self.next,
            counts,
            ids_sha256: self.ids.hex(),
        });
        if self.memory.is_some() {
            self.first = self.next;
            return Ok(());
        }
        self.journal.write(&self.dir)?;
        self.first = self.next;
        if index == 0
            && let Some(marker) = test_fault(self.shard)
        {
            let _ = std::fs::write(&marker, b"");
            return Err(Error::Config(format!(
                "test fault PIXTAPE_TEST_FAULT: failing once after the first part (marker {})",
                marker.display()
            )));
        }
        Ok(())
    }

    /// The track ids the committed parts recommended, in order.
    pub fn committed_track_ids(&self) -> Result<Vec<String>> {
        use arrow_array::cast::AsArray;
        let mut out = Vec::new();
        if !self.journal.recommendations {
            return Ok(out);
        }
        for p in &self.journal.parts {
            for batch in read_part(&self.dir.join(part_file(RECOMMENDATIONS_FILE, p.index)))? {
                let batch = batch?;
                let path = self.dir.join(part_file(RECOMMENDATIONS_FILE, p.index));
                let col = batch
                    .column_by_name("track_id")
                    .ok_or_else(|| Error::input(&path, "a committed part has no track_id column"))?
                    .as_string::<i32>();
                out.extend(col.iter().map(|v| v.unwrap_or_default().to_string()));
            }
        }
        Ok(out)
    }

    /// Commits the last part; returns the journal of the whole run.
    pub fn finish(mut self) -> Result<Journal> {
        self.commit()?;
        Ok(self.journal)
    }
}

/// Removes what a kill left in the parts folder: temporary files, and files
/// of parts the journal does not list.
fn remove_uncommitted(dir: &Path, journal: &Journal) -> Result<()> {
    let committed = journal.parts.len() as u32;
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let stale = name.ends_with(".partial")
            || name
                .strip_suffix(".parquet")
                .and_then(|s| s.rsplit_once('-'))
                .and_then(|(_, i)| i.parse::<u32>().ok())
                .is_some_and(|i| i >= committed);
        if stale {
            std::fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))?;
        }
    }
    Ok(())
}

/// Row counts of the tables `compact` wrote.
pub struct Compacted {
    pub images: u64,
    pub recommendations: u64,
}

/// Copies the committed parts, in order, into the run's tables in `out`.
/// `head` writes the errors table's first rows (the catalog's issues).
pub fn compact(out: &Path, journal: &Journal, head: impl FnOnce(&mut ErrorsWriter) -> Result<()>) -> Result<Compacted> {
    let dir = out.join(PARTS_DIR);
    let mut errors = ErrorsWriter::create(&out.join(ERRORS_FILE))?;
    head(&mut errors)?;
    for p in &journal.parts {
        for batch in read_part(&dir.join(part_file(ERRORS_FILE, p.index)))? {
            errors.append(&batch?)?;
        }
    }
    let images = copy(&dir, journal, IMAGES_FILE, images_schema(), &out.join(IMAGES_FILE))?;
    let recommendations = match journal.recommendations {
        true => copy(&dir, journal, RECOMMENDATIONS_FILE, recommendations_schema(), &out.join(RECOMMENDATIONS_FILE))?,
        false => 0,
    };
    if journal.features {
        copy(&dir, journal, FEATURES_FILE, features_schema(), &out.join(FEATURES_FILE))?;
    }
    if journal.faces {
        copy(&dir, journal, FACES_FILE, faces_schema(), &out.join(FACES_FILE))?;
    }
    errors.finish()?;
    // A stale table from an earlier run with other options would mislead.
    for (file, written) in [
        (RECOMMENDATIONS_FILE, journal.recommendations),
        (FEATURES_FILE, journal.features),
        (FACES_FILE, journal.faces),
    ] {
        if !written {
            let _ = std::fs::remove_file(out.join(file));
        }
    }
    Ok(Compacted { images, recommendations })
}

fn copy(dir: &Path, journal: &Journal, file: &str, schema: SchemaRef, dest: &Path) -> Result<u64> {
    let parts: Vec<PathBuf> = journal.parts.iter().map(|p| dir.join(part_file(file, p.index))).collect();
    concat(&parts, schema, dest)
}

/// Copies the Parquet files `parts`, in order, into one table at `dest`
/// (written atomically); returns its rows. No parts make an empty table.
pub fn concat(parts: &[PathBuf], schema: SchemaRef, dest: &Path) -> Result<u64> {
    let mut table = Table::create(dest, schema)?;
    for part in parts {
        for batch in read_part(part)? {
            table.write(batch?.columns().to_vec())?;
        }
    }
    table.finish()
}

fn read_part(path: &Path) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let owned = path.to_path_buf();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(super::ROW_GROUP_ROWS).build())
        .map_err(|e| {
            Error::input(path, format!("a committed part does not read ({e}); remove {PARTS_DIR}/ to start over"))
        })?;
    Ok(reader.map(move |b| {
        b.map_err(|e| {
            Error::input(&owned, format!("a committed part does not read ({e}); remove {PARTS_DIR}/ to start over"))
        })
    }))
}
