//! The RESP form of an AOF base file (`aof-use-rdb-preamble no`): the
//! commands that rebuild one key, as upstream's rewrite emits them — at most
//! 64 elements per command for collections (`RPUSH`, `SADD`, `ZADD`,
//! `HMSET`), streams as `XADD` per entry then `XSETID`, `XGROUP CREATE`,
//! `XGROUP CREATECONSUMER` and `XCLAIM … JUSTID FORCE` for pending entries,
//! and `PEXPIREAT` for a deadline.

use bytes::Bytes;
use redis_aof::command::write_command;
use redis_storage::stream::{StreamId, StreamValue};
use redis_storage::Value;

/// Elements per command for collections (upstream's
/// `AOF_REWRITE_ITEMS_PER_CMD`).
const ITEMS_PER_CMD: usize = 64;

/// Appends the commands rebuilding `key` to `out`.
pub fn rewrite_entry(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at: Option<i64>) {
    match value {
        Value::Str(s) => write_command(out, &[&b"SET"[..], key, &s.to_bytes()]),
        Value::List(l) => batched(out, b"RPUSH", key, l.iter().map(|e| vec![e.to_vec()])),
        Value::Set(s) => batched(
            out,
            b"SADD",
            key,
            s.iter().map(|m| vec![m.as_cow().into_owned()]),
        ),
        Value::Hash(h) => batched(
            out,
            b"HMSET",
            key,
            h.iter().map(|(f, v)| vec![f.to_vec(), v.to_vec()]),
        ),
        Value::ZSet(z) => batched(
            out,
            b"ZADD",
            key,
            z.to_vec()
                .into_iter()
                .map(|(m, s)| vec![score_text(s).into_bytes(), m.to_vec()]),
        ),
        Value::Stream(s) => stream(out, key, s),
    }
    if let Some(at) = expire_at {
        write_command(out, &[&b"PEXPIREAT"[..], key, at.to_string().as_bytes()]);
    }
}

/// A score in a form every parser reads back exactly (shortest round-trip
/// decimal; `inf`/`-inf`).
fn score_text(s: f64) -> String {
    if s.is_infinite() {
        if s > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{s}")
    }
}

/// `CMD key item…` in commands of at most [`ITEMS_PER_CMD`] items, each item
/// being one or more arguments.
fn batched(out: &mut Vec<u8>, cmd: &[u8], key: &[u8], items: impl Iterator<Item = Vec<Vec<u8>>>) {
    let mut argv: Vec<Vec<u8>> = Vec::new();
    let mut n = 0;
    for item in items {
        if n == 0 {
            argv.clear();
            argv.push(cmd.to_vec());
            argv.push(key.to_vec());
        }
        argv.extend(item);
        n += 1;
        if n == ITEMS_PER_CMD {
            write_command(out, &argv);
            n = 0;
        }
    }
    if n > 0 {
        write_command(out, &argv);
    }
}

fn id_text(id: StreamId) -> String {
    format!("{}-{}", id.ms, id.seq)
}

fn stream(out: &mut Vec<u8>, key: &[u8], s: &StreamValue) {
    let last = s.last_id();
    if s.is_empty() {
        // An empty stream: a dummy entry 0-1 trimmed at once (upstream's
        // trick; 0-0 is no valid XADD ID, so a stream that never had an
        // entry could not be loaded back), then XSETID below restores the
        // last ID.
        write_command(
            out,
            &[&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"],
        );
    } else {
        s.for_each(StreamId::MIN, StreamId::MAX, false, |e| {
            let mut argv: Vec<Bytes> = vec![
                Bytes::from_static(b"XADD"),
                Bytes::copy_from_slice(key),
                Bytes::from(id_text(e.id)),
            ];
            for (f, v) in e.to_pairs() {
                argv.push(f);
                argv.push(v);
            }
            write_command(out, &argv);
            true
        });
    }
    write_command(
        out,
        &[
            &b"XSETID"[..],
            key,
            id_text(last).as_bytes(),
            b"ENTRIESADDED",
            s.entries_added().to_string().as_bytes(),
            b"MAXDELETEDID",
            id_text(s.max_deleted_id()).as_bytes(),
        ],
    );
    for (name, g) in &s.groups {
        let read = g.entries_read.map_or(-1, |r| r as i64);
        write_command(
            out,
            &[
                &b"XGROUP"[..],
                b"CREATE",
                key,
                name,
                id_text(g.last_id).as_bytes(),
                b"ENTRIESREAD",
                read.to_string().as_bytes(),
            ],
        );
        for (id, nack) in &g.pel {
            write_command(
                out,
                &[
                    &b"XCLAIM"[..],
                    key,
                    name,
                    &nack.consumer,
                    b"0",
                    id_text(*id).as_bytes(),
                    b"TIME",
                    nack.delivery_time.to_string().as_bytes(),
                    b"RETRYCOUNT",
                    nack.delivery_count.to_string().as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ],
            );
        }
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                write_command(out, &[&b"XGROUP"[..], b"CREATECONSUMER", key, name, cname]);
            }
        }
    }
}
