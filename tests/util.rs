//! Repository paths for the test modules. Required tools, bounded runs
//! and process guards are the testkit's (`redis_testkit::process`).

use std::path::{Path, PathBuf};

/// The workspace root (parent of this package's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Directory holding the differential scripts.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}
