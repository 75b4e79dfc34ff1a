//! The `access` section (issue 17's benchmarks):
//!
//! - ACL cost: redis-benchmark SET/GET as a user limited to `key:*`
//!   against the same run as the unrestricted `default` user, on each
//!   server (the ratio user/default is the cost of the checks; the
//!   reference's own ratio is shown beside ours).
//! - Tracking: SET/GET with 50 extra connections in `CLIENT TRACKING on
//!   BCAST PREFIX key:` mode, so every SET sends 50 invalidations; ours
//!   against the reference in the same setup. The tracking connections
//!   are drained by a thread so their replies never pile up.
//!
//! - The ACL cost is also shown as the server's CPU time per request,
//!   default over user (`cpu` columns, 1.0 = no cost): on this 2-core
//!   VM redis-benchmark and the server share the cores, so throughput
//!   at `-P 16` moves with scheduling as well as with the server's work.
//!
//! Both comparisons run their two sides back to back in each round (user
//! and default, ours and the reference) and report the median of the
//! rounds' ratios (and the median requests/s of each side).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::report::{self, fmt, median, obj, Table};
use super::server::{cpu_ns, Side, Srv};
use super::tool;
use super::Ctx;
use crate::json::Json;

const TESTS: &[&str] = &["set", "get"];
const PIPELINES: &[u32] = &[1, 16];
const TRACKERS: usize = 50;
const USER_ARGS: &[&str] = &["--user", "app", "-a", "app-pass"];

/// Creates the limited user on `s`.
fn add_user(s: &Srv) -> Result<(), String> {
    let mut c = s.client()?;
    c.cmd(&[
        "ACL",
        "SETUSER",
        "app",
        "on",
        ">app-pass",
        "~key:*",
        "&*",
        "+@all",
    ])?;
    Ok(())
}

/// Requests/s of one redis-benchmark run of `test` at `pipeline` with
/// `extra` arguments, and the server's CPU time per request (ns, all its
/// threads, from schedstat).
fn once(
    ctx: &Ctx,
    s: &Srv,
    test: &str,
    pipeline: u32,
    extra: &[&str],
) -> Result<(f64, f64), String> {
    let before = cpu_ns(s.pid())?;
    let (rows, _) = tool::run(s, test, pipeline, ctx.opts.requests, extra)?;
    let spent = cpu_ns(s.pid())?.saturating_sub(before);
    let rps = rows
        .first()
        .map(|(_, r, _)| *r)
        .ok_or_else(|| format!("{test}: no figures"))?;
    Ok((rps, spent as f64 / ctx.opts.requests.max(1) as f64))
}

/// The median over the rounds of the ratio with/without `extra`
/// arguments for `test` at `pipeline`, each round running both back to
/// back: this VM's speed drifts by tens of percent within a minute,
/// which two series run one after the other (or their medians) would
/// report as a difference. Two ratios: requests/s with/without, and the
/// server's CPU per request without/with (so that both read "1.0 = no
/// cost, lower = slower"); the second does not depend on how the two
/// cores were shared with redis-benchmark during the run.
fn paired_ratio(
    ctx: &Ctx,
    s: &Srv,
    test: &str,
    pipeline: u32,
    extra: &[&str],
) -> Result<(Option<f64>, Option<f64>), String> {
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    for round in 0..ctx.opts.rounds.max(1) {
        // Which goes first alternates too (the second run of a pair
        // tends to be the slower one here).
        let (plain, with) = if round % 2 == 0 {
            let plain = once(ctx, s, test, pipeline, &[])?;
            (plain, once(ctx, s, test, pipeline, extra)?)
        } else {
            let with = once(ctx, s, test, pipeline, extra)?;
            (once(ctx, s, test, pipeline, &[])?, with)
        };
        ratios.extend(report::ratio(Some(with.0), Some(plain.0)));
        cpu_ratios.extend(report::ratio(Some(plain.1), Some(with.1)));
    }
    Ok((median(&ratios), median(&cpu_ratios)))
}

/// Connections in BCAST tracking mode on `port`, read and discarded by a
/// thread until `stop` is set.
fn trackers(port: u16, stop: &Arc<AtomicBool>) -> Result<std::thread::JoinHandle<()>, String> {
    let mut conns = Vec::new();
    for _ in 0..TRACKERS {
        let mut c = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        c.write_all(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*6\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n$5\r\nBCAST\r\n$6\r\nPREFIX\r\n$4\r\nkey:\r\n")
            .map_err(|e| e.to_string())?;
        c.set_nonblocking(true).map_err(|e| e.to_string())?;
        conns.push(c);
    }
    let stop = Arc::clone(stop);
    Ok(std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while !stop.load(Ordering::Relaxed) {
            let mut idle = true;
            for c in &mut conns {
                if let Ok(n) = c.read(&mut buf) {
                    idle &= n == 0;
                }
            }
            if idle {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }))
}

pub fn run(ctx: &Ctx) -> Result<(Table, Json), String> {
    let pair = ctx.start_pair(&[])?;
    for s in &pair {
        add_user(s)?;
    }
    let started = Instant::now();
    let mut t = Table::new(
        "access: ACL user vs default user; 50 BCAST tracking clients",
        &[
            "test",
            "P",
            "ours user/default",
            "ours cpu",
            "ref user/default",
            "ref cpu",
            "tracking ours rps",
            "tracking ref rps",
            "ratio",
        ],
    );
    let mut rows = Vec::new();
    for &test in TESTS {
        for &p in PIPELINES {
            if started.elapsed() > ctx.opts.budget() {
                t.notes.push("stopped early: time budget".to_string());
                break;
            }
            let mut acl = [None, None];
            let mut acl_cpu = [None, None];
            for side in Side::BOTH {
                (acl[side.idx()], acl_cpu[side.idx()]) =
                    paired_ratio(ctx, &pair[side.idx()], test, p, USER_ARGS)?;
            }
            // Ours and the reference back to back in each round; the
            // median of the rounds' ratios.
            let mut runs: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            let mut ratios = Vec::new();
            for round in 0..ctx.opts.rounds.max(1) {
                let mut order = Side::BOTH;
                if round % 2 == 1 {
                    order.reverse();
                }
                for side in order {
                    let s = &pair[side.idx()];
                    let stop = Arc::new(AtomicBool::new(false));
                    let drain = trackers(s.port(), &stop)?;
                    let r = once(ctx, s, test, p, &[]);
                    stop.store(true, Ordering::Relaxed);
                    let _ = drain.join();
                    runs[side.idx()].push(r?.0);
                }
                if let (Some(o), Some(r)) = (runs[0].last(), runs[1].last()) {
                    ratios.extend(report::ratio(Some(*o), Some(*r)));
                }
            }
            let tracked = [median(&runs[0]), median(&runs[1])];
            let ratio = median(&ratios);
            t.row(vec![
                test.to_string(),
                p.to_string(),
                fmt(acl[0], 3),
                fmt(acl_cpu[0], 3),
                fmt(acl[1], 3),
                fmt(acl_cpu[1], 3),
                fmt(tracked[0], 0),
                fmt(tracked[1], 0),
                fmt(ratio, 2),
            ]);
            rows.push(obj(vec![
                ("test", report::s(test)),
                ("pipeline", report::num(Some(f64::from(p)))),
                ("acl_user_over_default", report::pair(acl[0], acl[1])),
                (
                    "acl_cpu_default_over_user",
                    report::pair(acl_cpu[0], acl_cpu[1]),
                ),
                ("tracking_rps", report::pair(tracked[0], tracked[1])),
            ]));
        }
    }
    Ok((t, obj(vec![("rows", Json::Arr(rows))])))
}
