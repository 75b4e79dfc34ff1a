//! The `proxy` section (only when named): what `redis-proxy --static`
//! costs in front of one of our redis-servers (issue 18's benchmark).
//!
//! One release redis-server; in front of it our `redis-proxy --static`
//! and, when `/usr/sbin/nutcracker` exists (Debian's twemproxy, installed
//! by `cargo xtask test`), a nutcracker pool with that single server, both
//! with their default connection settings. `redis-benchmark -t set,get
//! -c 50` runs at `-P 1` and `-P 16` against each of the three endpoints
//! (direct, proxy, nutcracker), the endpoint that goes first rotating per
//! round and pipeline depth; one discarded warm-up run per endpoint opens
//! the backend connections first. The table shows median requests/s per
//! endpoint, the ratios proxy/direct and proxy/nutcracker, the median p50
//! latencies, the p50 a proxy adds to the direct one in µs, and the CPU per
//! request of the process serving the port (the server when direct, the
//! proxy alone otherwise). The targets are reported per row, never
//! asserted. Then the failover window against HAProxy running seed 002's
//! tcp-check, see `proxy_failover`; its table follows this one.
//! Every process is killed by PID when its guard drops.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::report::{self, fmt, median, obj, Table};
use super::server::{fresh_dir, Side};
use super::tool::{self, CsvRow};
use super::Ctx;
use crate::bench_sentinel::{path_str, pick_port, start, Proc, Scratch};
use crate::json::Json;

/// Debian's twemproxy.
pub const NUTCRACKER: &str = "/usr/sbin/nutcracker";
const PIPELINES: &[u32] = &[1, 16];
const TESTS: &str = "set,get";
/// Requests of one run per test: `--requests` times this at -P 1 and at
/// -P 16 (pipelined runs are that much faster).
const SCALE_P1: u64 = 2;
const SCALE_P16: u64 = 10;
/// Requests of the discarded warm-up run per endpoint.
const WARMUP: u64 = 1_000;

/// The targets (table notes, not assertions).
const MIN_VS_DIRECT_P1: f64 = 0.95;
const MAX_ADDED_P50_US: f64 = 100.0;

/// The endpoints, in column order.
const DIRECT: usize = 0;
const PROXY: usize = 1;
const NUTC: usize = 2;
const NAMES: [&str; 3] = ["direct", "proxy", "nutcracker"];

/// One endpoint: its loopback port and the PID whose CPU is counted.
struct Endpoint {
    which: usize,
    port: u16,
    pid: u32,
}

#[derive(Default)]
struct Samples {
    rps: Vec<f64>,
    p50: Vec<f64>,
    cpu_ticks: f64,
    requests: u64,
}

impl Samples {
    fn rps(&self) -> Option<f64> {
        median(&self.rps)
    }

    fn p50(&self) -> Option<f64> {
        median(&self.p50)
    }

    fn cpu_us(&self, tick: f64) -> Option<f64> {
        (self.requests > 0).then(|| self.cpu_ticks / tick * 1e6 / self.requests as f64)
    }
}

/// Samples keyed by (test, pipeline, endpoint), rows in first-seen order.
#[derive(Default)]
struct Acc {
    order: Vec<(String, u32)>,
    data: BTreeMap<(String, u32, usize), Samples>,
}

impl Acc {
    fn add(&mut self, which: usize, pipeline: u32, n: u64, rows: Vec<CsvRow>, ticks: u64) {
        let n_rows = rows.len() as f64;
        for r in rows {
            if !self.order.contains(&(r.test.clone(), pipeline)) {
                self.order.push((r.test.clone(), pipeline));
            }
            let s = self.data.entry((r.test, pipeline, which)).or_default();
            s.rps.push(r.rps);
            s.p50.extend(r.p50);
            // The CPU of one invocation is shared by its rows.
            s.cpu_ticks += ticks as f64 / n_rows;
            s.requests += n;
        }
    }

    fn get(&self, test: &str, pipeline: u32, which: usize) -> Option<&Samples> {
        self.data.get(&(test.to_string(), pipeline, which))
    }
}

fn requests(ctx: &Ctx, pipeline: u32) -> u64 {
    let scale = if pipeline == 1 { SCALE_P1 } else { SCALE_P16 };
    ctx.opts.requests.saturating_mul(scale).max(1)
}

/// Our proxy in `root/proxy` on a fresh port, in front of `backend`.
fn start_proxy(
    bin: &Path,
    root: &Path,
    taken: &mut Vec<u16>,
    backend: u16,
) -> Result<Proc, String> {
    start("redis-proxy", root, "proxy", taken, &|port, dir| {
        let mut cmd = Command::new(bin);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--static", &format!("127.0.0.1:{backend}")])
            .args(["--logfile", &format!("{}/log", path_str(dir)?)]);
        Ok(cmd)
    })
}

/// The nutcracker pool: one server, as in twemproxy's examples.
fn nutcracker_yml(port: u16, backend: u16) -> String {
    format!(
        "alpha:\n  listen: 127.0.0.1:{port}\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n  servers:\n   - 127.0.0.1:{backend}:1\n"
    )
}

/// nutcracker in `root/nutcracker` on a fresh port in front of `backend`,
/// its stats listener on another fresh loopback port (not 22222).
fn start_nutcracker(root: &Path, taken: &mut Vec<u16>, backend: u16) -> Result<Proc, String> {
    let stats = pick_port(taken)?;
    taken.push(stats);
    start("nutcracker", root, "nutcracker", taken, &|port, dir| {
        let d = path_str(dir)?;
        let conf = dir.join("nutcracker.yml");
        std::fs::write(&conf, nutcracker_yml(port, backend))
            .map_err(|e| format!("{}: {e}", conf.display()))?;
        let mut cmd = Command::new(NUTCRACKER);
        cmd.args(["-c", &format!("{d}/nutcracker.yml")])
            .args(["-o", &format!("{d}/log"), "-p", &format!("{d}/pid")])
            .args(["-s", &stats.to_string(), "-a", "127.0.0.1"]);
        Ok(cmd)
    })
}

/// Which of the targets a row misses ("met" when none).
fn targets(
    pipeline: u32,
    vs_direct: Option<f64>,
    vs_nutcracker: Option<f64>,
    added_p50_us: Option<f64>,
) -> String {
    let mut missed = Vec::new();
    if vs_nutcracker.is_some_and(|r| r < 1.0) {
        missed.push("<nutcracker".to_string());
    }
    if pipeline == 1 && vs_direct.is_some_and(|r| r < MIN_VS_DIRECT_P1) {
        missed.push(format!("<{MIN_VS_DIRECT_P1}x direct"));
    }
    if added_p50_us.is_some_and(|us| us > MAX_ADDED_P50_US) {
        missed.push(format!("p50>+{MAX_ADDED_P50_US:.0}us"));
    }
    if vs_direct.is_none() {
        "-".into()
    } else if missed.is_empty() {
        "met".into()
    } else {
        format!("missed {}", missed.join(" "))
    }
}

/// p50 of `a` minus p50 of `b`, in µs.
fn added_us(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some((a? - b?) * 1000.0)
}

fn render(acc: &Acc, ctx: &Ctx, stopped_early: bool, nutcracker: bool) -> (Table, Json) {
    let mut t = Table::new(
        "proxy: redis-benchmark -t set,get -c 50 direct / redis-proxy --static / nutcracker",
        &[
            "test",
            "P",
            "direct rps",
            "proxy rps",
            "nutcr rps",
            "proxy/direct",
            "proxy/nutcr",
            "p50 ms d/p/n",
            "added p50 us p/n",
            "cpu us/req d/p/n",
            "issue-18 targets",
        ],
    );
    let mut json = Vec::new();
    for (test, p) in &acc.order {
        let s = |w: usize| acc.get(test, *p, w);
        let rps = |w: usize| s(w).and_then(Samples::rps);
        let p50 = |w: usize| s(w).and_then(Samples::p50);
        let cpu = |w: usize| s(w).and_then(|s| s.cpu_us(ctx.tick));
        let vs_direct = report::ratio(rps(PROXY), rps(DIRECT));
        let vs_nutc = report::ratio(rps(PROXY), rps(NUTC));
        let added_proxy = added_us(p50(PROXY), p50(DIRECT));
        let added_nutc = added_us(p50(NUTC), p50(DIRECT));
        let three = |f: &dyn Fn(usize) -> Option<f64>, prec: usize| {
            format!(
                "{}/{}/{}",
                fmt(f(DIRECT), prec),
                fmt(f(PROXY), prec),
                fmt(f(NUTC), prec)
            )
        };
        t.row(vec![
            test.clone(),
            p.to_string(),
            fmt(rps(DIRECT), 0),
            fmt(rps(PROXY), 0),
            fmt(rps(NUTC), 0),
            fmt(vs_direct, 2),
            fmt(vs_nutc, 2),
            three(&p50, 3),
            format!("{}/{}", fmt(added_proxy, 0), fmt(added_nutc, 0)),
            three(&cpu, 2),
            targets(*p, vs_direct, vs_nutc, added_proxy),
        ]);
        let per = |f: &dyn Fn(usize) -> Option<f64>| {
            Json::Obj(
                NAMES
                    .iter()
                    .enumerate()
                    .map(|(w, name)| (name.to_string(), report::num(f(w))))
                    .collect(),
            )
        };
        json.push(obj(vec![
            ("test", report::s(test)),
            ("pipeline", Json::Num(p.to_string())),
            ("requests_per_run", Json::Num(requests(ctx, *p).to_string())),
            ("rps", per(&rps)),
            ("ratio_proxy_direct", report::num(vs_direct)),
            ("ratio_proxy_nutcracker", report::num(vs_nutc)),
            ("p50_ms", per(&p50)),
            (
                "added_p50_us",
                obj(vec![
                    ("proxy", report::num(added_proxy)),
                    ("nutcracker", report::num(added_nutc)),
                ]),
            ),
            ("cpu_us_per_request", per(&cpu)),
        ]));
    }
    t.notes.push(format!(
        "{} rounds; {}x --requests per run at -P 1, {}x at -P 16 ({} and {}); {} clients; added p50 = p50 through the proxy - p50 direct.",
        ctx.opts.rounds,
        SCALE_P1,
        SCALE_P16,
        requests(ctx, 1),
        requests(ctx, 16),
        tool::CLIENTS
    ));
    t.notes.push(format!(
        "issue-18 targets (not asserted): proxy >= nutcracker at both depths, >= {MIN_VS_DIRECT_P1}x direct at -P 1, added p50 <= {MAX_ADDED_P50_US:.0} us."
    ));
    t.notes.push(
        "cpu = the serving process only: the server when direct, the proxy alone (not its backend) otherwise; resolution one clock tick.".into(),
    );
    if !nutcracker {
        t.notes.push(format!(
            "{NUTCRACKER} not installed (`apt-get install nutcracker`, or `cargo xtask test` as root): no nutcracker column."
        ));
    }
    if stopped_early {
        t.notes
            .push("stopped early: time budget reached (fewer rounds than asked)".into());
    }
    (t, Json::Arr(json))
}

/// Throughput first (its processes are gone before the failover rounds
/// start), then the failover window against HAProxy, whose table is
/// appended below this one and whose figures go under `failover`.
pub fn run(ctx: &Ctx) -> Result<(Table, Json), String> {
    let bin = ctx
        .ours_proxy
        .as_deref()
        .ok_or("our redis-proxy was not built")?;
    let (mut t, json) = throughput(ctx, bin)?;
    let (ft, fjson) = super::proxy_failover::run(ctx, bin)?;
    t.notes.push(String::new());
    t.notes.extend(
        ft.render()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string),
    );
    let Json::Obj(mut fields) = json else {
        return Err("proxy: throughput figures are not an object".into());
    };
    fields.push(("failover".to_string(), fjson));
    Ok((t, Json::Obj(fields)))
}

fn throughput(ctx: &Ctx, bin: &Path) -> Result<(Table, Json), String> {
    // Declared first so it is removed after the processes in it are gone.
    let root = Scratch(fresh_dir()?);
    let server = ctx.start(Side::Ours, &[])?;
    let mut taken = vec![server.port()];
    let proxy = start_proxy(bin, &root.0, &mut taken, server.port())?;
    let nutcracker = if Path::new(NUTCRACKER).is_file() {
        Some(start_nutcracker(&root.0, &mut taken, server.port())?)
    } else {
        eprintln!("bench: proxy: {NUTCRACKER} missing, measuring without it");
        None
    };
    let mut endpoints = vec![
        Endpoint {
            which: DIRECT,
            port: server.port(),
            pid: server.pid(),
        },
        Endpoint {
            which: PROXY,
            port: proxy.port(),
            pid: proxy.pid(),
        },
    ];
    if let Some(n) = &nutcracker {
        endpoints.push(Endpoint {
            which: NUTC,
            port: n.port(),
            pid: n.pid(),
        });
    }
    // On failure, the proxies' logs tell why.
    let tails = || {
        let mut s = proxy.tail(20);
        if let Some(n) = &nutcracker {
            s.push_str(&n.tail(20));
        }
        s
    };
    let sample = |e: &Endpoint, pipeline: u32, n: u64| {
        tool::run_at(e.port, e.pid, TESTS, pipeline, n)
            .map_err(|err| format!("{} endpoint: {err}\n{}", NAMES[e.which], tails()))
    };
    for e in &endpoints {
        sample(e, 1, WARMUP)?;
    }
    let mut acc = Acc::default();
    let mut stopped_early = false;
    let started = Instant::now();
    'rounds: for round in 0..ctx.opts.rounds as usize {
        for (pi, &pipeline) in PIPELINES.iter().enumerate() {
            if started.elapsed() > ctx.opts.budget() {
                stopped_early = true;
                break 'rounds;
            }
            let n = requests(ctx, pipeline);
            for k in 0..endpoints.len() {
                let e = &endpoints[(round + pi + k) % endpoints.len()];
                let (rows, ticks) = sample(e, pipeline, n)?;
                acc.add(e.which, pipeline, n, rows, ticks);
            }
        }
        eprintln!(
            "bench: proxy: round {} done after {:.0?}",
            round + 1,
            started.elapsed()
        );
    }
    let (t, rows) = render(&acc, ctx, stopped_early, nutcracker.is_some());
    let json = obj(vec![
        ("nutcracker", Json::Bool(nutcracker.is_some())),
        ("rows", rows),
    ]);
    // nutcracker, the proxy and the server are killed here, then `root`
    // is removed.
    Ok((t, json))
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
