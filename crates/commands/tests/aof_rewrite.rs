//! The AOF rewrite's commands, replayed into an empty server, rebuild the
//! dataset (`redis_engine::aof_rewrite` with the real command handlers).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use redis_config::Config;
use redis_resp::{Frame, RequestParser};

use redis_engine::client::Client;
use redis_engine::state::State;

const NOW: i64 = 1_700_000_000_000;

fn client() -> Client {
    let mut c = Client::detached(1);
    c.authenticated = true;
    c
}

fn run(st: &mut State, c: &mut Client, args: &[&str]) -> Frame {
    let argv: Vec<Bytes> = args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    let mut out = BytesMut::new();
    st.call(
        redis_engine::dispatch::Caller::Client,
        c,
        argv,
        &mut out,
        NOW,
    );
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
    // DEBUG is a protected command: enabled at startup only.
    let args = ["--enable-debug-command".to_string(), "yes".to_string()];
    let config = Config::load(None, &args).expect("config");
    let mut st = State::new(config.clone(), NOW, redis_commands::registry());
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
        redis_engine::aof_rewrite::rewrite_entry(&mut aof, k, &e.value, db.expire_at(k));
    }
    let mut fresh = State::new(config, NOW, redis_commands::registry());
    let mut c2 = client();
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&aof[..]);
    let mut commands = 0;
    while let Ok(Some(argv)) = parser.parse(&mut buf) {
        let mut out = BytesMut::new();
        fresh.call(
            redis_engine::dispatch::Caller::Client,
            &mut c2,
            argv,
            &mut out,
            NOW,
        );
        assert!(!out.starts_with(b"-"), "{}", String::from_utf8_lossy(&out));
        commands += 1;
    }
    assert!(buf.is_empty(), "unparsed rewrite bytes left");
    // 3 batches per 150-element collection, more than one per key.
    assert!(commands > 20, "only {commands} commands");
    assert_eq!(digest(&mut fresh, &mut c2), want);
}
