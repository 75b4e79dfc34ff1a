//! `MIGRATE` between real servers, compared with the reference.
//!
//! The same scenario runs for every pairing of source and target (reference
//! → reference as the oracle, then ours → reference, reference → ours and
//! ours → ours) and the transcripts of replies must be identical: syntax
//! and argument errors, `NOKEY`, moves and copies, TTLs, databases, every
//! value type, `REPLACE`, `KEYS` with missing and busy keys, target errors
//! (`BUSYKEY`, `NOAUTH`, `WRONGPASS`, a bad database), `AUTH`/`AUTH2`, the
//! retry on a cached connection the target closed, unreachable targets and
//! timeouts. A scripted fake target then checks the exact requests sent
//! and the handling of odd reply lines, and a raw replication link and the
//! AOF check that the keys moved are propagated as one `DEL`.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis_testkit::{assert_resp_eq, escape, Conn, ServerKind, TestServer};

use crate::propagation::Stream;

/// A labelled transcript of replies.
type Transcript = Vec<(String, Vec<u8>)>;

const PAIRS: [(ServerKind, ServerKind); 4] = [
    (ServerKind::Reference, ServerKind::Reference),
    (ServerKind::Ours, ServerKind::Reference),
    (ServerKind::Reference, ServerKind::Ours),
    (ServerKind::Ours, ServerKind::Ours),
];

/// Runs `scenario` for every pairing and compares each transcript with
/// the reference → reference one.
fn on_all_pairs(scenario: impl Fn(&TestServer, &TestServer) -> Transcript) {
    let mut oracle: Option<Transcript> = None;
    for (src_kind, dst_kind) in PAIRS {
        let src = TestServer::start(src_kind, &[]);
        let dst = TestServer::start(dst_kind, &[]);
        let got = scenario(&src, &dst);
        match &oracle {
            None => oracle = Some(got),
            Some(expected) => {
                assert_eq!(expected.len(), got.len(), "{src_kind:?} -> {dst_kind:?}");
                for ((label, e), (_, g)) in expected.iter().zip(got.iter()) {
                    assert_resp_eq!(
                        g,
                        e,
                        "{src_kind:?} -> {dst_kind:?}, step {label}\nsource log:\n{}\ntarget log:\n{}",
                        src.log_contents(),
                        dst.log_contents()
                    );
                }
            }
        }
    }
}

/// Sends `MIGRATE host port <rest...>` on `c`.
fn migrate(c: &mut Conn, host: &str, port: &str, rest: &[&str]) -> Vec<u8> {
    let mut args = vec!["MIGRATE", host, port];
    args.extend_from_slice(rest);
    c.cmd(&args)
}

/// An integer reply's value.
fn int_of(reply: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(reply);
    s.trim()
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {}", escape(reply)))
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn errors_moves_copies_and_target_errors_match_the_reference() {
    on_all_pairs(|src, dst| {
        let mut t: Transcript = Vec::new();
        let (mut s, mut d) = (src.conn(), dst.conn());
        let port = dst.port().to_string();
        let h = "127.0.0.1";
        let step = |t: &mut Transcript, label: &str, r: Vec<u8>| t.push((label.into(), r));

        step(&mut t, "set k", s.cmd(&["SET", "k", "v"]));
        // Argument errors, in upstream's order of checks.
        for rest in [
            &["k", "0", "1000", "COPY", "foo"][..],
            &["k", "0", "1000", "AUTH"],
            &["k", "0", "1000", "AUTH2", "u"],
            &["k", "0", "1000", "KEYS", "k"],
            &["k", "0", "1000", "FOO", "KEYS"],
            &["", "x", "y", "KEYS", "k"],
            &["k", "x", "1000"],
            &["k", "0", "1.5"],
            &["", "0", "1000", "KEYS"],
            &["nokey", "0", "1000"],
            &["", "0", "1000", "KEYS", "nokey1", "nokey2"],
        ] {
            step(
                &mut t,
                &format!("{rest:?}"),
                migrate(&mut s, h, &port, rest),
            );
        }
        step(&mut t, "arity", s.cmd(&["MIGRATE", h, &port, "k", "0"]));

        // A plain move.
        step(
            &mut t,
            "move",
            migrate(&mut s, h, &port, &["k", "0", "5000"]),
        );
        step(&mut t, "moved src", s.cmd(&["EXISTS", "k"]));
        step(&mut t, "moved dst", d.cmd(&["GET", "k"]));
        step(&mut t, "moved ttl", d.cmd(&["TTL", "k"]));
        // The TTL goes along (as the time left).
        step(&mut t, "set t", s.cmd(&["SET", "t", "v", "PX", "100000"]));
        step(
            &mut t,
            "move t",
            migrate(&mut s, h, &port, &["t", "0", "5000"]),
        );
        let pttl = int_of(&d.cmd(&["PTTL", "t"]));
        step(
            &mut t,
            "pttl",
            format!("{}", (90_000..=100_000).contains(&pttl)).into_bytes(),
        );
        // COPY keeps the source; an existing target key is BUSYKEY unless
        // REPLACE.
        step(&mut t, "rpush", s.cmd(&["RPUSH", "l", "a", "b", "c"]));
        step(
            &mut t,
            "copy",
            migrate(&mut s, h, &port, &["l", "0", "5000", "COPY"]),
        );
        step(&mut t, "copy src", s.cmd(&["LRANGE", "l", "0", "-1"]));
        step(&mut t, "copy dst", d.cmd(&["LRANGE", "l", "0", "-1"]));
        step(
            &mut t,
            "busy",
            migrate(&mut s, h, &port, &["l", "0", "5000", "COPY"]),
        );
        step(&mut t, "lpush", s.cmd(&["LPUSH", "l", "z"]));
        step(
            &mut t,
            "replace",
            migrate(&mut s, h, &port, &["l", "0", "5000", "replace"]),
        );
        step(&mut t, "replace src", s.cmd(&["EXISTS", "l"]));
        step(&mut t, "replace dst", d.cmd(&["LRANGE", "l", "0", "-1"]));

        // Databases: SELECT on the cached connection when it changes, and
        // again after the target refused one.
        step(&mut t, "set k3", s.cmd(&["SET", "k3", "x"]));
        step(
            &mut t,
            "db 5",
            migrate(&mut s, h, &port, &["k3", "5", "5000", "COPY"]),
        );
        step(
            &mut t,
            "db 0",
            migrate(&mut s, h, &port, &["k3", "0", "5000"]),
        );
        step(&mut t, "db 99999", {
            s.cmd(&["SET", "k4", "x"]);
            migrate(&mut s, h, &port, &["k4", "99999", "5000"])
        });
        step(&mut t, "k4 kept", s.cmd(&["EXISTS", "k4"]));
        step(
            &mut t,
            "db 0 again",
            migrate(&mut s, h, &port, &["k4", "0", "5000"]),
        );
        d.cmd(&["SELECT", "5"]);
        step(&mut t, "dst db 5", d.cmd(&["MGET", "k3", "k4"]));
        d.cmd(&["SELECT", "0"]);
        step(&mut t, "dst db 0", d.cmd(&["MGET", "k3", "k4"]));

        // Every type, and a payload bigger than one 64 KB write.
        s.cmd(&["HSET", "h", "f1", "v1", "f2", "v2"]);
        s.cmd(&["SADD", "st", "1", "2", "3"]);
        s.cmd(&["ZADD", "z", "1", "a", "2.5", "b"]);
        s.cmd(&["XADD", "x", "1-1", "f", "v"]);
        // Pseudo-random items, so that compression keeps it big.
        let mut seed: u64 = 42;
        for _ in 0..40 {
            let mut args = vec!["RPUSH".to_string(), "big".to_string()];
            for _ in 0..500 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                args.push(format!("{seed:016x}"));
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            s.cmd(&refs);
        }
        step(
            &mut t,
            "types",
            migrate(
                &mut s,
                h,
                &port,
                &["", "0", "10000", "KEYS", "h", "st", "z", "x", "big"],
            ),
        );
        step(
            &mut t,
            "types src",
            s.cmd(&["EXISTS", "h", "st", "z", "x", "big"]),
        );
        step(&mut t, "hash", d.cmd(&["HGETALL", "h"]));
        step(&mut t, "set", d.cmd(&["SMEMBERS", "st"]));
        step(
            &mut t,
            "zset",
            d.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        );
        step(&mut t, "stream", d.cmd(&["XRANGE", "x", "-", "+"]));
        step(&mut t, "big len", d.cmd(&["LLEN", "big"]));
        step(&mut t, "big last", d.cmd(&["LINDEX", "big", "-1"]));

        // KEYS: missing keys skipped, busy keys kept, the others moved.
        s.cmd(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]);
        d.cmd(&["MSET", "c", "_", "d", "_"]);
        step(
            &mut t,
            "keys busy",
            migrate(
                &mut s,
                h,
                &port,
                &["", "0", "5000", "KEYS", "a", "nokey", "b", "c", "d", "e"],
            ),
        );
        step(
            &mut t,
            "keys src",
            s.cmd(&["EXISTS", "a", "b", "c", "d", "e"]),
        );
        step(
            &mut t,
            "keys dst",
            d.cmd(&["MGET", "a", "b", "c", "d", "e"]),
        );
        // The same key twice: with REPLACE both restores succeed, without
        // it the second is BUSYKEY but the first moved the key.
        s.cmd(&["SET", "dup", "1"]);
        step(
            &mut t,
            "dup replace",
            migrate(
                &mut s,
                h,
                &port,
                &["", "0", "5000", "REPLACE", "KEYS", "dup", "dup"],
            ),
        );
        step(&mut t, "dup src", s.cmd(&["EXISTS", "dup"]));
        s.cmd(&["SET", "dup2", "1"]);
        step(
            &mut t,
            "dup busy",
            migrate(&mut s, h, &port, &["", "0", "5000", "KEYS", "dup2", "dup2"]),
        );
        step(&mut t, "dup2 src", s.cmd(&["EXISTS", "dup2"]));
        step(&mut t, "dup2 dst", d.cmd(&["GET", "dup2"]));

        // AUTH / AUTH2 on a fresh connection: the target drops the cached
        // one, MIGRATE notices, reconnects and retries.
        step(
            &mut t,
            "requirepass",
            d.cmd(&["CONFIG", "SET", "requirepass", "secret"]),
        );
        step(
            &mut t,
            "kill",
            d.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]),
        );
        s.cmd(&["SET", "p", "1"]);
        step(
            &mut t,
            "noauth",
            migrate(&mut s, h, &port, &["p", "0", "5000"]),
        );
        step(
            &mut t,
            "wrongpass",
            migrate(&mut s, h, &port, &["p", "0", "5000", "AUTH", "nope"]),
        );
        step(&mut t, "p kept", s.cmd(&["EXISTS", "p"]));
        step(
            &mut t,
            "auth",
            migrate(
                &mut s,
                h,
                &port,
                &["p", "0", "5000", "COPY", "AUTH", "secret"],
            ),
        );
        step(
            &mut t,
            "kill again",
            d.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]),
        );
        step(
            &mut t,
            "auth2",
            migrate(
                &mut s,
                h,
                &port,
                &["p", "0", "5000", "REPLACE", "AUTH2", "default", "secret"],
            ),
        );
        step(&mut t, "p moved", s.cmd(&["EXISTS", "p"]));
        d.cmd(&["CONFIG", "SET", "requirepass", ""]);
        step(&mut t, "cached", {
            let n = s.info_field("stats", "migrate_cached_sockets");
            n.unwrap_or_default().into_bytes()
        });

        // Unreachable targets and timeouts.
        s.cmd(&["SET", "u", "1"]);
        step(
            &mut t,
            "no host",
            migrate(&mut s, "", &port, &["u", "0", "1000"]),
        );
        step(
            &mut t,
            "bad port",
            migrate(&mut s, h, "-1", &["u", "0", "1000"]),
        );
        let closed = closed_port().to_string();
        step(
            &mut t,
            "refused",
            migrate(&mut s, h, &closed, &["u", "0", "1000"]),
        );
        // Accepted by the kernel, never answered.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let silent_port = silent.local_addr().unwrap().port().to_string();
        step(
            &mut t,
            "timeout",
            migrate(&mut s, h, &silent_port, &["u", "0", "200"]),
        );
        drop(silent);
        step(&mut t, "u kept", s.cmd(&["EXISTS", "u"]));
        step(&mut t, "cached after", {
            let n = s.info_field("stats", "migrate_cached_sockets");
            n.unwrap_or_default().into_bytes()
        });
        // Error replies counted by their code.
        step(&mut t, "errorstats", s.cmd(&["INFO", "errorstats"]));
        t
    });
}

/// What the fake target does with the next command it receives.
#[derive(Clone, Debug)]
enum Act {
    /// Writes these bytes.
    Reply(&'static [u8]),
    /// Closes the connection.
    Close,
}

#[derive(Default)]
struct FakeState {
    script: VecDeque<Act>,
    /// (connection number, arguments) of every command processed.
    seen: Vec<(usize, Vec<Vec<u8>>)>,
}

/// A scripted target: one connection at a time, each complete command
/// answered by the next scripted act (`+OK` when the script is empty).
struct Fake {
    port: u16,
    state: Arc<Mutex<FakeState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Parses one complete RESP array of bulk strings off `buf`, if there is one.
fn parse_command(buf: &mut Vec<u8>) -> Option<Vec<Vec<u8>>> {
    fn line(buf: &[u8], at: usize) -> Option<(usize, usize)> {
        let rel = buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&buf[at + 1..at + rel])
            .ok()?
            .parse()
            .ok()?;
        Some((n, at + rel + 2))
    }
    let (n, mut at) = line(buf, 0)?;
    let mut argv = Vec::new();
    for _ in 0..n {
        let (len, start) = line(buf, at)?;
        if buf.len() < start + len + 2 {
            return None;
        }
        argv.push(buf[start..start + len].to_vec());
        at = start + len + 2;
    }
    buf.drain(..at);
    Some(argv)
}

impl Fake {
    fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(FakeState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stop2) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut conn_no = 0;
            while !stop2.load(Ordering::Relaxed) {
                let sock = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                conn_no += 1;
                serve(sock, conn_no, &st, &stop2);
            }
        });
        Fake {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn script(&self, acts: &[Act]) {
        self.state.lock().unwrap().script = acts.iter().cloned().collect();
    }

    /// The commands processed since the last call, the RESTORE payloads
    /// kept and a TTL other than 0 shown as `<ttl>`.
    ///
    /// A source may return before the target has parsed everything it
    /// sent (a reply split over two lines answers two commands at once), so
    /// this first waits until nothing new arrived for 100 ms (at most 3 s).
    fn take_seen(&self) -> Vec<(usize, Vec<String>)> {
        let mut last = usize::MAX;
        for _ in 0..30 {
            let n = self.state.lock().unwrap().seen.len();
            if n == last {
                break;
            }
            last = n;
            std::thread::sleep(Duration::from_millis(100));
        }
        let seen = std::mem::take(&mut self.state.lock().unwrap().seen);
        seen.into_iter()
            .map(|(c, argv)| {
                let restore = argv
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"restore"));
                let args = argv
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        if restore && i == 2 && a != b"0" {
                            let ttl: i64 = String::from_utf8_lossy(a).parse().unwrap();
                            assert!((1..=100_000).contains(&ttl), "ttl {ttl}");
                            "<ttl>".to_string()
                        } else {
                            escape(a)
                        }
                    })
                    .collect();
                (c, args)
            })
            .collect()
    }
}

fn serve(mut sock: TcpStream, conn_no: usize, st: &Mutex<FakeState>, stop: &AtomicBool) {
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        while let Some(argv) = parse_command(&mut buf) {
            let act = {
                let mut g = st.lock().unwrap();
                g.seen.push((conn_no, argv));
                g.script.pop_front().unwrap_or(Act::Reply(b"+OK\r\n"))
            };
            match act {
                Act::Reply(r) => {
                    if sock.write_all(r).is_err() {
                        return;
                    }
                }
                Act::Close => return,
            }
        }
        match sock.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The requests a source sends and what it makes of odd reply lines, for
/// each kind of source against the same scripted target.
#[test]
fn requests_and_reply_lines_match_the_reference() {
    let mut results = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let src = TestServer::start(kind, &[]);
        let fake = Fake::start();
        let port = fake.port.to_string();
        let mut s = src.conn();
        let mut t: Vec<(String, String)> = Vec::new();
        let record = |t: &mut Vec<(String, String)>, label: &str, reply: Vec<u8>| {
            t.push((label.to_string(), escape(&reply)));
            t.push((format!("{label} seen"), format!("{:?}", fake.take_seen())));
        };
        s.cmd(&["SET", "a", "1"]);
        s.cmd(&["SET", "b", "2", "PX", "100000"]);
        // SELECT, then one RESTORE per key with its TTL; AUTH2 first.
        fake.script(&[Act::Reply(b"+OK\r\n"), Act::Reply(b"+OK\r\n")]);
        let r = migrate(
            &mut s,
            "127.0.0.1",
            &port,
            &[
                "", "3", "1000", "COPY", "AUTH2", "u", "pw", "KEYS", "a", "b",
            ],
        );
        // (AUTH's reply came from the default +OK.)
        record(&mut t, "auth2 select restore", r);
        // Cached: no SELECT for the same db; REPLACE appended; AUTH.
        let r = migrate(
            &mut s,
            "127.0.0.1",
            &port,
            &["a", "3", "1000", "COPY", "REPLACE", "AUTH", "pw"],
        );
        record(&mut t, "auth replace", r);
        // Any line not starting with '-' is a success; the key goes.
        fake.script(&[Act::Reply(b":1\r\n")]);
        let r = migrate(&mut s, "127.0.0.1", &port, &["a", "3", "1000"]);
        record(&mut t, "integer reply", r);
        record(&mut t, "a gone", s.cmd(&["EXISTS", "a"]));
        // An error line: CRs inside become spaces, trailing ones go.
        s.cmd(&["SET", "a", "1"]);
        fake.script(&[Act::Reply(b"-WEIRD one\rtwo\r\r\n")]);
        let r = migrate(&mut s, "127.0.0.1", &port, &["a", "3", "1000"]);
        record(&mut t, "error line", r);
        // After an error the db is unknown: SELECT again. The target closes
        // before the first reply: reconnect and retry once.
        fake.script(&[Act::Close]);
        let r = migrate(&mut s, "127.0.0.1", &port, &["a", "3", "1000", "COPY"]);
        record(&mut t, "closed then retried", r);
        // A bare newline counts as a failed read, twice: IOERR.
        fake.script(&[Act::Reply(b"\n"), Act::Reply(b"\n")]);
        let r = migrate(&mut s, "127.0.0.1", &port, &["a", "3", "1000", "COPY"]);
        record(&mut t, "empty line", r);
        // A long error line is cut at 1023 bytes; the rest is the next line.
        static LONG: &[u8] = &{
            let mut b = [b'y'; 2003];
            b[0] = b'-';
            b[2001] = b'\r';
            b[2002] = b'\n';
            b
        };
        fake.script(&[Act::Reply(b"+OK\r\n"), Act::Reply(LONG)]);
        let r = migrate(
            &mut s,
            "127.0.0.1",
            &port,
            &["", "4", "1000", "COPY", "KEYS", "a", "b"],
        );
        record(&mut t, "long line", r);
        record(&mut t, "cached", {
            let n = s.info_field("stats", "migrate_cached_sockets");
            n.unwrap_or_default().into_bytes()
        });
        record(&mut t, "errorstats", s.cmd(&["INFO", "errorstats"]));
        drop(fake);
        results.push(t);
    }
    let (expected, got) = (&results[0], &results[1]);
    assert_eq!(expected.len(), got.len());
    for ((label, e), (_, g)) in expected.iter().zip(got.iter()) {
        assert_eq!(g, e, "step {label}");
    }
}

/// The keys the target acknowledged go to replicas and the AOF as one
/// `DEL`; a copy, or a MIGRATE whose keys were all refused, propagates
/// nothing.
#[test]
fn moved_keys_are_propagated_as_del() {
    let mut streams = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let src = TestServer::start(
            kind,
            &["--repl-ping-replica-period", "3600", "--appendonly", "yes"],
        );
        let dst = TestServer::start(ServerKind::Reference, &[]);
        let port = dst.port().to_string();
        let (mut s, mut d) = (src.conn(), dst.conn());
        let mut link = Stream::attach(&src);
        s.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]);
        d.cmd(&["SET", "b", "busy"]);
        let r = migrate(
            &mut s,
            "127.0.0.1",
            &port,
            &["", "0", "5000", "KEYS", "a", "b", "c", "nokey"],
        );
        assert!(r.starts_with(b"-ERR Target instance replied with error: BUSYKEY"));
        s.cmd(&["SET", "marker1", "x"]);
        let r = migrate(
            &mut s,
            "127.0.0.1",
            &port,
            &["b", "0", "5000", "COPY", "REPLACE"],
        );
        assert_resp_eq!(r, b"+OK\r\n");
        let r = migrate(&mut s, "127.0.0.1", &port, &["b", "0", "5000"]);
        assert!(r.starts_with(b"-ERR Target instance replied with error: BUSYKEY"));
        s.cmd(&["SET", "marker2", "x"]);
        let r = migrate(&mut s, "127.0.0.1", &port, &["b", "0", "5000", "REPLACE"]);
        assert_resp_eq!(r, b"+OK\r\n");
        let stream = link.commands(6);
        // The AOF has the same DELs.
        let dir = src.dir().join("appendonlydir");
        let want_ac = b"*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nc\r\n".as_slice();
        let want_b = b"*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n".as_slice();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut aof = Vec::new();
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.to_string_lossy().ends_with(".incr.aof") {
                    aof.extend(std::fs::read(&p).unwrap());
                }
            }
            let has = |w: &[u8]| aof.windows(w.len()).any(|x| x == w);
            if has(want_ac) && has(want_b) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{kind:?}: DELs not in the AOF: {}",
                escape(&aof)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        streams.push(stream);
    }
    assert_eq!(
        streams[0][1..],
        [
            vec!["mset", "a", "1", "b", "2", "c", "3"],
            vec!["del", "a", "c"],
            vec!["set", "marker1", "x"],
            vec!["set", "marker2", "x"],
            vec!["del", "b"],
        ]
    );
    assert_eq!(streams[1], streams[0], "ours vs reference");
}

/// The cached connection is reused (the target sees one client), and
/// closed by the cron once idle for more than 10 seconds.
#[test]
fn cached_connection_is_reused_then_closed_when_idle() {
    let src = TestServer::start(ServerKind::Ours, &[]);
    let dst = TestServer::start(ServerKind::Reference, &[]);
    let port = dst.port().to_string();
    let (mut s, mut d) = (src.conn(), dst.conn());
    let cached = |s: &mut Conn| s.info_field("stats", "migrate_cached_sockets");
    assert_eq!(cached(&mut s).as_deref(), Some("0"));
    for k in ["k1", "k2", "k3"] {
        s.cmd(&["SET", k, "v"]);
        let r = migrate(&mut s, "127.0.0.1", &port, &[k, "0", "1000"]);
        assert_resp_eq!(r, b"+OK\r\n");
    }
    assert_eq!(cached(&mut s).as_deref(), Some("1"));
    let clients = String::from_utf8_lossy(&d.cmd(&["CLIENT", "LIST"])).into_owned();
    assert_eq!(clients.matches("id=").count(), 2, "{clients}");
    // Another name for the same place is another connection.
    s.cmd(&["SET", "k4", "v"]);
    let r = migrate(&mut s, "127.1", &port, &["k4", "0", "1000"]);
    assert_resp_eq!(r, b"+OK\r\n");
    assert_eq!(cached(&mut s).as_deref(), Some("2"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while cached(&mut s).as_deref() != Some("0") {
        assert!(Instant::now() < deadline, "cached sockets never closed");
        std::thread::sleep(Duration::from_millis(250));
    }
    let clients = String::from_utf8_lossy(&d.cmd(&["CLIENT", "LIST"])).into_owned();
    assert_eq!(clients.matches("id=").count(), 1, "{clients}");
}
