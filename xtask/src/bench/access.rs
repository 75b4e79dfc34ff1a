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

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::report::{self, fmt, median, obj, Table};
use super::server::{Side, Srv};
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

/// Median requests/s of `test` at `pipeline` over the rounds, with `extra`
/// redis-benchmark arguments.
fn rps(ctx: &Ctx, s: &Srv, test: &str, pipeline: u32, extra: &[&str]) -> Result<f64, String> {
    let mut v = Vec::new();
    for _ in 0..ctx.opts.rounds.max(1) {
        let (rows, _) = tool::run(s, test, pipeline, ctx.opts.requests, extra)?;
        v.extend(rows.into_iter().map(|(_, r, _)| r));
    }
    median(&v).ok_or_else(|| format!("{test}: no figures"))
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
            "ref user/default",
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
            for side in Side::BOTH {
                let s = &pair[side.idx()];
                let plain = rps(ctx, s, test, p, &[])?;
                let user = rps(ctx, s, test, p, USER_ARGS)?;
                acl[side.idx()] = report::ratio(Some(user), Some(plain));
            }
            let mut tracked = [None, None];
            for side in Side::BOTH {
                let s = &pair[side.idx()];
                let stop = Arc::new(AtomicBool::new(false));
                let drain = trackers(s.port(), &stop)?;
                let r = rps(ctx, s, test, p, &[]);
                stop.store(true, Ordering::Relaxed);
                let _ = drain.join();
                tracked[side.idx()] = Some(r?);
            }
            let ratio = report::ratio(tracked[0], tracked[1]);
            t.row(vec![
                test.to_string(),
                p.to_string(),
                fmt(acl[0], 3),
                fmt(acl[1], 3),
                fmt(tracked[0], 0),
                fmt(tracked[1], 0),
                fmt(ratio, 2),
            ]);
            rows.push(obj(vec![
                ("test", report::s(test)),
                ("pipeline", report::num(Some(f64::from(p)))),
                ("acl_user_over_default", report::pair(acl[0], acl[1])),
                ("tracking_rps", report::pair(tracked[0], tracked[1])),
            ]));
        }
    }
    Ok((t, obj(vec![("rows", Json::Arr(rows))])))
}
