//! Repository rules checked by `cargo xtask tidy` and, as unit tests, by
//! `cargo test --workspace`:
//! - every `.rs` file under `crates/`, `xtask/` and `tests/` starts with a
//!   `//!` doc header;
//! - workspace crates depend only on crates of a lower layer.
//!
//! Layers: L0 redis-resp, redis-common; L1 redis-config, redis-storage,
//! redis-client, the format crates redis-rdb and redis-aof, and the
//! protocol crates redis-replication, redis-cluster, redis-acl,
//! redis-scripting and redis-net (they know files and protocols, not the
//! engine); L2 redis-engine (state, dispatcher, orchestration of
//! persistence and replication); L3 redis-commands (handlers only); L4 the
//! binaries redis-server, redis-cli, redis-sentinel, redis-proxy,
//! redis-benchmark, redis-check-aof. One exception inside L0: redis-resp may
//! depend on redis-common, because inline requests are split with the
//! shared `split_args` (same quoting as redis.conf and redis-cli), and
//! duplicating that would let the two drift apart. Dev crates
//! (redis-testkit, redis-tests, xtask) are outside the layering and may be
//! used by anyone as dev-dependencies.
//!
//! A second rule keeps the process split of upstream: the separate daemons
//! and tools (redis-sentinel, redis-proxy, redis-cli, redis-benchmark,
//! redis-check-aof) talk to servers over the network and may not depend,
//! even indirectly, on the engine, the command handlers or the storage
//! engine.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::json::{self, Json};

const LAYERS: &[(&str, u8)] = &[
    ("redis-resp", 0),
    ("redis-common", 0),
    ("redis-config", 1),
    ("redis-storage", 1),
    ("redis-client", 1),
    ("redis-cluster", 1),
    ("redis-aof", 1),
    ("redis-rdb", 1),
    ("redis-replication", 1),
    ("redis-acl", 1),
    ("redis-scripting", 1),
    ("redis-net", 1),
    ("redis-engine", 2),
    ("redis-commands", 3),
    ("redis-server", 4),
    ("redis-cli", 4),
    ("redis-sentinel", 4),
    ("redis-proxy", 4),
    ("redis-benchmark", 4),
    ("redis-check-aof", 4),
];

/// Separate processes: they reach servers over the network only.
const NETWORK_ONLY: &[&str] = &[
    "redis-sentinel",
    "redis-proxy",
    "redis-cli",
    "redis-benchmark",
    "redis-check-aof",
];

/// What a network-only process may not link, directly or indirectly.
const SERVER_ONLY: &[&str] = &["redis-engine", "redis-commands", "redis-storage"];

const DEV_CRATES: &[&str] = &["redis-testkit", "redis-tests", "xtask"];

/// Same-layer edges that are allowed on purpose (see the module docs).
const EXCEPTIONS: &[(&str, &str)] = &[("redis-resp", "redis-common")];

/// Runs every check and reports all problems at once.
pub fn run() -> Result<(), String> {
    let root = crate::repo_root();
    let mut problems = missing_doc_headers(&root);
    let meta = cargo_metadata(&root)?;
    problems.extend(layer_violations(&meta));
    problems.extend(process_split_violations(&meta));
    if problems.is_empty() {
        println!("tidy: ok");
        Ok(())
    } else {
        Err(format!(
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    }
}

/// Collects `.rs` files below `dir`, skipping build output and hidden dirs.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if name == "target" || name.starts_with('.') {
                continue;
            }
            rust_files(&p, out);
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// Files under crates/, xtask/, tests/ whose first line is not `//!...`.
pub fn missing_doc_headers(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for d in ["crates", "xtask", "tests"] {
        rust_files(&root.join(d), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.starts_with("//!")
        })
        .map(|f| {
            let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
            format!("{rel}: does not start with a `//!` doc header")
        })
        .collect()
}

/// `cargo metadata --format-version 1 --no-deps`, parsed.
pub fn cargo_metadata(root: &Path) -> Result<Json, String> {
    let out = Command::new(crate::cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    json::parse(&String::from_utf8_lossy(&out.stdout))
}

fn layer_of(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// Every dependency edge between workspace crates that breaks the layering.
pub fn layer_violations(metadata: &Json) -> Vec<String> {
    let packages = metadata.get("packages").map(Json::as_array).unwrap_or(&[]);
    let names: Vec<&str> = packages
        .iter()
        .filter_map(|p| p.get("name")?.as_str())
        .collect();
    let mut problems = Vec::new();
    if names.is_empty() {
        problems.push("cargo metadata listed no packages".to_string());
    }
    for pkg in packages {
        let Some(name) = pkg.get("name").and_then(Json::as_str) else {
            continue;
        };
        if DEV_CRATES.contains(&name) {
            continue;
        }
        let Some(layer) = layer_of(name) else {
            problems.push(format!(
                "{name}: not assigned to a layer (add it to LAYERS in xtask/src/tidy.rs)"
            ));
            continue;
        };
        for dep in pkg.get("dependencies").map(Json::as_array).unwrap_or(&[]) {
            let Some(dep_name) = dep.get("name").and_then(Json::as_str) else {
                continue;
            };
            if !names.contains(&dep_name) {
                continue; // an external crate
            }
            let kind = dep.get("kind").and_then(Json::as_str).unwrap_or("normal");
            if DEV_CRATES.contains(&dep_name) {
                if kind != "dev" {
                    problems.push(format!(
                        "{name} -> {dep_name}: dev crates may only be dev-dependencies"
                    ));
                }
                continue;
            }
            if EXCEPTIONS.contains(&(name, dep_name)) {
                continue;
            }
            match layer_of(dep_name) {
                Some(l) if l < layer => {}
                Some(l) => problems.push(format!(
                    "{name} (L{layer}) -> {dep_name} (L{l}): dependencies must point to a lower layer"
                )),
                None => {} // reported when that package itself is visited
            }
        }
    }
    problems
}

/// Normal (non-dev) dependencies of `name` on workspace crates.
fn normal_deps<'a>(packages: &'a [Json], name: &str) -> Vec<&'a str> {
    let Some(pkg) = packages
        .iter()
        .find(|p| p.get("name").and_then(Json::as_str) == Some(name))
    else {
        return Vec::new();
    };
    pkg.get("dependencies")
        .map(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .filter(|d| d.get("kind").and_then(Json::as_str).unwrap_or("normal") != "dev")
        .filter_map(|d| d.get("name").and_then(Json::as_str))
        .collect()
}

/// Network-only processes that link a server-only crate, with the chain
/// of dependencies that brings it in.
pub fn process_split_violations(metadata: &Json) -> Vec<String> {
    let packages = metadata.get("packages").map(Json::as_array).unwrap_or(&[]);
    let mut problems = Vec::new();
    for &daemon in NETWORK_ONLY {
        // Breadth-first over workspace crates, remembering the path.
        let mut queue: Vec<Vec<&str>> = vec![vec![daemon]];
        let mut seen: Vec<&str> = vec![daemon];
        while let Some(path) = queue.pop() {
            let last = path[path.len() - 1];
            for dep in normal_deps(packages, last) {
                if seen.contains(&dep) {
                    continue;
                }
                seen.push(dep);
                let mut next = path.clone();
                next.push(dep);
                if SERVER_ONLY.contains(&dep) {
                    problems.push(format!(
                        "{}: a separate process may not link {dep}",
                        next.join(" -> ")
                    ));
                } else {
                    queue.push(next);
                }
            }
        }
    }
    problems
}

#[cfg(test)]
#[path = "tidy_tests.rs"]
mod tests;
