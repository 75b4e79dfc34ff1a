//! The Lua debugger (`SCRIPT DEBUG SYNC`, LDB) against the reference: the
//! same console session — stepping, listing, breakpoints, printing
//! values, `eval`, `redis`, `maxlen`, bad commands — gives the same bytes
//! on both servers (function addresses masked), the session ends with
//! `<endsession>`, the script's reply and a closed connection; another
//! client waits for the session instead of being refused. A forked
//! session (`SCRIPT DEBUG YES`) gives the same console, blocks nobody, and
//! its changes are rolled back.

use std::time::Duration;

use redis_testkit::{ServerKind, TestServer};

/// The debugged script: locals of every type, a function, commands.
const SCRIPT: &str = "local function f(x)
  local y = x * 2
  redis.call('rpush', KEYS[1], 'a', 'b')
  return y
end
local t = {1, 2, 'x', {y = 3}, n = nil}
local m = {1, k = 'v'}
local s = 'a\\n\"b\\0\\255' .. string.rep('z', 80)
local num, neg, big, b = 3.5, -0.0, 1234567891, true
local r = f(21)
redis.debug('dbg', r, t)
redis.call('lrange', KEYS[1], 0, -1)
redis.pcall('incr', KEYS[1])
redis.breakpoint()
redis.call('set', 'str', s)
return {r, redis.call('get', 'str')}";

/// The console commands sent, one reply each.
const COMMANDS: &[&[&str]] = &[
    &["help"],
    &["step"],
    &["s"],
    &["next"],
    &["list"],
    &["l", "3", "1"],
    &["whole"],
    &["break", "12", "99", "x", "-4"],
    &["b"],
    &["s"],
    &["s"],
    &["print"],
    &["p", "s"],
    &["print", "KEYS"],
    &["print", "ARGV"],
    &["p", "nosuch"],
    &["trace"],
    &["s"],
    &["trace"],
    &["p", "x"],
    &["s"],
    &["eval", "return", "x", "+", "1"],
    &["e", "nosuch_global"],
    &["e", "x", "="],
    &["redis", "get", "nosuch"],
    &["r", "nosuch", "cmd"],
    &["maxlen", "10"],
    &["print", "s"],
    &["maxlen", "0"],
    &["maxlen"],
    &["frobnicate"],
    &["c"],
    &["c"],
    &["break", "0"],
    &["b"],
    &["s"],
    &["s"],
    &["s"],
];

fn mask(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).into_owned();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("@0x") {
        out.push_str(&rest[..i + 1]);
        rest = rest[i + 3..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
        out.push_str("ADDR");
    }
    out.push_str(rest);
    out
}

/// Runs the session on `kind` and returns its transcript.
fn session(kind: ServerKind) -> Vec<String> {
    let s = TestServer::start(kind, &[]);
    let mut c = s.conn();
    let mut transcript = vec![mask(&c.cmd(&["SCRIPT", "DEBUG", "SYNC"]))];
    c.send_raw(&redis_testkit::conn::encode_request(&[
        "EVAL", SCRIPT, "1", "list", "arg1",
    ]));
    transcript.push(mask(&c.read_reply_raw()));
    // Another client waits for the session (it is not refused).
    let mut other = s.conn();
    other.send_raw(&redis_testkit::conn::encode_request(&["GET", "str"]));
    for cmd in COMMANDS {
        c.send_raw(&redis_testkit::conn::encode_request(cmd));
        let reply = c.read_reply_raw();
        let end = reply.ends_with(b"+<endsession>\r\n");
        transcript.push(format!("{cmd:?} -> {}", mask(&reply)));
        if end {
            break;
        }
        if cmd == &["help"] {
            assert!(
                !other.reply_pending(Duration::from_millis(50)),
                "{kind:?}: another client was answered during the session"
            );
        }
    }
    transcript.push(mask(
        &c.read_until_close().unwrap_or_else(String::into_bytes),
    ));
    transcript.push(mask(&other.read_reply_raw()));
    // A protocol error ends a session with the script's error.
    let mut c = s.conn();
    c.cmd(&["SCRIPT", "DEBUG", "SYNC"]);
    c.send_raw(&redis_testkit::conn::encode_request(&[
        "EVAL", "return 1", "0",
    ]));
    transcript.push(mask(&c.read_reply_raw()));
    c.send_raw(b"hello\r\n");
    transcript.push(mask(
        &c.read_until_close().unwrap_or_else(String::into_bytes),
    ));
    // EVALSHA is refused, SCRIPT DEBUG in a pipeline too.
    let mut c = s.conn();
    c.cmd(&["SCRIPT", "DEBUG", "SYNC"]);
    transcript.push(mask(&c.cmd(&["EVALSHA", &"0".repeat(40), "0"])));
    let mut pipe = redis_testkit::conn::encode_request(&["PING"]);
    pipe.extend_from_slice(&redis_testkit::conn::encode_request(&[
        "SCRIPT", "DEBUG", "NO",
    ]));
    c.send_raw(&pipe);
    transcript.push(mask(&c.read_reply_raw()));
    transcript.push(mask(&c.read_reply_raw()));
    transcript
}

/// A `SCRIPT DEBUG YES` session on `kind`: its transcript, what another
/// client saw during it and the data after it.
fn forked_session(kind: ServerKind) -> Vec<String> {
    let s = TestServer::start(kind, &[]);
    let mut other = s.conn();
    other.cmd(&["SET", "str", "orig"]);
    let mut c = s.conn();
    let mut transcript = vec![mask(&c.cmd(&["SCRIPT", "DEBUG", "YES"]))];
    c.send_raw(&redis_testkit::conn::encode_request(&[
        "EVAL", SCRIPT, "1", "list", "arg1",
    ]));
    transcript.push(mask(&c.read_reply_raw()));
    for cmd in [
        &["s"][..],
        &["s"],
        &["next"],
        &["s"],
        &["p"],
        &["redis", "get", "str"],
        &["c"],
    ] {
        c.send_raw(&redis_testkit::conn::encode_request(cmd));
        transcript.push(format!("{cmd:?} -> {}", mask(&c.read_reply_raw())));
    }
    // The server serves others during the session, on the data of before.
    other.send_raw(&redis_testkit::conn::encode_request(&[
        "LRANGE", "list", "0", "-1",
    ]));
    assert!(
        other.reply_pending(Duration::from_secs(5)),
        "{kind:?}: another client waits for a forked session"
    );
    transcript.push(mask(&other.read_reply_raw()));
    transcript.push(mask(&other.cmd(&["SCRIPT", "KILL"])));
    c.send_raw(&redis_testkit::conn::encode_request(&["c"]));
    transcript.push(mask(
        &c.read_until_close().unwrap_or_else(String::into_bytes),
    ));
    // Rolled back.
    transcript.push(mask(&other.cmd(&["LRANGE", "list", "0", "-1"])));
    transcript.push(mask(&other.cmd(&["GET", "str"])));
    transcript
}

#[test]
fn forked_sessions_match_the_reference() {
    let reference = forked_session(ServerKind::Reference);
    let ours = forked_session(ServerKind::Ours);
    assert!(reference.len() > 10, "{reference:#?}");
    assert!(
        reference.iter().any(|r| r.contains("endsession")),
        "{reference:#?}"
    );
    assert_eq!(reference, ours);
}

#[test]
fn ldb_sessions_match_the_reference() {
    let reference = session(ServerKind::Reference);
    let ours = session(ServerKind::Ours);
    assert!(reference.len() > 30, "{reference:#?}");
    for (i, (r, o)) in reference.iter().zip(&ours).enumerate() {
        assert_eq!(r, o, "step {i} differs");
    }
    assert_eq!(reference.len(), ours.len());
}
