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
        // An empty stream keeps its last ID: add a dummy entry and trim it.
        write_command(
            out,
            &[
                &b"XADD"[..],
                key,
                b"MAXLEN",
                b"0",
                id_text(last).as_bytes(),
                b"x",
                b"y",
            ],
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::{Bytes, BytesMut};
    use redis_config::Config;
    use redis_resp::{Frame, RequestParser};

    use crate::client::{Client, ClientSignal};
    use crate::state::State;

    const NOW: i64 = 1_700_000_000_000;

    fn client() -> Client {
        let (tx, _rx) = crate::push::push_channel();
        let mut c = Client::new(1, Arc::new(ClientSignal::new(tx)), true);
        c.authenticated = true;
        c
    }

    fn run(st: &mut State, c: &mut Client, args: &[&str]) -> Frame {
        let argv: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let mut out = BytesMut::new();
        st.call(c, argv, &mut out, NOW);
        match redis_resp::decode(&mut out) {
            Ok(Some(f)) => f,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn digest(st: &mut State, c: &mut Client) -> Frame {
        run(st, c, &["DEBUG", "DIGEST"])
    }

    /// Every type, big enough to need several commands, with a deadline, a
    /// stream with groups, consumers and pending entries, and an empty
    /// stream that keeps its last ID: the rewritten commands replayed into
    /// an empty server give the same `DEBUG DIGEST`.
    #[test]
    fn replaying_the_rewrite_rebuilds_the_dataset() {
        let mut config = Config::default();
        let _ = config.set(&[(b"enable-debug-command".to_vec(), b"yes".to_vec())]);
        let mut st = State::new(config.clone(), NOW);
        let mut c = client();
        run(&mut st, &mut c, &["SET", "s", "hello"]);
        run(&mut st, &mut c, &["SET", "n", "12345"]);
        run(&mut st, &mut c, &["PEXPIREAT", "n", "1800000000000"]);
        for i in 0..150 {
            let v = i.to_string();
            run(&mut st, &mut c, &["RPUSH", "l", &v]);
            run(&mut st, &mut c, &["SADD", "set", &v]);
            run(&mut st, &mut c, &["SADD", "iset", &format!("m{v}")]);
            run(&mut st, &mut c, &["HSET", "h", &format!("f{v}"), &v]);
            run(
                &mut st,
                &mut c,
                &["ZADD", "z", &format!("{i}.25"), &format!("m{v}")],
            );
        }
        run(
            &mut st,
            &mut c,
            &["ZADD", "z", "inf", "top", "-inf", "bottom"],
        );
        for i in 1..6 {
            run(&mut st, &mut c, &["XADD", "x", &format!("{i}-1"), "f", "v"]);
        }
        run(&mut st, &mut c, &["XDEL", "x", "2-1"]);
        run(&mut st, &mut c, &["XGROUP", "CREATE", "x", "g", "0"]);
        run(
            &mut st,
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "2",
                "STREAMS",
                "x",
                ">",
            ],
        );
        run(
            &mut st,
            &mut c,
            &["XGROUP", "CREATECONSUMER", "x", "g", "bob"],
        );
        run(&mut st, &mut c, &["XADD", "e", "7-7", "f", "v"]);
        run(&mut st, &mut c, &["XDEL", "e", "7-7"]);
        let want = digest(&mut st, &mut c);
        assert!(
            matches!(&want, Frame::Simple(b) if b.len() == 40 && b.as_ref() != [b'0'; 40]),
            "DEBUG DIGEST must answer a real digest: {want:?}"
        );

        let mut aof = Vec::new();
        let db = &st.ks.dbs[0];
        for (k, e) in db.iter() {
            super::rewrite_entry(&mut aof, k, &e.value, db.expire_at(k));
        }
        let mut fresh = State::new(config, NOW);
        let mut c2 = client();
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&aof[..]);
        let mut commands = 0;
        while let Ok(Some(argv)) = parser.parse(&mut buf) {
            let mut out = BytesMut::new();
            fresh.call(&mut c2, argv, &mut out, NOW);
            assert!(!out.starts_with(b"-"), "{}", String::from_utf8_lossy(&out));
            commands += 1;
        }
        assert!(buf.is_empty(), "unparsed rewrite bytes left");
        // 3 batches per 150-element collection, more than one per key.
        assert!(commands > 20, "only {commands} commands");
        assert_eq!(digest(&mut fresh, &mut c2), want);
    }
}
