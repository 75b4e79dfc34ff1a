//! The `scripts` section: `EVALSHA` of a small read and a small write
//! script and `FCALL` of a function under redis-benchmark, ours against
//! the reference (median requests/s, p99, server CPU per request), and the
//! memory 10,000 cached scripts take on each side (Lua heap included).

use std::time::Instant;

use super::client::{encode, Client, Reply};
use super::report::{self, fmt, obj, Table};
use super::server::{Side, Srv};
use super::throughput::Throughput;
use super::Ctx;
use crate::json::Json;

const READ: &str = "return redis.call('get', KEYS[1])";
const WRITE: &str = "return redis.call('set', KEYS[1], ARGV[1])";
const LIBRARY: &str = "#!lua name=benchlib\nredis.register_function{function_name='bget', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
const CACHED: u64 = 10_000;

/// `SCRIPT LOAD` of `body`: the SHA-1.
fn load(c: &mut Client, body: &str) -> Result<String, String> {
    match c.cmd(&["SCRIPT", "LOAD", body])? {
        Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
        r => Err(format!("SCRIPT LOAD: unexpected {r:?}")),
    }
}

/// Loads the scripts and the library on `s`; returns the two SHA-1s.
fn prepare(s: &Srv) -> Result<(String, String), String> {
    let mut c = s.client()?;
    c.cmd(&["SET", "key", "value"])?;
    c.cmd(&["FUNCTION", "LOAD", "REPLACE", LIBRARY])?;
    Ok((load(&mut c, READ)?, load(&mut c, WRITE)?))
}

/// Memory growth for `CACHED` distinct scripts: everything the server
/// allocates for them, Lua's heap included. Our `used_memory` counts the
/// Lua heap (the interpreter allocates through the server's allocator);
/// the reference's Lua uses libc's allocator, which its `used_memory`
/// leaves out, so `used_memory_lua` is added on that side.
fn cache_memory(s: &Srv, lua_in_used_memory: bool) -> Result<f64, String> {
    let mut c = s.client()?;
    c.cmd(&["SCRIPT", "FLUSH"])?;
    let used = |c: &mut Client| -> Result<f64, String> {
        let main = c.info_num("memory", "used_memory")?;
        if lua_in_used_memory {
            Ok(main)
        } else {
            Ok(main + c.info_num("memory", "used_memory_lua")?)
        }
    };
    let before = used(&mut c)?;
    c.load(CACHED, &|i, out| {
        let body = format!("return redis.call('get', KEYS[1]) .. '{i}'");
        encode(out, &[b"SCRIPT", b"LOAD", body.as_bytes()]);
    })?;
    let after = used(&mut c)?;
    Ok(after - before)
}

pub fn run(ctx: &Ctx) -> Result<(Table, Json), String> {
    let pair = ctx.start_pair(&[])?;
    let shas = [prepare(&pair[0])?, prepare(&pair[1])?];
    let mut acc = Throughput::default();
    let started = Instant::now();
    'rounds: for round in 0..ctx.opts.rounds as usize {
        for pipeline in [1, 16] {
            for (ti, label) in ["EVALSHA read", "EVALSHA write", "FCALL read"]
                .into_iter()
                .enumerate()
            {
                if started.elapsed() > ctx.opts.budget() {
                    acc.stopped_early = true;
                    break 'rounds;
                }
                for side in Side::order(round + ti) {
                    let (read, write) = &shas[side.idx()];
                    let command: Vec<&str> = match ti {
                        0 => vec!["EVALSHA", read, "1", "key"],
                        1 => vec!["EVALSHA", write, "1", "key", "value"],
                        _ => vec!["FCALL", "bget", "1", "key"],
                    };
                    acc.sample_command(
                        &pair[side.idx()],
                        label,
                        &command,
                        pipeline,
                        ctx.opts.requests,
                    )?;
                }
            }
        }
    }
    let (mut t, rows) = acc.render("scripts: redis-benchmark EVALSHA / FCALL", ctx.tick);
    let ours = cache_memory(&pair[0], true)?;
    let reference = cache_memory(&pair[1], false)?;
    let per = |v: f64| v / CACHED as f64;
    t.notes.push(format!(
        "{CACHED} cached scripts: ours {} B/script, reference {} B/script, ratio {} (used_memory growth, Lua heap included on both sides)",
        fmt(Some(per(ours)), 0),
        fmt(Some(per(reference)), 0),
        fmt(report::ratio(Some(ours), Some(reference)), 2)
    ));
    let json = obj(vec![
        ("throughput", rows),
        (
            "cached_scripts_bytes_each",
            report::pair(Some(per(ours)), Some(per(reference))),
        ),
    ]);
    Ok((t, json))
}
