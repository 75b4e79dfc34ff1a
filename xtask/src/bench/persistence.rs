//! Persistence figures: SET throughput with the AOF on (`appendfsync
//! always` and `everysec`); startup time loading the same RDB and AOF
//! (written once by the reference, copied into each server's dir); and a
//! BGSAVE under concurrent SET load, watching the memory growth (the
//! reference's forked child included) and the worst latency of a probe
//! client sending PING every millisecond.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{Client, Dataset};
use super::report::{fmt, median, pair, ratio, Table};
use super::server::{children, copy_tree, fresh_dir, pss, rss, Side, Srv};
use super::tool::{self, Background};
use super::Ctx;
use crate::json::Json;
use redis_testkit::TempDir;

/// Longest a server may take to load the dataset at startup.
const LOAD_LIMIT: Duration = Duration::from_secs(120);
/// Longest a BGSAVE may take.
const SAVE_LIMIT: Duration = Duration::from_secs(120);

/// Rows of the "figure / ours / ref / ratio" table and their JSON.
struct Figures {
    table: Table,
    json: Vec<(String, Json)>,
}

impl Figures {
    fn add(&mut self, key: &str, label: &str, v: [Option<f64>; 2], prec: usize) {
        self.table.row(vec![
            label.into(),
            fmt(v[0], prec),
            fmt(v[1], prec),
            fmt(ratio(v[0], v[1]), 2),
        ]);
        self.json.push((key.into(), pair(v[0], v[1])));
    }
}

pub fn run(ctx: &Ctx) -> Result<(Table, Json), String> {
    let mut f = Figures {
        table: Table::new("persistence", &["figure", "ours", "ref", "ratio"]),
        json: Vec::new(),
    };
    aof_throughput(ctx, &mut f)?;
    load_times(ctx, &mut f)?;
    bgsave(ctx, &mut f)?;
    f.table.notes.push(format!(
        "{} keys (SET key:<12 digits> <10 bytes>); load time is spawn until the first +PONG; BGSAVE growth is the peak over the RSS before the save, in % of it.",
        ctx.opts.keys()
    ));
    Ok((f.table, Json::Obj(f.json)))
}

/// SET at -P 1 with the AOF on, per fsync policy, alternating sides.
fn aof_throughput(ctx: &Ctx, f: &mut Figures) -> Result<(), String> {
    for (mi, mode) in ["always", "everysec"].into_iter().enumerate() {
        let servers = ctx.start_pair(&["--appendonly", "yes", "--appendfsync", mode])?;
        // Every `always` write waits for a disk flush: fewer requests.
        let n = if mode == "always" {
            (ctx.opts.requests / 2).max(1)
        } else {
            ctx.opts.requests
        };
        let mut rps = [Vec::new(), Vec::new()];
        let mut p99 = [Vec::new(), Vec::new()];
        for round in 0..ctx.opts.rounds as usize {
            for side in Side::order(round + mi) {
                let (rows, _) = tool::run(&servers[side.idx()], "set", 1, n, &[])?;
                for (_, r, p) in rows {
                    rps[side.idx()].push(r);
                    p99[side.idx()].extend(p);
                }
            }
        }
        f.add(
            &format!("aof_{mode}_set_rps"),
            &format!("SET rps, appendfsync {mode}"),
            [median(&rps[0]), median(&rps[1])],
            0,
        );
        f.add(
            &format!("aof_{mode}_set_p99_ms"),
            &format!("SET p99 ms, appendfsync {mode}"),
            [median(&p99[0]), median(&p99[1])],
            3,
        );
    }
    Ok(())
}

/// Startup time with the same 1M-key RDB, and the same AOF (a base plus an
/// incr file of SET commands, so the command replay path is what loads).
fn load_times(ctx: &Ctx, f: &mut Figures) -> Result<(), String> {
    let n = ctx.opts.keys();
    // Removed when dropped, so the saved files never outlive the run.
    let files = TempDir::try_new()?;
    {
        let gen = ctx.start(Side::Ref, &["--appendonly", "yes", "--appendfsync", "no"])?;
        let mut c = gen.client()?;
        Dataset::Strings.load(&mut c, n)?;
        c.cmd(&["SAVE"])?;
        std::fs::copy(gen.dir().join("dump.rdb"), files.path().join("dump.rdb"))
            .map_err(|e| format!("copy dump.rdb: {e}"))?;
        // Every write was in the AOF before its reply was sent.
        copy_tree(
            &gen.dir().join("appendonlydir"),
            &files.path().join("appendonlydir"),
        )?;
    }
    for (ki, kind) in ["rdb", "aof"].into_iter().enumerate() {
        let mut secs = [Vec::new(), Vec::new()];
        for round in 0..ctx.opts.rounds.min(2) as usize {
            for side in Side::order(round + ki) {
                let dir = fresh_dir()?;
                let extra: &[&str] = if kind == "rdb" {
                    std::fs::copy(files.path().join("dump.rdb"), dir.join("dump.rdb"))
                        .map_err(|e| format!("copy dump.rdb: {e}"))?;
                    &[]
                } else {
                    copy_tree(
                        &files.path().join("appendonlydir"),
                        &dir.join("appendonlydir"),
                    )?;
                    &["--appendonly", "yes"]
                };
                let mut srv = Srv::spawn(ctx.bin(side), side, dir, extra)?;
                let took = srv.wait_ready(LOAD_LIMIT)?;
                let size = srv.client()?.dbsize()?;
                if size != n as i64 {
                    return Err(format!(
                        "{side:?} loaded {size} of {n} keys from the {kind}"
                    ));
                }
                secs[side.idx()].push(took.as_secs_f64());
            }
        }
        f.add(
            &format!("{kind}_load_seconds"),
            &format!("{} load s", kind.to_uppercase()),
            [median(&secs[0]), median(&secs[1])],
            3,
        );
    }
    Ok(())
}

/// PINGs every millisecond until stopped; returns (sent at, latency).
fn probe(
    mut c: Client,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<Vec<(Instant, Duration)>, String>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            c.cmd(&["PING"])?;
            out.push((t, t.elapsed()));
            let next = t + Duration::from_millis(1);
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        Ok(out)
    })
}

struct SaveFigures {
    rss_pct: f64,
    pss_pct: f64,
    worst_ms: f64,
    secs: f64,
}

fn one_bgsave(ctx: &Ctx, srv: &Srv, n: u64) -> Result<SaveFigures, String> {
    let pid = srv.pid();
    let mut c = srv.client()?;
    let _load = Background::set_load(srv, n, 20)?;
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe(srv.client()?, stop.clone());
    // Let the write load and the probe get going before the baseline.
    std::thread::sleep(Duration::from_millis(500));
    let base_rss = rss(pid, ctx.page).ok_or("statm")? as f64;
    let base_pss = pss(pid).ok_or("smaps_rollup")? as f64;
    let (mut peak_rss, mut peak_pss) = (base_rss, base_pss);
    let t0 = Instant::now();
    let reply = c.cmd(&["BGSAVE"]);
    let mut result = reply.map(|_| ());
    let mut i = 0u64;
    while result.is_ok() {
        let kids = children(pid);
        let sum = |f: &dyn Fn(u32) -> Option<u64>| {
            f(pid).unwrap_or(0) + kids.iter().filter_map(|&k| f(k)).sum::<u64>()
        };
        peak_rss = peak_rss.max(sum(&|p| rss(p, ctx.page)) as f64);
        // PSS and INFO are costlier: every tenth sample (~20 ms).
        if i % 10 == 0 {
            peak_pss = peak_pss.max(sum(&pss) as f64);
            match c.info_num("persistence", "rdb_bgsave_in_progress") {
                Ok(0.0) => break,
                Ok(_) => {}
                Err(e) => result = Err(e),
            }
        }
        if t0.elapsed() > SAVE_LIMIT {
            result = Err(format!("BGSAVE took over {SAVE_LIMIT:?}"));
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let t1 = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let pings = probe.join().map_err(|_| "probe thread panicked")??;
    result?;
    let status = c.info("persistence")?;
    if super::client::info_field(&status, "rdb_last_bgsave_status") != Some("ok") {
        return Err(format!("{:?}: BGSAVE failed", srv.side));
    }
    // Any PING in flight at some point of the save counts.
    let worst = pings
        .iter()
        .filter(|(at, lat)| *at < t1 && *at + *lat > t0)
        .map(|(_, lat)| lat.as_secs_f64() * 1e3)
        .fold(0.0, f64::max);
    Ok(SaveFigures {
        rss_pct: (peak_rss - base_rss) / base_rss * 100.0,
        pss_pct: (peak_pss - base_pss) / base_pss * 100.0,
        worst_ms: worst,
        secs: (t1 - t0).as_secs_f64(),
    })
}

fn bgsave(ctx: &Ctx, f: &mut Figures) -> Result<(), String> {
    let n = ctx.opts.keys();
    let servers = ctx.start_pair(&[])?;
    for srv in &servers {
        Dataset::Strings.load(&mut srv.client()?, n)?;
    }
    let mut got: [Vec<SaveFigures>; 2] = [Vec::new(), Vec::new()];
    for round in 0..ctx.opts.rounds.min(2) as usize {
        for side in Side::order(round) {
            got[side.idx()].push(one_bgsave(ctx, &servers[side.idx()], n)?);
        }
    }
    // Median per figure over the rounds.
    let pick = |g: fn(&SaveFigures) -> f64| {
        let m = |v: &Vec<SaveFigures>| median(&v.iter().map(g).collect::<Vec<_>>());
        [m(&got[0]), m(&got[1])]
    };
    f.add(
        "bgsave_peak_rss_growth_pct",
        "BGSAVE peak RSS growth % (parent+child RSS)",
        pick(|s| s.rss_pct),
        1,
    );
    f.add(
        "bgsave_peak_pss_growth_pct",
        "BGSAVE peak growth % (parent+child PSS)",
        pick(|s| s.pss_pct),
        1,
    );
    f.add(
        "bgsave_worst_ping_ms",
        "BGSAVE worst PING latency ms",
        pick(|s| s.worst_ms),
        2,
    );
    f.add("bgsave_seconds", "BGSAVE duration s", pick(|s| s.secs), 2);
    Ok(())
}
