//! `cargo xtask test`: the single command that CI and developers run.
//! Installs missing tools when running as root (Debian redis packages for
//! the reference server and client tools, a `.venv` with redis-py), then
//! runs fmt check, clippy, build and the whole test suite, and reports each
//! step. Every step runs even after a failure so one run shows everything;
//! the exit status is non-zero if any step failed.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const DEBIAN_TOOLS: &[&str] = &[
    "/usr/bin/redis-server",
    "/usr/bin/redis-cli",
    "/usr/bin/redis-benchmark",
    "/usr/bin/redis-check-aof",
    "/usr/bin/redis-check-rdb",
    // The replication tests run HAProxy in front of two servers, as the
    // guides deploy it.
    "/usr/sbin/haproxy",
    // The multi-host Sentinel tests partition network namespaces with
    // nftables drop rules (tests/sentinel_netns.rs).
    "/usr/sbin/nft",
    // `cargo xtask bench proxy` compares redis-proxy with twemproxy.
    "/usr/sbin/nutcracker",
];

/// Runs a command with inherited output; Ok if it exited 0.
fn step(cmd: &mut Command) -> Result<(), String> {
    let desc = format!("{cmd:?}");
    println!("xtask: running {desc}");
    let status = cmd.status().map_err(|e| format!("{desc}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{desc}: {status}"))
    }
}

/// Installs Debian's redis-server and redis-tools if any tool is missing.
fn ensure_debian_tools() -> Result<(), String> {
    let missing: Vec<&str> = DEBIAN_TOOLS
        .iter()
        .copied()
        .filter(|p| !Path::new(p).is_file())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !crate::is_root() {
        return Err(format!(
            "missing {missing:?}; run as root or `sudo apt-get install redis-server redis-tools`"
        ));
    }
    step(Command::new("apt-get").arg("update"))?;
    step(
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "redis-server",
                "redis-tools",
                "haproxy",
                "nftables",
                "nutcracker",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    // The package may start a service on 6379; the tests never use that
    // port, so it is left alone.
    Ok(())
}

/// Creates `.venv` with redis-py (and pytest) if it is missing or broken;
/// pinned, so a release elsewhere cannot change what the tests run.
fn ensure_venv(root: &Path) -> Result<(), String> {
    let python = root.join(".venv/bin/python");
    let works = python.is_file()
        && Command::new(&python)
            .args([
                "-c",
                "import sys, redis, pytest; sys.exit(0 if (redis.__version__, pytest.__version__) == ('8.1.0', '9.2.0') else 1)",
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if works {
        return Ok(());
    }
    if !python.is_file() {
        step(
            Command::new("python3")
                .args(["-m", "venv", ".venv"])
                .current_dir(root),
        )?;
    }
    step(
        Command::new(root.join(".venv/bin/pip"))
            .args(["install", "--quiet", "redis==8.1.0", "pytest==9.2.0"])
            .current_dir(root),
    )
}

pub fn run() -> Result<(), String> {
    let root = crate::repo_root();
    let cargo = crate::cargo();
    let started = Instant::now();
    let mut results: Vec<(&str, Result<(), String>)> = Vec::new();
    results.push(("install redis tools", ensure_debian_tools()));
    results.push(("python .venv", ensure_venv(&root)));
    let mut cargo_step = |name: &'static str, args: &[&str]| {
        let r = step(Command::new(&cargo).args(args).current_dir(&root));
        results.push((name, r));
    };
    cargo_step("fmt", &["fmt", "--all", "--", "--check"]);
    cargo_step(
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    );
    cargo_step("build", &["build", "--workspace", "--bins"]);
    cargo_step("test", &["test", "--workspace"]);
    // Upstream's own units, the fast and stable subset (binaries of the
    // build step above).
    let bin = root.join("target/debug").display().to_string();
    let ci_args = vec!["--ci".to_string(), "--bin".to_string(), bin];
    results.push(("upstream units (CI subset)", crate::upstream::run(&ci_args)));

    println!("\nxtask test summary ({:.0?}):", started.elapsed());
    let mut failed = 0;
    for (name, r) in &results {
        match r {
            Ok(()) => println!("  ok      {name}"),
            Err(e) => {
                failed += 1;
                println!("  FAILED  {name}: {e}");
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} step(s) failed"))
    }
}
