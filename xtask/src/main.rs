//! `cargo xtask <command>`: the project's automation entry point.
//!
//! - `test`: install what the tests need (when run as root), then fmt
//!   check, clippy, build, and the whole test suite; the one command CI runs.
//! - `bench [basic|types|memory|persistence|replication…] [--quick]
//!   [--requests N] [--rounds R]`: our server vs the reference (throughput,
//!   memory, persistence, replication), ratios per section; see
//!   docs/operations.md; `sentinel` and `cluster` only when named (see
//!   docs/bench-sentinel.md, docs/bench-cluster.md).
//! - `deb`: Debian packages replacing Debian's redis-server, redis-tools
//!   (and redis-sentinel), under `<target>/debian/`; see docs/install.md.
//! - `e2e`: the packages installed, booted, upgraded and purged in a
//!   Debian bookworm container (root only); CI runs it after `test`.
//! - `stress [SECS] [--seed N]`: the randomized replication stress test
//!   for minutes (default 300 s per test); CI runs its short form.
//! - `upstream [--ci] [UNIT…]`: upstream 7.0.15's test units from
//!   `../shared/upstream-tests` against our binaries; `--ci` is the fast,
//!   stable subset `test` runs.
//! - `tidy`: repository rules (doc headers, crate layering); also run as
//!   unit tests of this crate so `cargo test --workspace` enforces them.

mod bench;
mod bench_cluster;
mod bench_sentinel;
mod deb;
mod e2e;
mod json;
mod stress;
mod test;
mod tidy;
mod upstream;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The workspace root, fixed at compile time from this crate's location.
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    // xtask/ always sits in the workspace root.
    here.parent().unwrap_or(here).to_path_buf()
}

/// The cargo that started us (set by `cargo run`), so nested builds use the
/// same toolchain.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// True when running as root (allowed to install tools with apt).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `cargo build --workspace --bins` in the workspace root.
pub fn build_bins() -> Result<(), String> {
    let status = std::process::Command::new(cargo())
        .args(["build", "--workspace", "--bins"])
        .current_dir(repo_root())
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("cargo build failed".into())
    }
}

const USAGE: &str =
    "usage: cargo xtask <test | bench [SECTION…] [--quick] [--requests N] [--rounds R] | stress [SECS] [--seed N] | upstream [--ci] [--bin DIR] [UNIT…] | tidy | deb | e2e>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("tidy") => tidy::run(),
        Some("deb") => deb::run(&args[1..]),
        Some("e2e") => e2e::run(&args[1..]),
        Some("stress") => stress::run(&args[1..]),
        Some("upstream") => upstream::run(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
