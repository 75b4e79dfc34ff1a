//! `cargo xtask bench [SECTION…] [--quick] [--requests N] [--rounds R] [--budget S]`:
//! our release server against the reference, both started with equal
//! settings (loopback, free ports, private dirs, no persistence unless the
//! section is about it). This is the only place performance is measured;
//! no test asserts on timings.
//!
//! Sections (default: all, in this order):
//! - `basic`: redis-benchmark SET GET INCR MSET PING at -P 1 and -P 16;
//! - `types`: LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD LRANGE_100/600;
//! - `memory`: resident and `used_memory` bytes per item for four datasets;
//! - `persistence`: AOF write throughput, RDB/AOF load time, BGSAVE memory
//!   growth and latency under write load;
//! - `replication`: write throughput with replicas, full-sync time, lag;
//! - `scripts`: EVALSHA/FCALL throughput and the memory of 10,000 cached
//!   scripts;
//! - `access`: SET/GET as an ACL user against the default user, and with
//!   50 BCAST tracking clients (see `access`);
//! - `sentinel` (only when named, not part of the default or `all`): how
//!   fast our redis-sentinel + redis-server fail over against Debian's,
//!   see `crate::bench_sentinel`; `--rounds R` sets its rounds per side
//!   (default 5, quick 2).
//! - `cluster` (only when named): 3-primary clusters of ours and of the
//!   reference under `redis-benchmark --cluster`, failover time after
//!   kill -9 of a primary, and the memory of the keys-per-slot index, see
//!   `crate::bench_cluster`; `--rounds R` sets both its throughput rounds
//!   and its failover rounds per side (defaults 3 and 5, quick 1 and 2).
//! - `proxy` (only when named): redis-benchmark SET/GET at -P 1 and -P 16
//!   direct to our redis-server, through our `redis-proxy --static` and
//!   through Debian's nutcracker (twemproxy) when installed, in front of
//!   that same server: requests/s, ratios and the p50 a proxy adds, see
//!   `proxy`; then the client-visible unavailability of a Sentinel
//!   failover through our redis-proxy against HAProxy with seed 002's
//!   tcp-check, both in front of the same group (`proxy_failover`), in
//!   plain rounds and in rounds where the proxy runs with
//!   `--failover-on-refused-ms`. `--rounds R` sets its throughput rounds
//!   and its failover rounds of each kind (default 5, quick 2).
//!
//! Every figure is a pair measured in the same run and reported as the
//! ratio ours/reference; repeated runs alternate which server goes first so
//! that noise from other load on the machine hits both sides alike. Each
//! section prints a table; all figures also go to `<target>/bench/last.json`.
//! Every server and load generator is killed by PID when its owner is
//! dropped, so a failing section leaves nothing running.

mod access;
pub(crate) mod client;
mod memory;
mod persistence;
mod proxy;
mod proxy_failover;
mod replication;
pub(crate) mod report;
mod scripts;
pub(crate) mod server;
mod throughput;
pub(crate) mod tool;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::json::Json;

const SECTIONS: &[&str] = &[
    "basic",
    "types",
    "scripts",
    "access",
    "memory",
    "persistence",
    "replication",
];

/// Sections run only when named: they need more than the rest (the
/// sentinel section: our redis-sentinel and redis-py in `.venv`; the
/// cluster section: a dozen processes per round and minutes; the proxy
/// section: our redis-proxy and Debian's nutcracker).
const EXTRA_SECTIONS: &[&str] = &["sentinel", "cluster", "proxy"];

/// What to run and how much; `--quick` shrinks everything so that a full
/// quick run stays under a minute.
pub struct Options {
    pub requests: u64,
    pub rounds: u32,
    pub quick: bool,
    /// `--budget S`: seconds per throughput table (default 60, quick 10).
    pub budget_secs: Option<u64>,
    /// Failover rounds per side of the sentinel and cluster sections:
    /// `--rounds R` when given, else 5 (quick: 2).
    pub sentinel_rounds: u32,
    sections: Vec<String>,
}

impl Options {
    /// Keys of the large string dataset (persistence, replication, memory).
    pub fn keys(&self) -> u64 {
        if self.quick {
            100_000
        } else {
            1_000_000
        }
    }

    /// Keys of the collection datasets (10 elements each).
    pub fn collections(&self) -> u64 {
        self.keys() / 10
    }

    /// Time budget of a throughput table; remaining rounds are skipped.
    pub fn budget(&self) -> Duration {
        let default = if self.quick { 10 } else { 60 };
        Duration::from_secs(self.budget_secs.unwrap_or(default))
    }
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        requests: 20_000,
        rounds: 3,
        quick: false,
        budget_secs: None,
        sentinel_rounds: 5,
        sections: Vec::new(),
    };
    let mut requests = None;
    let mut rounds = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--requests" => {
                requests = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .ok_or("--requests N")?,
                )
            }
            "--rounds" => {
                rounds = Some(it.next().and_then(|v| v.parse().ok()).ok_or("--rounds R")?)
            }
            "--budget" => {
                o.budget_secs = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .ok_or("--budget SECONDS")?,
                )
            }
            "all" => o.sections.extend(SECTIONS.iter().map(|s| s.to_string())),
            s if SECTIONS.contains(&s) || EXTRA_SECTIONS.contains(&s) => {
                o.sections.push(s.to_string())
            }
            other => {
                return Err(format!(
                    "unknown bench option or section {other} (sections: {}; only when named: {})",
                    SECTIONS.join(" "),
                    EXTRA_SECTIONS.join(" ")
                ))
            }
        }
    }
    if o.quick {
        o.requests = 5_000;
        o.rounds = 1;
        o.sentinel_rounds = 2;
    }
    o.requests = requests.unwrap_or(o.requests);
    o.rounds = rounds.unwrap_or(o.rounds).max(1);
    o.sentinel_rounds = rounds.unwrap_or(o.sentinel_rounds).max(1);
    if o.sections.is_empty() {
        o.sections = SECTIONS.iter().map(|s| s.to_string()).collect();
    }
    Ok(o)
}

/// Everything a section needs: the two binaries and the options.
pub struct Ctx {
    pub ours: PathBuf,
    /// Our redis-sentinel, built only when the sentinel section runs.
    pub ours_sentinel: Option<PathBuf>,
    /// Our redis-proxy, built only when the proxy section runs.
    pub ours_proxy: Option<PathBuf>,
    pub reference: PathBuf,
    pub opts: Options,
    pub tick: f64,
    pub page: u64,
}

impl Ctx {
    pub fn bin(&self, side: server::Side) -> &std::path::Path {
        match side {
            server::Side::Ours => &self.ours,
            server::Side::Ref => &self.reference,
        }
    }

    /// Starts one server of `side` with the standard settings plus `extra`.
    pub fn start(&self, side: server::Side, extra: &[&str]) -> Result<server::Srv, String> {
        server::Srv::start(self.bin(side), side, extra)
    }

    /// A pair `[ours, reference]` with equal settings.
    pub fn start_pair(&self, extra: &[&str]) -> Result<[server::Srv; 2], String> {
        Ok([
            self.start(server::Side::Ours, extra)?,
            self.start(server::Side::Ref, extra)?,
        ])
    }
}

pub(crate) fn target_dir() -> PathBuf {
    let root = crate::repo_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d), // join keeps absolute paths as they are
        None => root.join("target"),
    }
}

/// Our binaries `names` (redis-server first): from REDIS_RS_BIN_DIR when
/// set (as in the tests), e.g. /usr/bin to check the harness itself;
/// otherwise one release build of all of them.
fn ours_binaries(names: &[&str]) -> Result<Vec<PathBuf>, String> {
    let dir = match std::env::var_os("REDIS_RS_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let mut cmd = Command::new(crate::cargo());
            cmd.args(["build", "--release"]);
            for n in names {
                cmd.args(["-p", n]);
            }
            let status = cmd
                .current_dir(crate::repo_root())
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("release build of {} failed", names.join(", ")));
            }
            target_dir().join("release")
        }
    };
    names
        .iter()
        .map(|n| {
            let bin = dir.join(n);
            if bin.is_file() {
                Ok(bin)
            } else {
                Err(format!("{} not found", bin.display()))
            }
        })
        .collect()
}

pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse_options(args)?;
    let sentinel = opts.sections.iter().any(|s| s == "sentinel");
    let proxy = opts.sections.iter().any(|s| s == "proxy");
    let needs_benchmark = opts.sections.iter().any(|s| s != "sentinel");
    if needs_benchmark && !std::path::Path::new(tool::BENCHMARK).is_file() {
        return Err(format!(
            "{} missing: run `cargo xtask test` (installs redis-tools) first",
            tool::BENCHMARK
        ));
    }
    let mut names = vec!["redis-server"];
    // The proxy section's failover rounds run our sentinels too.
    if sentinel || proxy {
        names.push("redis-sentinel");
    }
    if proxy {
        names.push("redis-proxy");
    }
    let bins = ours_binaries(&names)?;
    let bin = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| bins.get(i).cloned())
    };
    let ctx = Ctx {
        ours: bin("redis-server").ok_or("no redis-server")?,
        ours_sentinel: bin("redis-sentinel"),
        ours_proxy: bin("redis-proxy"),
        reference: PathBuf::from("/usr/bin/redis-server"),
        opts,
        tick: server::clock_ticks_per_sec(),
        page: server::page_size(),
    };
    let started = Instant::now();
    let mut figures: Vec<(String, Json)> = Vec::new();
    let mut failures = Vec::new();
    for section in ctx.opts.sections.clone() {
        let t = Instant::now();
        eprintln!("bench: {section} ...");
        let result = match section.as_str() {
            "basic" => throughput::basic(&ctx),
            "types" => throughput::types(&ctx),
            "memory" => memory::run(&ctx),
            "persistence" => persistence::run(&ctx),
            "replication" => replication::run(&ctx),
            "scripts" => scripts::run(&ctx),
            "access" => access::run(&ctx),
            "sentinel" => crate::bench_sentinel::run(&ctx),
            "cluster" => crate::bench_cluster::run(&ctx),
            "proxy" => proxy::run(&ctx),
            _ => Err(format!("no section {section}")),
        };
        match result {
            Ok((table, json)) => {
                print!("{}", table.render());
                println!("  ({section}: {:.0?})", t.elapsed());
                figures.push((section, json));
            }
            Err(e) => {
                eprintln!("bench: {section} failed: {e}");
                figures.push((section.clone(), report::obj(vec![("error", report::s(&e))])));
                failures.push(section);
            }
        }
    }
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let doc = report::obj(vec![
        ("unix_time", Json::Num(unix.to_string())),
        ("quick", Json::Bool(ctx.opts.quick)),
        ("requests", Json::Num(ctx.opts.requests.to_string())),
        ("rounds", Json::Num(ctx.opts.rounds.to_string())),
        ("ours", report::s(&ctx.ours.display().to_string())),
        (
            "ours_sentinel",
            ctx.ours_sentinel
                .as_ref()
                .map_or(Json::Null, |p| report::s(&p.display().to_string())),
        ),
        (
            "ours_proxy",
            ctx.ours_proxy
                .as_ref()
                .map_or(Json::Null, |p| report::s(&p.display().to_string())),
        ),
        ("reference", report::s(&ctx.reference.display().to_string())),
        (
            "seconds",
            report::num(Some(started.elapsed().as_secs_f64())),
        ),
        ("sections", Json::Obj(figures)),
    ]);
    let mut text = String::new();
    report::to_json(&doc, 0, &mut text);
    text.push('\n');
    let out = target_dir().join("bench/last.json");
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "\nratio = ours/reference (higher is better for throughput, lower for time, latency, memory, lag); {:.0?} in all; figures in {}",
        started.elapsed(),
        out.display()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("bench sections failed: {}", failures.join(", ")))
    }
}

#[cfg(test)]
#[path = "bench_tests.rs"]
mod tests;
