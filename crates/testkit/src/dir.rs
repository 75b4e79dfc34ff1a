//! Private scratch directories under the system temp dir: unique per
//! process and call, so concurrent tests never share one, and removed when
//! their [`TempDir`] drops, even when the test fails.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates a fresh private directory under the system temp dir; the caller
/// removes it (see [`TempDir`] for one that removes itself).
pub fn fresh_dir() -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = base.join(format!("redis-testkit-{}-{n}-{nanos}", std::process::id()));
        if std::fs::create_dir(&p).is_ok() {
            return Ok(p);
        }
    }
    Err(format!(
        "could not create a temp dir under {}",
        base.display()
    ))
}

/// A fresh private directory, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates one; panics (failing the test) when that is impossible.
    pub fn new() -> TempDir {
        TempDir::try_new().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`TempDir::new`] that reports the failure instead of panicking.
    pub fn try_new() -> Result<TempDir, String> {
        fresh_dir().map(TempDir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The path as text, for server arguments (`--dir`); temp dirs are
    /// UTF-8 here, and a test fails if one is not.
    pub fn path_str(&self) -> &str {
        self.0
            .to_str()
            .unwrap_or_else(|| panic!("{} is not UTF-8", self.0.display()))
    }
}

/// A `TempDir` stands wherever a `&Path` is wanted (`dir.join(..)`,
/// `&dir`), so code written for a plain directory keeps working.
impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> TempDir {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
#[path = "dir_tests.rs"]
mod tests;
