//! Error precedence against the reference: every command that takes a key
//! first is called on a key of each type (and a missing key) with a set of
//! malformed or borderline argument tails. Whenever either server answers
//! with an error, both replies must be identical. This catches handlers that
//! validate arguments and look keys up in a different order than upstream
//! (which error wins, whether a missing key short-circuits with 0/nil).
//!
//! The dataset is rebuilt before every call so one call cannot influence
//! the next. Commands that block, change server state or need their own
//! scenario are left to the scripts and other tests (see `SKIP`).

use redis_testkit::{escape, Conn, ServerKind, TestServer};

/// Commands not exercised here, with the reason.
const SKIP: &[&str] = &[
    // Server/connection state, replication, persistence, scripting.
    "shutdown",
    "debug",
    "flushall",
    "flushdb",
    "monitor",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "sync",
    "psync",
    "replicaof",
    "slaveof",
    "quit",
    "reset",
    "multi",
    "exec",
    "watch",
    "failover",
    "client",
    "config",
    "save",
    "bgsave",
    "bgrewriteaof",
    "script",
    "function",
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
    "module",
    "cluster",
    "migrate",
    "wait",
    "hello",
    "auth",
    "acl",
    "select",
    "swapdb",
    "latency",
    "memory",
    "object",
    "pfdebug",
    "pfselftest",
    "restore-asking",
    "readonly",
    "readwrite",
    "asking",
    "lastsave",
    "info",
    "command",
    "slowlog",
    "time",
    "dbsize",
    "randomkey",
    "keys",
    "scan",
    "echo",
    "ping",
    "role",
    "lolwut",
    "discard",
    "unwatch",
    "punsubscribe",
    "unsubscribe",
    "sunsubscribe",
    "publish",
    "spublish",
    "pubsub",
    "replconf",
    // Blocking forms (their argument errors are in blocking.txt).
    "blpop",
    "brpop",
    "brpoplpush",
    "blmove",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
    "xread",
    "xreadgroup",
    // Key-moving commands with their own scripts.
    "restore",
    "move",
    "copy",
    "rename",
    "renamenx",
    "del",
    "unlink",
];

/// One key per type, plus a missing one.
const KEYS: &[&str] = &["lst", "str", "st", "zs", "h", "xs", "nokey"];

/// Argument tails after the key.
const TAILS: &[&[&str]] = &[
    &[],
    &["FOO"],
    &["FOO", "BAR"],
    &["0", "FOO"],
    &["0", "0", "FOO"],
    &["-1"],
    &["x", "y", "z"],
    &["NX", "XX"],
    &["1", "m", "FOO"],
    &["BYSCORE"],
    &["99999999999999999999"],
    &["0", "-1", "WITHSCORES", "FOO"],
    &["inf"],
    &["nan"],
    &["1", "2", "3", "4", "5", "6"],
    &["-inf", "+inf", "LIMIT", "0"],
    &["(1", "[a"],
    &["COUNT", "-5"],
    &["MATCH"],
    &["0", "COUNT", "0"],
    &["GET", "u8", "0", "FOO"],
    &["f", "v", "f"],
    &["1.5"],
    &["0", "1", "BIT", "FOO"],
];

/// FLUSHALL and one key of each type, pipelined.
fn reset(c: &mut Conn) {
    let setup: &[&[&str]] = &[
        &["FLUSHALL"],
        &["RPUSH", "lst", "a"],
        &["SET", "str", "v"],
        &["SADD", "st", "m"],
        &["ZADD", "zs", "1", "m"],
        &["HSET", "h", "f", "v"],
        &["XADD", "xs", "1-1", "f", "v"],
    ];
    let mut bytes = Vec::new();
    for s in setup {
        bytes.extend(redis_testkit::conn::encode_request(s));
    }
    c.send_raw(&bytes);
    for _ in setup {
        let r = c.read_reply_raw();
        assert!(!r.starts_with(b"-"), "setup failed: {}", escape(&r));
    }
}

/// The command names of a `COMMAND LIST` reply (an array of bulk strings).
fn command_names(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.split("\r\n").skip(1);
    let mut out = Vec::new();
    while let (Some(len), Some(name)) = (lines.next(), lines.next()) {
        if len.starts_with('$') {
            out.push(name.to_ascii_lowercase());
        }
    }
    out.sort();
    out
}

#[test]
fn errors_win_in_upstream_order() {
    let reference = TestServer::start(ServerKind::Reference, &["--enable-debug-command", "yes"]);
    let ours = TestServer::start(ServerKind::Ours, &["--enable-debug-command", "yes"]);
    let (mut r, mut o) = (reference.conn(), ours.conn());
    let names = command_names(&r.cmd(&["COMMAND", "LIST"]));
    assert!(names.len() > 150, "COMMAND LIST looks wrong: {names:?}");
    let mut failures = Vec::new();
    let mut compared = 0;
    for name in names.iter().filter(|n| !SKIP.contains(&n.as_str())) {
        for key in KEYS {
            for tail in TAILS {
                let mut args: Vec<&str> = vec![name, key];
                args.extend_from_slice(tail);
                reset(&mut r);
                reset(&mut o);
                let (a, b) = (r.cmd(&args), o.cmd(&args));
                if a.starts_with(b"-") || b.starts_with(b"-") {
                    compared += 1;
                    if a != b {
                        failures.push(format!(
                            "{}\n  reference: {}\n  ours:      {}",
                            args.join(" "),
                            escape(&a),
                            escape(&b)
                        ));
                    }
                }
            }
        }
    }
    assert!(compared > 1000, "only {compared} error replies compared");
    assert!(
        failures.is_empty(),
        "{} of {compared} error replies differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
