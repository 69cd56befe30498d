//! Files that appear whole or not at all: written under a hidden temporary
//! name beside their destination, flushed to disk, then renamed into place
//! (atomic on POSIX file systems), so a crash or a kill never leaves a
//! half-written file under a final name. Every layer that writes a file
//! (the catalog's index, a run's tables and manifest, the after-run
//! outputs, the bench's JSON) goes through here.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file that appears under its final name only once it is complete.
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> Result<Self> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.partial"));
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile { tmp, dest: dest.to_path_buf(), file: Some(file) })
    }

    /// Where the file appears once committed.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("AtomicFile used after commit")
    }

    /// The open file, for a writer that takes it over; `commit` gets it back.
    pub(crate) fn take_file(&mut self) -> File {
        self.file.take().expect("AtomicFile used after commit")
    }

    /// fsync, rename into place, fsync the directory.
    pub fn commit(mut self, file: Option<File>) -> Result<()> {
        let file = file.unwrap_or_else(|| self.take_file());
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable; not all platforms allow opening dirs.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(dest)?;
    f.file().write_all(bytes).map_err(|e| Error::io(dest, e))?;
    f.commit(None)
}
