//! Replication figures: SET throughput on a primary with zero, one and two
//! replicas of the same kind; full-sync time of the keys dataset (REPLICAOF
//! until `master_link_status:up`); and the replication lag in bytes
//! (primary `master_repl_offset` minus the replica's offset) sampled under
//! redis-benchmark load.

use std::time::{Duration, Instant};

use super::client::{info_field, Client, Dataset};
use super::report::{fmt, median, pair, ratio, Table};
use super::server::{Side, Srv};
use super::tool;
use super::Ctx;
use crate::json::Json;

/// Longest a full sync may take.
const SYNC_LIMIT: Duration = Duration::from_secs(120);

/// Both sides start full syncs at once instead of after the default 5 s
/// wait for more replicas; same setting for both.
const PRIMARY_ARGS: &[&str] = &["--repl-diskless-sync-delay", "0"];

/// Points `replica` at `primary` and waits for the link to come up;
/// returns how long that took.
fn attach(replica: &Srv, primary: &Srv) -> Result<Duration, String> {
    let mut c = replica.client()?;
    let t0 = Instant::now();
    c.cmd(&["REPLICAOF", "127.0.0.1", &primary.port().to_string()])?;
    loop {
        let info = c.info("replication")?;
        if info_field(&info, "master_link_status") == Some("up") {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > SYNC_LIMIT {
            return Err(format!(
                "{:?} replica: link not up after {SYNC_LIMIT:?}",
                replica.side
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

struct Row {
    key: String,
    label: String,
    v: [Option<f64>; 2],
    prec: usize,
}

pub fn run(ctx: &Ctx) -> Result<(Table, Json), String> {
    let mut rows = Vec::new();
    throughput(ctx, &mut rows)?;
    sync_and_lag(ctx, &mut rows)?;
    let mut t = Table::new("replication", &["figure", "ours", "ref", "ratio"]);
    let mut json = Vec::new();
    for r in rows {
        t.row(vec![
            r.label,
            fmt(r.v[0], r.prec),
            fmt(r.v[1], r.prec),
            fmt(ratio(r.v[0], r.v[1]), 2),
        ]);
        json.push((r.key, pair(r.v[0], r.v[1])));
    }
    t.notes.push(format!(
        "SET at -P 1, {} requests per run; full sync of {} keys with repl-diskless-sync-delay 0 on both; lag sampled every 10 ms during {} SETs.",
        ctx.opts.requests,
        ctx.opts.keys(),
        ctx.opts.requests * 5
    ));
    Ok((t, Json::Obj(json)))
}

/// Primary plus two idle replicas per side; the replicas are attached one
/// by one between the measurements.
fn throughput(ctx: &Ctx, rows: &mut Vec<Row>) -> Result<(), String> {
    let primaries = ctx.start_pair(PRIMARY_ARGS)?;
    let first = ctx.start_pair(&[])?;
    let second = ctx.start_pair(&[])?;
    for replicas in 0..=2usize {
        if replicas > 0 {
            let group = if replicas == 1 { &first } else { &second };
            for side in Side::BOTH {
                attach(&group[side.idx()], &primaries[side.idx()])?;
            }
        }
        let mut rps = [Vec::new(), Vec::new()];
        let mut p99 = [Vec::new(), Vec::new()];
        for round in 0..ctx.opts.rounds as usize {
            for side in Side::order(round + replicas) {
                let (out, _) = tool::run(&primaries[side.idx()], "set", 1, ctx.opts.requests, &[])?;
                for (_, r, p) in out {
                    rps[side.idx()].push(r);
                    p99[side.idx()].extend(p);
                }
            }
        }
        rows.push(Row {
            key: format!("set_rps_{replicas}_replicas"),
            label: format!("SET rps, {replicas} replica(s)"),
            v: [median(&rps[0]), median(&rps[1])],
            prec: 0,
        });
        rows.push(Row {
            key: format!("set_p99_ms_{replicas}_replicas"),
            label: format!("SET p99 ms, {replicas} replica(s)"),
            v: [median(&p99[0]), median(&p99[1])],
            prec: 3,
        });
    }
    Ok(())
}

fn offset(c: &mut Client, field: &str) -> Result<f64, String> {
    c.info_num("replication", field)
}

/// Full sync of the keys dataset, then the lag under SET load.
fn sync_and_lag(ctx: &Ctx, rows: &mut Vec<Row>) -> Result<(), String> {
    let n = ctx.opts.keys();
    let primaries = ctx.start_pair(PRIMARY_ARGS)?;
    for p in &primaries {
        Dataset::Strings.load(&mut p.client()?, n)?;
    }
    // A fresh replica pair per round, so every sync is a full one; the
    // last pair stays attached for the lag measurement.
    let mut secs = [Vec::new(), Vec::new()];
    let mut replicas = None;
    for round in 0..ctx.opts.rounds.min(2) as usize {
        drop(replicas.take());
        let pair = ctx.start_pair(&[])?;
        for side in Side::order(round + 1) {
            let took = attach(&pair[side.idx()], &primaries[side.idx()])?;
            let size = pair[side.idx()].client()?.dbsize()?;
            if size != n as i64 {
                return Err(format!(
                    "{side:?} replica has {size} of {n} keys after sync"
                ));
            }
            secs[side.idx()].push(took.as_secs_f64());
        }
        replicas = Some(pair);
    }
    let replicas = replicas.ok_or("no replicas")?;
    let sync = [median(&secs[0]), median(&secs[1])];
    rows.push(Row {
        key: "full_sync_seconds".into(),
        label: format!("full sync s ({n} keys)"),
        v: sync,
        prec: 3,
    });

    let mut max_lag = [None, None];
    let mut mean_lag = [None, None];
    for side in Side::order(0) {
        let (p, r) = (&primaries[side.idx()], &replicas[side.idx()]);
        let (mut pc, mut rc) = (p.client()?, r.client()?);
        let load = std::process::Command::new(tool::BENCHMARK)
            .args(["-h", "127.0.0.1", "-p", &p.port().to_string()])
            .args([
                "-t",
                "set",
                "-d",
                "10",
                "-r",
                &n.to_string(),
                "-c",
                tool::CLIENTS,
            ])
            .args(["-n", &(ctx.opts.requests * 5).to_string(), "-q"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", tool::BENCHMARK))?;
        let mut load = Guard(load);
        let t0 = Instant::now();
        let mut lags = Vec::new();
        while load.0.try_wait().map_err(|e| e.to_string())?.is_none() {
            if t0.elapsed() > Duration::from_secs(60) {
                return Err("lag load took over 60 s".into());
            }
            // Replica first: the lag then includes the gap between the two
            // reads, an upper bound rather than a lower one.
            let ro = offset(&mut rc, "slave_repl_offset")?;
            let po = offset(&mut pc, "master_repl_offset")?;
            lags.push((po - ro).max(0.0));
            std::thread::sleep(Duration::from_millis(10));
        }
        max_lag[side.idx()] = lags.iter().copied().reduce(f64::max);
        mean_lag[side.idx()] =
            (!lags.is_empty()).then(|| lags.iter().sum::<f64>() / lags.len() as f64);
    }
    rows.push(Row {
        key: "lag_bytes_max".into(),
        label: "lag under SET load, max bytes".into(),
        v: max_lag,
        prec: 0,
    });
    rows.push(Row {
        key: "lag_bytes_mean".into(),
        label: "lag under SET load, mean bytes".into(),
        v: mean_lag,
        prec: 0,
    });
    Ok(())
}

/// Kills a load generator by PID when dropped.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
