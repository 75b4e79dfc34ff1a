//! Blocking XREAD / XREADGROUP compared against the reference: served by a
//! later XADD (with `$` resolved at blocking time), timeouts in RESP2 and
//! RESP3, several keys, consumer groups (the PEL gets the served entry, a
//! destroyed group unblocks with NOGROUP, a deleted or retyped key, a flush
//! or a swap unblocks XREADGROUP with UNBLOCKED while XREAD waits on), MULTI
//! batches and pipelining behind a blocked command.

use std::time::Duration;

use redis_testkit::conn::encode_request;
use redis_testkit::{same_on_both, Conn};

/// Gives the server time to register a just-sent blocking command.
fn settle() {
    std::thread::sleep(Duration::from_millis(100));
}

fn send(c: &mut Conn, args: &[&str]) {
    c.send_raw(&encode_request(args));
}

#[test]
fn xread_block_served_by_xadd_with_dollar_resolved_when_blocking() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = vec![b.cmd(&["XADD", "s", "1-1", "old", "1"])];
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        settle();
        // Entries added in one batch are all served, none older than `$`.
        t.push(b.cmd(&["MULTI"]));
        t.push(b.cmd(&["XADD", "s", "2-1", "f", "v"]));
        t.push(b.cmd(&["XADD", "s", "3-1", "g", "w"]));
        t.push(b.cmd(&["EXEC"]));
        t.push(a.read_reply_raw());
        // A pipelined command behind the blocked one is answered after it.
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        send(&mut a, &["PING"]);
        settle();
        t.push(b.cmd(&["XADD", "s", "4-1", "h", "x"]));
        t.push(a.read_reply_raw());
        t.push(a.read_reply_raw());
        t
    });
}

#[test]
fn xread_block_timeouts_and_several_keys() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = vec![a.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"])];
        t.push(a.cmd(&["XADD", "other", "5-5", "a", "1"]));
        send(
            &mut a,
            &[
                "XREAD", "BLOCK", "0", "COUNT", "1", "STREAMS", "s", "other", "0", "$",
            ],
        );
        settle();
        // A write of another type to a waited key does not serve it.
        t.push(b.cmd(&["SET", "unrelated", "1"]));
        t.push(b.cmd(&["XADD", "other", "6-1", "b", "2"]));
        t.push(a.read_reply_raw());
        // An ID in the past is served at once.
        t.push(a.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "other", "0"]));
        // RESP3: the timeout is `_` (the HELLO reply carries the client id).
        let _ = a.cmd(&["HELLO", "3"]);
        t.push(a.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]));
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "nokey", "$"]);
        settle();
        t.push(b.cmd(&["XADD", "nokey", "1-1", "k", "v"]));
        t.push(a.read_reply_raw());
        t
    });
}

#[test]
fn xreadgroup_block_pel_and_destroyed_group() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = vec![
            b.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
            a.cmd(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "50",
                "STREAMS",
                "s",
                ">",
            ]),
        ];
        send(
            &mut a,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        );
        settle();
        t.push(b.cmd(&["XADD", "s", "1-1", "f", "v"]));
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["XPENDING", "s", "g"]));
        t.push(b.cmd(&["XINFO", "GROUPS", "s"]));
        // History reads never block.
        t.push(a.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            "0",
        ]));
        send(
            &mut a,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "NOACK",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        );
        settle();
        t.push(b.cmd(&["XADD", "s", "2-1", "f", "v"]));
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["XPENDING", "s", "g"]));
        send(
            &mut a,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        );
        settle();
        t.push(b.cmd(&["XGROUP", "DESTROY", "s", "g"]));
        t.push(a.read_reply_raw());
        t.push(a.cmd(&["PING"]));
        t
    });
}

#[test]
fn keyspace_events_of_stream_commands() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = vec![
            b.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            a.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]),
        ];
        let script: &[&[&str]] = &[
            &["XADD", "s", "1-1", "a", "1"],
            &["XADD", "s", "2-1", "a", "1"],
            &["XADD", "s", "MAXLEN", "1", "3-1", "a", "1"],
            &["XADD", "s", "MAXLEN", "5", "4-1", "a", "1"],
            &["XDEL", "s", "3-1", "9-9"],
            &["XDEL", "s", "9-9"],
            &["XTRIM", "s", "MAXLEN", "0"],
            &["XTRIM", "s", "MAXLEN", "0"],
            &["XGROUP", "CREATE", "s", "g", "0"],
            &["XGROUP", "CREATE", "m", "g", "0", "MKSTREAM"],
            &["XGROUP", "CREATECONSUMER", "s", "g", "c"],
            &["XGROUP", "CREATECONSUMER", "s", "g", "c"],
            &["XGROUP", "SETID", "s", "g", "0"],
            &["XADD", "s", "5-1", "a", "1"],
            &["XREADGROUP", "GROUP", "g", "d", "STREAMS", "s", ">"],
            &["XACK", "s", "g", "5-1"],
            &["XCLAIM", "s", "g", "e", "0", "5-1", "FORCE", "JUSTID"],
            &["XAUTOCLAIM", "s", "g", "f", "0", "0", "JUSTID"],
            &["XGROUP", "DELCONSUMER", "s", "g", "c"],
            &["XGROUP", "DELCONSUMER", "s", "g", "nobody"],
            &["XGROUP", "DESTROY", "s", "g"],
            &["XSETID", "s", "99-0"],
            // The pattern subscription also receives this last message.
            &["PUBLISH", "__keyevent@0__:marker", "end"],
        ];
        for cmd in script {
            t.push(b.cmd(cmd));
        }
        loop {
            let m = a.read_reply_raw();
            let done = m.windows(6).any(|w| w == b"marker");
            t.push(m);
            if done {
                break;
            }
        }
        t
    });
}

/// A blocked XREADGROUP whose stream goes away (deleted, overwritten with
/// another type, in a transaction, flushed, swapped out) is answered
/// `-UNBLOCKED the stream key no longer exists` (7.0.15); a plain XREAD
/// keeps waiting and is served by the next stream created there.
#[test]
fn xreadgroup_is_unblocked_when_its_stream_goes_away() {
    let removals: &[&[&[&str]]] = &[
        &[&["DEL", "s"]],
        &[&["SET", "s", "v"]],
        &[&["MULTI"], &["DEL", "s"], &["SADD", "s", "e1"], &["EXEC"]],
        &[&["FLUSHALL"]],
        &[&["FLUSHDB"]],
        &[&["SWAPDB", "0", "4"]],
    ];
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = Vec::new();
        for removal in removals {
            b.cmd(&["FLUSHALL"]);
            b.cmd(&["XADD", "s", "666", "f", "v"]);
            t.push(b.cmd(&["XGROUP", "CREATE", "s", "g", "$"]));
            send(
                &mut a,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "alice",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            );
            settle();
            for cmd in removal.iter() {
                t.push(b.cmd(cmd));
            }
            t.push(a.read_reply_raw());
        }
        // XREAD waits through the deletion.
        b.cmd(&["FLUSHALL"]);
        b.cmd(&["XADD", "s", "666", "f", "v"]);
        send(&mut a, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        settle();
        t.push(b.cmd(&["DEL", "s"]));
        t.push(b.cmd(&["XADD", "s", "667", "f", "v"]));
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["INFO", "errorstats"]));
        t
    });
}

/// `calls=` and `failed_calls=` of `cmdstat_<name>`.
fn calls_of(c: &mut Conn, name: &str) -> Vec<u8> {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "commandstats"])).into_owned();
    let line = info
        .lines()
        .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
        .unwrap_or("")
        .to_string();
    let keep: Vec<&str> = line
        .split([':', ','])
        .filter(|f| f.starts_with("calls=") || f.starts_with("failed_calls="))
        .collect();
    keep.join(",").into_bytes()
}

/// A blocked command counts as one call however it ends (served, or an
/// error such as -NOGROUP when its group goes away), in `cmdstat` and in
/// `total_commands_processed`.
#[test]
fn a_blocked_command_is_one_call() {
    same_on_both(&[], |s| {
        let mut a = s.conn();
        let mut b = s.conn();
        let mut t = vec![b.cmd(&["CONFIG", "RESETSTAT"])];
        send(&mut a, &["BLPOP", "l", "0"]);
        settle();
        t.push(b.cmd(&["RPUSH", "l", "x"]));
        t.push(a.read_reply_raw());
        t.push(b.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]));
        send(
            &mut a,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        );
        settle();
        t.push(b.cmd(&["XGROUP", "DESTROY", "s", "g"]));
        t.push(a.read_reply_raw());
        t.push(calls_of(&mut b, "blpop"));
        t.push(calls_of(&mut b, "xreadgroup"));
        let info = String::from_utf8_lossy(&b.cmd(&["INFO", "stats"])).into_owned();
        let total = info
            .lines()
            .find(|l| l.starts_with("total_commands_processed:"))
            .unwrap_or("")
            .to_string();
        t.push(total.into_bytes());
        t
    });
}
