//! What reaches replicas, compared with the reference: a raw `SYNC`
//! connection reads the replication stream after a sequence of commands,
//! and the commands in it (keep-alive PINGs aside) must be the same —
//! transactions wrapped in MULTI/EXEC only when they wrote more than once,
//! SELECT before MULTI, no trace of a transaction that wrote nothing,
//! PUBLISH propagated so replicas' subscribers get the message, and a
//! SELECT at the start of the stream a new replica receives.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use redis_testkit::{ServerKind, TestServer};

/// A raw replica link: `SYNC`, the RDB skipped, then the command stream.
pub(crate) struct Stream {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Stream {
    pub(crate) fn attach(s: &TestServer) -> Stream {
        let mut sock = TcpStream::connect(s.addr()).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        sock.write_all(b"SYNC\r\n").unwrap();
        let mut st = Stream {
            sock,
            buf: Vec::new(),
        };
        // Newlines are keep-alives while the RDB is produced.
        let header = loop {
            let line = st.line();
            if !line.is_empty() {
                break line;
            }
        };
        let len: usize = header
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad payload header {header:?}"));
        st.fill(len);
        st.buf.drain(..len);
        st
    }

    /// Reads until `n` bytes are buffered (bounded).
    fn fill(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut chunk = [0u8; 16 * 1024];
        while self.buf.len() < n {
            assert!(Instant::now() < deadline, "stream stalled");
            match self.sock.read(&mut chunk) {
                Ok(0) => panic!("replication link closed"),
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(_) => {}
            }
        }
    }

    fn line(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(p) = self.buf.iter().position(|&b| b == b'\n') {
                let l: Vec<u8> = self.buf.drain(..=p).collect();
                return String::from_utf8_lossy(&l).trim_end().to_string();
            }
            assert!(Instant::now() < deadline, "no line");
            let n = self.buf.len() + 1;
            self.fill(n);
        }
    }

    /// The next command of the stream, lower-cased name first.
    fn command(&mut self) -> Vec<String> {
        let head = self.line();
        let n: usize = head
            .strip_prefix('*')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad command header {head:?}"));
        let mut argv = Vec::new();
        for _ in 0..n {
            let len: usize = self
                .line()
                .strip_prefix('$')
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad argument header"));
            self.fill(len + 2);
            let a: Vec<u8> = self.buf.drain(..len + 2).collect();
            argv.push(String::from_utf8_lossy(&a[..len]).into_owned());
        }
        if let Some(first) = argv.first_mut() {
            *first = first.to_ascii_lowercase();
        }
        argv
    }

    /// The next `n` commands, keep-alive PINGs skipped.
    pub(crate) fn commands(&mut self, n: usize) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        while out.len() < n {
            let c = self.command();
            if c != ["ping"] {
                out.push(c);
            }
        }
        out
    }
}

/// Runs `writes` on a fresh server of each kind with a replica link
/// attached, and compares the first `n` commands of the two streams.
fn same_stream(n: usize, writes: &[&[&str]]) {
    let mut streams = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let s = TestServer::start(kind, &["--repl-ping-replica-period", "3600"]);
        let mut c = s.conn();
        let mut link = Stream::attach(&s);
        for w in writes {
            c.cmd(w);
        }
        streams.push(link.commands(n));
    }
    assert_eq!(streams[1], streams[0], "ours vs reference");
}

#[test]
fn single_write_transaction_is_not_wrapped() {
    same_stream(
        3,
        &[
            &["MULTI"],
            &["SET", "foo", "bar"],
            &["EXEC"],
            &["SET", "foo2", "bar"],
        ],
    );
}

#[test]
fn transaction_with_select_inside() {
    same_stream(
        8,
        &[
            &["MULTI"],
            &["SET", "a", "1"],
            &["GET", "a"],
            &["SELECT", "1"],
            &["SET", "b", "2"],
            &["SELECT", "2"],
            &["SET", "c", "3"],
            &["EXEC"],
        ],
    );
}

#[test]
fn transactions_that_write_nothing_leave_no_trace() {
    same_stream(
        2,
        &[
            &["MULTI"],
            &["EXEC"],
            &["MULTI"],
            &["GET", "x"],
            &["DEL", "nokey"],
            &["EXEC"],
            &["INCR", "foo"],
        ],
    );
}

#[test]
fn publish_reaches_replicas() {
    same_stream(
        5,
        &[
            &["PUBLISH", "ch", "hello"],
            &["MULTI"],
            &["PUBLISH", "ch", "in-multi"],
            &["EXEC"],
            &["MULTI"],
            &["SET", "k", "v"],
            &["PUBLISH", "ch", "two"],
            &["EXEC"],
        ],
    );
}

#[test]
fn getset_is_propagated_as_set() {
    same_stream(
        3,
        &[
            &["SET", "k", "a"],
            &["GETSET", "k", "b"],
            &["SET", "k", "c", "GET"],
        ],
    );
}

/// Every expiry is propagated as an absolute, upper-case `PXAT` (a
/// client's own `pxat` too) or `PEXPIREAT`.
#[test]
fn expiries_are_propagated_as_absolute_times() {
    let at = "99999999999000";
    same_stream(
        6,
        &[
            &["SET", "k", "v", "pxat", at],
            &["SET", "k", "v", "exat", "99999999999"],
            &["set", "k", "v", "PXAT", at],
            &["GETEX", "k", "pxat", at],
            &["PEXPIREAT", "k", at],
        ],
    );
}

/// `RESTORE` with a relative TTL is propagated with the absolute time and
/// `ABSTTL` appended; with `ABSTTL` or no TTL, as sent.
#[test]
fn restore_ttl_is_propagated_as_absolute() {
    let mut streams = Vec::new();
    for kind in [ServerKind::Reference, ServerKind::Ours] {
        let s = TestServer::start(kind, &["--repl-ping-replica-period", "3600"]);
        let mut c = s.conn();
        c.cmd(&["SET", "src", "bar"]);
        let dump = c.cmd(&["DUMP", "src"]);
        let start = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
        let payload = dump[start..dump.len() - 2].to_vec();
        let mut link = Stream::attach(&s);
        let far = b"99999999999000".to_vec();
        for args in [
            vec![
                b"RESTORE".to_vec(),
                b"k1".to_vec(),
                b"100000".to_vec(),
                payload.clone(),
            ],
            vec![
                b"RESTORE".to_vec(),
                b"k2".to_vec(),
                far.clone(),
                payload.clone(),
                b"ABSTTL".to_vec(),
            ],
            vec![
                b"RESTORE".to_vec(),
                b"k3".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"REPLACE".to_vec(),
            ],
            vec![
                b"RESTORE".to_vec(),
                b"k1".to_vec(),
                b"5000".to_vec(),
                payload.clone(),
                b"REPLACE".to_vec(),
            ],
        ] {
            assert_eq!(c.cmd_bytes(&args), b"+OK\r\n", "{kind:?}");
        }
        // The absolute times differ between runs: keep their shape only.
        let cmds: Vec<Vec<String>> = link
            .commands(5)
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|a| {
                        if a.len() == 13 && a.bytes().all(|b| b.is_ascii_digit()) {
                            "<abs-ms>".to_string()
                        } else if a.len() > 20 {
                            "<payload>".to_string()
                        } else {
                            a
                        }
                    })
                    .collect()
            })
            .collect();
        streams.push(cmds);
    }
    assert_eq!(streams[1], streams[0], "ours vs reference");
}

/// A consumer XREADGROUP creates is propagated (`XGROUP CREATECONSUMER`,
/// in a transaction with the `SETID`) only when new entries are read with
/// NOACK; otherwise the XCLAIMs create it on replicas, or nothing was read.
#[test]
fn xreadgroup_propagates_the_consumers_it_creates_with_noack() {
    same_stream(
        6,
        &[
            &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
            &["XADD", "s", "1-1", "f", "v"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "NOACK",
                "STREAMS",
                "s",
                ">",
            ],
            &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
            &["SET", "end", "1"],
        ],
    );
}

#[test]
fn scripts_propagate_their_effects() {
    // One write alone, several wrapped in MULTI/EXEC with the script's
    // SELECT, expiry made absolute, nothing for a read-only script, and
    // the redis.set_repl choices (REPL_NONE and REPL_AOF never reach
    // replicas).
    same_stream(
        11,
        &[
            &["EVAL", "redis.call('set', KEYS[1], 'a')", "1", "k1"],
            &[
                "EVAL",
                "redis.call('set','x','1') redis.call('incr','x') return 1",
                "0",
            ],
            &["EVAL", "return redis.call('get','x')", "0"],
            &[
                "EVAL",
                "redis.call('select','3') redis.call('set','y','1') return 1",
                "0",
            ],
            &[
                "EVAL",
                "redis.set_repl(redis.REPL_NONE) redis.call('set','none','1') redis.set_repl(redis.REPL_ALL) redis.call('set','all','1') return 1",
                "0",
            ],
            &[
                "EVAL",
                "redis.set_repl(redis.REPL_AOF) redis.call('set','aof','1') return 1",
                "0",
            ],
            &["EVAL", "redis.call('set','last','1')", "0"],
        ],
    );
}

#[test]
fn scripts_inside_transactions_share_its_wrapper() {
    same_stream(
        5,
        &[
            &["MULTI"],
            &[
                "EVAL",
                "redis.call('set','a','1') redis.call('set','b','2')",
                "0",
            ],
            &["SET", "c", "3"],
            &["EXEC"],
        ],
    );
}
