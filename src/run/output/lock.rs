//! The output folder's lock: two runs pointed at the same folder must not
//! interleave their files. A run creates `.pixtape.lock` (exclusively) with
//! its pid, host and start time, and removes it when it ends. A second run
//! refuses, naming the lock and its holder. A lock whose holder is gone (a
//! killed run on this host: no such pid) is stale and is taken over; a
//! lock from another host cannot be checked from here, so the message says
//! how to remove it by hand once no run is using the folder.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const LOCK_FILE: &str = ".pixtape.lock";

/// Held while a run writes its folder; removed on drop.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

/// Who holds a lock, as its file says.
#[derive(Debug, PartialEq, Eq)]
struct Holder {
    pid: u32,
    host: String,
    since: String,
}

impl OutputLock {
    /// Locks `dir` (which must exist) for this process.
    pub fn acquire(dir: &Path) -> Result<OutputLock> {
        let path = dir.join(LOCK_FILE);
        let me = Holder {
            pid: std::process::id(),
            host: host(),
            since: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let text = format!("pid={}\nhost={}\nsince={}\n", me.pid, me.host, me.since);
                    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| Error::io(&path, e))?;
                    return Ok(OutputLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|t| parse(&t));
                    match holder {
                        Some(h) if h.host == me.host && !alive(h.pid) => {
                            // A killed run's lock: take it over.
                            let _ = std::fs::remove_file(&path);
                        }
                        Some(h) if h.host == me.host => {
                            return Err(Error::input(
                                &path,
                                format!(
                                    "another pixtape run (pid {} on this host, since {}) is writing this folder; \
                                     wait for it, or write elsewhere",
                                    h.pid, h.since
                                ),
                            ));
                        }
                        Some(h) => {
                            return Err(Error::input(
                                &path,
                                format!(
                                    "a pixtape run on host {} (pid {}, since {}) holds this folder; if no run is \
                                     using it any more, remove the lock file",
                                    h.host, h.pid, h.since
                                ),
                            ));
                        }
                        None => {
                            // Unreadable or half-written: its writer died
                            // between creating and filling it.
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::input(&path, "could not take the lock: another run took it at the same moment"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn parse(text: &str) -> Option<Holder> {
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(str::to_string);
    Some(Holder {
        pid: field("pid=")?.parse().ok()?,
        host: field("host=")?,
        since: field("since=").unwrap_or_default(),
    })
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether process `pid` exists on this host. Where `/proc` is missing
/// (macOS, Windows), every holder counts as alive: refusing is safe,
/// taking over a live run's folder is not.
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}
