//! Ingest stage: which images a run covers, as a stream.
//!
//! The input is a folder (walked recursively, sorted by name within each
//! directory so runs are reproducible) or a manifest: a text file of paths,
//! or a CSV/TSV/Parquet table with a `path` column and an optional `id`
//! column. Sources come out one at a time, so a manifest of millions of rows
//! is never held in memory; a folder walk holds one directory's listing at a
//! time. Anything that cannot become an image source (a non-UTF-8 name, an
//! unreadable directory, a manifest row without a path) comes out as a
//! `Rejected` item and ends up in the errors table.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, StringArray, cast::AsArray};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};

/// File extensions a folder walk picks up (compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"];

/// One image to analyse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSource {
    /// Stable identifier: the manifest's `id`, else the path relative to the
    /// folder (with `/` separators) or as written in the manifest.
    pub id: String,
    pub path: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestItem {
    Image(ImageSource),
    /// An entry that cannot be analysed; `path` is printable (lossy).
    Rejected {
        path: String,
        reason: String,
    },
    /// Something the walk passed over, and why.
    Skipped(Skip),
}

/// The id an input is sharded and fingerprinted by: its `image_id`, or
/// for an entry that cannot become an image, its path. `None` for files
/// the walk passes over.
pub fn input_id(item: &IngestItem) -> Option<&str> {
    match item {
        IngestItem::Image(s) => Some(&s.id),
        IngestItem::Rejected { path, .. } => Some(path),
        IngestItem::Skipped(_) => None,
    }
}

/// Why a folder walk passed over an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A file without an image extension.
    NotImage = 0,
    /// A symbolic link to a folder above it.
    SymlinkLoop,
    /// A folder whose name has an image extension.
    FolderNamedLikeImage,
}

/// What `--images` points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    Folder,
    Manifest,
}

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Folder => "folder",
            InputKind::Manifest => "manifest",
        }
    }
}

pub type Sources = Box<dyn Iterator<Item = IngestItem> + Send>;

/// Opens a folder or a manifest as a stream of sources.
pub fn open(input: &Path) -> Result<(InputKind, Sources)> {
    let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
    if meta.is_dir() {
        return Ok((InputKind::Folder, Box::new(walk(input))));
    }
    let base = input.parent().map(Path::to_path_buf).unwrap_or_default();
    let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let sources: Sources = match ext.as_str() {
        "csv" => Box::new(table_manifest(input, base, b',')?),
        "tsv" => Box::new(table_manifest(input, base, b'\t')?),
        "parquet" | "pq" => Box::new(parquet_manifest(input, base)?),
        _ if IMAGE_EXTENSIONS.contains(&ext.as_str()) => {
            // A single image: a manifest of one.
            let id = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Box::new(std::iter::once(IngestItem::Image(ImageSource { id, path: input.to_path_buf() })))
        }
        _ => Box::new(text_manifest(input, base)?),
    };
    Ok((InputKind::Manifest, sources))
}

fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn walk(root: &Path) -> impl Iterator<Item = IngestItem> + Send + use<> {
    let root = root.to_path_buf();
    let walker = walkdir::WalkDir::new(&root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        // Hidden entries (".git", "._IMG_0001.jpg" from macOS) are not photos.
        .filter_entry(|e| e.depth() == 0 || !e.file_name().as_encoded_bytes().starts_with(b"."));
    walker.filter_map(move |entry| match entry {
        // A link back to a folder above it: walkdir notices and does not
        // descend, so the walk ends; the link is passed over and counted.
        Err(e) if e.loop_ancestor().is_some() => Some(IngestItem::Skipped(Skip::SymlinkLoop)),
        Err(e) => {
            let path = e.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| root.display().to_string());
            let reason = match e.io_error() {
                Some(io) if io.kind() == std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            Some(IngestItem::Rejected { path, reason })
        }
        // A folder named like a photo ("best.jpg/") is walked into like any
        // other, and counted, as it is not itself an input.
        Ok(entry) if entry.file_type().is_dir() => (entry.depth() > 0 && is_image_name(entry.path()))
            .then_some(IngestItem::Skipped(Skip::FolderNamedLikeImage)),
        Ok(entry) => {
            let path = entry.path();
            if !is_image_name(path) {
                return Some(IngestItem::Skipped(Skip::NotImage));
            }
            let rel = path.strip_prefix(&root).unwrap_or(path);
            let id = match rel.to_str() {
                Some(id) => id.replace(std::path::MAIN_SEPARATOR, "/"),
                None => escape_path(rel),
            };
            Some(IngestItem::Image(ImageSource { id, path: path.to_path_buf() }))
        }
    })
}

/// A printable, lossless `image_id` for a path that is not UTF-8: valid
/// UTF-8 stretches are kept, every other byte becomes `\xNN`, and a
/// backslash becomes `\\`, so the escape can be undone. (A UTF-8 name
/// that itself reads like such an escape could meet it; `verify` reports
/// any id that appears twice.)
pub fn escape_path(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '/' => out.push('/'),
                c if c == std::path::MAIN_SEPARATOR => out.push('/'),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// Whether `path` is not valid UTF-8: its image gets an escaped id, its
/// raw bytes are kept, and a warning says so.
pub fn is_raw(path: &Path) -> bool {
    path.to_str().is_none()
}

fn resolve(base: &Path, written: impl AsRef<Path>) -> PathBuf {
    let p = written.as_ref();
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

/// One path per line; blank lines and lines starting with `#` are ignored.
fn text_manifest(path: &Path, base: PathBuf) -> Result<impl Iterator<Item = IngestItem> + Send + use<>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    Ok(BufReader::new(file).split(b'\n').enumerate().filter_map(move |(i, line)| {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                return Some(IngestItem::Rejected { path: format!("{name}:{}", i + 1), reason: e.to_string() });
            }
        };
        let Ok(text) = std::str::from_utf8(&line) else {
            // A path written as the file system's raw bytes.
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                let raw = line.strip_suffix(b"\r").unwrap_or(&line).trim_ascii();
                let written = Path::new(std::ffi::OsStr::from_bytes(raw));
                return Some(IngestItem::Image(ImageSource {
                    id: escape_path(written),
                    path: resolve(&base, written),
                }));
            }
            #[cfg(not(unix))]
            return Some(IngestItem::Rejected {
                path: format!("{name}:{}", i + 1),
                reason: "line is not valid UTF-8".into(),
            });
        };
        let text = text.trim_end_matches('\r').trim();
        if text.is_empty() || text.starts_with('#') {
            return None;
        }
        Some(IngestItem::Image(ImageSource { id: text.to_string(), path: resolve(&base, text) }))
    }))
}

fn table_manifest(
    path: &Path,
    base: PathBuf,
    delimiter: u8,
) -> Result<impl Iterator<Item = IngestItem> + Send + use<>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::input(path, e.to_string()))?;
    let headers = reader.headers().map_err(|e| Error::input(path, e.to_string()))?.clone();
    let find = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let path_col = find("path").ok_or_else(|| {
        Error::input(
            path,
            format!("manifest needs a `path` column; found columns: {}", headers.iter().collect::<Vec<_>>().join(", ")),
        )
    })?;
    let id_col = find("id").or_else(|| find("image_id"));
    let name = path.display().to_string();
    Ok(reader.into_records().map(move |rec| {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return IngestItem::Rejected { path: format!("{name}:{line}"), reason: e.to_string() };
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        match rec.get(path_col).map(str::trim).filter(|p| !p.is_empty()) {
            None => IngestItem::Rejected { path: format!("{name}:{line}"), reason: "row has no path".into() },
            Some(p) => {
                let id = id_col.and_then(|c| rec.get(c)).map(str::trim).filter(|s| !s.is_empty()).unwrap_or(p);
                IngestItem::Image(ImageSource { id: id.to_string(), path: resolve(&base, p) })
            }
        }
    }))
}

fn parquet_manifest(path: &Path, base: PathBuf) -> Result<impl Iterator<Item = IngestItem> + Send + use<>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::input(path, e.to_string()))?;
    let schema = builder.schema().clone();
    let find = |name: &str| schema.fields().iter().position(|f| f.name().eq_ignore_ascii_case(name));
    let path_col = find("path").ok_or_else(|| Error::input(path, "manifest needs a `path` column"))?;
    let id_col = find("id").or_else(|| find("image_id"));
    let reader = builder.with_batch_size(4096).build().map_err(|e| Error::input(path, e.to_string()))?;
    let name = path.display().to_string();
    let mut row = 0usize;
    Ok(reader.flat_map(move |batch| {
        let items: Vec<IngestItem> =
            match batch.map_err(|e| e.to_string()).and_then(|b| string_columns(&b, path_col, id_col)) {
                Err(e) => vec![IngestItem::Rejected { path: format!("{name}: row group after row {row}"), reason: e }],
                Ok((paths, ids)) => (0..paths.len())
                    .map(|i| {
                        row += 1;
                        if paths.is_null(i) || paths.value(i).trim().is_empty() {
                            return IngestItem::Rejected {
                                path: format!("{name}: row {row}"),
                                reason: "row has no path".into(),
                            };
                        }
                        let p = paths.value(i).trim();
                        let id = ids.as_ref().filter(|c| !c.is_null(i)).map_or(p, |c| c.value(i));
                        IngestItem::Image(ImageSource { id: id.to_string(), path: resolve(&base, p) })
                    })
                    .collect(),
            };
        items
    }))
}

fn string_columns(
    b: &RecordBatch,
    path_col: usize,
    id_col: Option<usize>,
) -> Result<(StringArray, Option<StringArray>), String> {
    let as_utf8 = |i: usize| -> Result<StringArray, String> {
        let col = b.column(i);
        match col.data_type() {
            DataType::Utf8 => Ok(col.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Ok(col.as_string::<i64>().iter().collect()),
            DataType::Utf8View => Ok(col.as_string_view().iter().collect()),
            other => match arrow_cast_to_string(col.as_ref()) {
                Some(s) => Ok(s),
                None => Err(format!("column {} is {other}, expected text", b.schema().field(i).name())),
            },
        }
    };
    Ok((as_utf8(path_col)?, id_col.map(as_utf8).transpose()?))
}

/// Integer ids are common in manifests; render them as text.
fn arrow_cast_to_string(col: &dyn Array) -> Option<StringArray> {
    use arrow_array::types::*;
    macro_rules! ints {
        ($($t:ty),*) => {
            $(if let Some(a) = col.as_primitive_opt::<$t>() {
                return Some(a.iter().map(|v| v.map(|v| v.to_string())).collect());
            })*
        };
    }
    ints!(Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type);
    None
}
