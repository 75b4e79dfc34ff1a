//! Differential tests: every script in `tests/scripts/*.txt` runs line by
//! line on a fresh reference server and a fresh server of ours (same
//! arguments), one connection each, and the raw reply bytes must be equal.
//!
//! # Script format
//! One command per line, split with `redis_common::args::split_args` (the
//! quoting rules of redis-cli) and sent as a multibulk request; one reply is
//! read from each side. Blank lines and `# comments` are ignored.
//! Directives (apply to the next command line where noted):
//! - `#!args <server args...>` before the first command: extra server args.
//! - `#!sleep <ms>`: pause (at most 5000 ms), e.g. to let keys expire.
//! - `#!raw <escaped bytes>`: send the bytes (split_args escapes such as
//!   `"\r\n"` and `\xHH`, arguments concatenated) and compare one reply.
//! - `#!rawn <n> <escaped bytes>`: same, but read `n` replies (0 for none).
//! - `#!expect-close`: both servers must close the connection; bytes that
//!   arrive before the close are compared too. Then both sides reconnect.
//! - `#!reconnect`: open fresh connections on both sides.
//! - `#!unordered`: compare the next reply after sorting the elements of
//!   every array/set/map in it (KEYS, SMEMBERS, a SCAN that returns all).
//! - `#!nocompare <reason>`: run the next line on both, don't compare.
//!
//! Several clients (blocking commands, pub/sub, transaction races):
//! - `#!conn <name>`: the following lines use connection `<name>` on both
//!   sides, opened on first use (`main` is the initial connection).
//! - `#!send`: send the next command without reading its reply (a blocking
//!   command, a `SUBSCRIBE` whose pushes are read later).
//! - `#!read <n>`: read `n` replies on the current connection and compare.
//! - `#!wait-blocked <n>`: on a separate control connection, poll `INFO
//!   clients` (at most 5 s) until `blocked_clients:<n>`, so a client sent a
//!   blocking command with `#!send` is known to be blocked before another
//!   connection acts. Without this the order of two clients is a race.
//! - `#!info <field>...`: send `INFO everything` and compare only the
//!   values of the named fields (counters such as `keyspace_hits`).
//! - In a command line, `$id:<name>` is replaced by the `CLIENT ID` of
//!   connection `<name>` on each side (asked when the connection opens).
//!
//! # Intended differences from the reference
//! Lines whose replies legitimately differ are marked `#!nocompare` with a
//! reason in the script; keep this list in sync:
//! - None in behaviour so far. Not compared, because the values are not
//!   determined by the commands: `CLIENT ID`, `HELLO 3` and `HELLO 2` in
//!   server.txt (they carry the client id, which depends on how many
//!   readiness probes connected before the script's connection).
//! - Element order of KEYS/SCAN/SMEMBERS/HGETALL/CONFIG GET with globs is
//!   not a difference; those lines use `#!unordered`.
//!
//! Set `DIFF_TRACE=1` to print every line with the reference's reply, which
//! helps when writing scripts. Self-check the scripts with
//! `REDIS_RS_BIN_DIR=/usr/bin cargo test -p redis-tests differential`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use redis_common::args::split_args;
use redis_testkit::resp::normalize_unordered;
use redis_testkit::{escape, Conn, ServerKind, TestServer};

use crate::util::scripts_dir;

/// Stop reporting after this many mismatches in one script; later ones are
/// usually a consequence of the first.
const MAX_FAILURES: usize = 25;
/// Longest `#!sleep` a script may ask for, to keep runs bounded.
const MAX_SLEEP_MS: u64 = 5000;

/// One step of a script.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// Send `bytes`, read `replies` replies; compare unless `compare` is off.
    Send {
        bytes: Vec<u8>,
        replies: usize,
        mode: Compare,
    },
    Sleep(u64),
    ExpectClose,
    Reconnect,
    /// Switch the current connection.
    Conn(String),
    /// Read replies on the current connection.
    Read {
        replies: usize,
        mode: Compare,
    },
    /// Wait until the server counts this many blocked clients.
    WaitBlocked(usize),
    /// Compare these `INFO` fields.
    Info(Vec<String>),
    /// A command with `$id:<name>` placeholders, encoded per side.
    Template {
        args: Vec<Vec<u8>>,
        replies: usize,
        mode: Compare,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Compare {
    Exact,
    Unordered,
    Skip,
}

/// A step with where it came from, for error messages.
#[derive(Debug)]
struct Line {
    no: usize,
    text: String,
    step: Step,
}

#[derive(Debug)]
struct Script {
    args: Vec<String>,
    lines: Vec<Line>,
}

/// Encodes split arguments as a multibulk request.
fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    redis_testkit::conn::encode_request(args)
}

/// Escaped text (split_args syntax) to raw bytes: all arguments joined.
fn unescape(text: &str, no: usize) -> Result<Vec<u8>, String> {
    let parts =
        split_args(text.as_bytes()).ok_or(format!("line {no}: unbalanced quotes in raw bytes"))?;
    Ok(parts.concat())
}

fn parse_script(src: &str) -> Result<Script, String> {
    let mut args = Vec::new();
    let mut lines = Vec::new();
    let mut pending: Option<Compare> = None;
    let mut send_only = false;
    for (idx, raw_line) in src.lines().enumerate() {
        let no = idx + 1;
        let line = raw_line.trim();
        if line.is_empty() || (line.starts_with('#') && !line.starts_with("#!")) {
            continue;
        }
        let text = line.to_string();
        if let Some(d) = line.strip_prefix("#!") {
            let (name, rest) = d.split_once(' ').unwrap_or((d, ""));
            let rest = rest.trim();
            let step = match name {
                "args" => {
                    if !lines.is_empty() {
                        return Err(format!(
                            "line {no}: #!args must come before the first command"
                        ));
                    }
                    let parsed =
                        split_args(rest.as_bytes()).ok_or(format!("line {no}: bad quotes"))?;
                    args.extend(
                        parsed
                            .into_iter()
                            .map(|a| String::from_utf8_lossy(&a).into_owned()),
                    );
                    continue;
                }
                "sleep" => {
                    let ms: u64 = rest
                        .parse()
                        .map_err(|_| format!("line {no}: #!sleep needs milliseconds"))?;
                    if ms > MAX_SLEEP_MS {
                        return Err(format!("line {no}: #!sleep at most {MAX_SLEEP_MS} ms"));
                    }
                    Step::Sleep(ms)
                }
                "raw" => Step::Send {
                    bytes: unescape(rest, no)?,
                    replies: 1,
                    mode: pending.take().unwrap_or(Compare::Exact),
                },
                "rawn" => {
                    let (n, bytes) = rest
                        .split_once(' ')
                        .ok_or(format!("line {no}: #!rawn <n> <bytes>"))?;
                    let replies = n.parse().map_err(|_| format!("line {no}: #!rawn count"))?;
                    Step::Send {
                        bytes: unescape(bytes, no)?,
                        replies,
                        mode: pending.take().unwrap_or(Compare::Exact),
                    }
                }
                "expect-close" => Step::ExpectClose,
                "reconnect" => Step::Reconnect,
                "conn" => {
                    if rest.is_empty() || rest.contains(' ') {
                        return Err(format!("line {no}: #!conn <name>"));
                    }
                    Step::Conn(rest.to_string())
                }
                "send" => {
                    send_only = true;
                    continue;
                }
                "read" => Step::Read {
                    replies: rest.parse().map_err(|_| format!("line {no}: #!read <n>"))?,
                    mode: pending.take().unwrap_or(Compare::Exact),
                },
                "info" => {
                    let fields: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
                    if fields.is_empty() {
                        return Err(format!("line {no}: #!info <field>..."));
                    }
                    Step::Info(fields)
                }
                "wait-blocked" => Step::WaitBlocked(
                    rest.parse()
                        .map_err(|_| format!("line {no}: #!wait-blocked <n>"))?,
                ),
                "unordered" | "nocompare" => {
                    if name == "nocompare" && rest.is_empty() {
                        return Err(format!("line {no}: #!nocompare needs a reason"));
                    }
                    if pending.is_some() {
                        return Err(format!("line {no}: two modifiers in a row"));
                    }
                    pending = Some(if name == "nocompare" {
                        Compare::Skip
                    } else {
                        Compare::Unordered
                    });
                    continue;
                }
                other => return Err(format!("line {no}: unknown directive #!{other}")),
            };
            lines.push(Line { no, text, step });
            continue;
        }
        let parts = split_args(line.as_bytes()).ok_or(format!("line {no}: unbalanced quotes"))?;
        let replies = if std::mem::take(&mut send_only) { 0 } else { 1 };
        let mode = pending.take().unwrap_or(Compare::Exact);
        let step = if parts.iter().any(|a| a.starts_with(b"$id:")) {
            Step::Template {
                args: parts,
                replies,
                mode,
            }
        } else {
            Step::Send {
                bytes: multibulk(&parts),
                replies,
                mode,
            }
        };
        lines.push(Line { no, text, step });
    }
    if pending.is_some() || send_only {
        return Err("a #!unordered/#!nocompare/#!send at the end applies to nothing".into());
    }
    Ok(Script { args, lines })
}

/// One implementation under test with its connections.
struct Side {
    name: &'static str,
    server: TestServer,
    /// Open connections by script name, with their `CLIENT ID` (asked only
    /// for connections opened by `#!conn`; `main` has none).
    conns: HashMap<String, (Conn, Option<i64>)>,
    current: String,
    /// Private connection for `#!wait-blocked`, opened on first use.
    control: Option<Conn>,
}

impl Side {
    fn start(name: &'static str, kind: ServerKind, args: &[&str]) -> Side {
        let server = TestServer::start(kind, args);
        let mut conns = HashMap::new();
        conns.insert(MAIN.to_string(), (server.conn(), None));
        Side {
            name,
            server,
            conns,
            current: MAIN.to_string(),
            control: None,
        }
    }

    fn conn(&mut self) -> Result<&mut Conn, String> {
        self.conns
            .get_mut(&self.current)
            .map(|c| &mut c.0)
            .ok_or_else(|| format!("{}: no connection {}", self.name, self.current))
    }

    fn switch(&mut self, to: &str) -> Result<(), String> {
        if !self.conns.contains_key(to) {
            let mut c = self.server.conn();
            let reply = c
                .try_send_raw(&multibulk(&[b"CLIENT".to_vec(), b"ID".to_vec()]))
                .map_err(|e| e.to_string())
                .and_then(|()| c.try_read_reply_raw())
                .map_err(|e| format!("{}: CLIENT ID: {e}", self.name))?;
            let id = std::str::from_utf8(&reply)
                .ok()
                .and_then(|t| t.strip_prefix(':'))
                .and_then(|t| t.trim_end().parse().ok())
                .ok_or_else(|| format!("{}: CLIENT ID replied {}", self.name, escape(&reply)))?;
            self.conns.insert(to.to_string(), (c, Some(id)));
        }
        self.current = to.to_string();
        Ok(())
    }

    fn reconnect(&mut self) {
        let fresh = self.server.conn();
        if let Some(c) = self.conns.get_mut(&self.current) {
            c.0 = fresh;
        }
    }

    /// Encodes a command, replacing `$id:<name>` with this side's ids.
    fn expand(&self, args: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            match a.strip_prefix(b"$id:") {
                Some(name) => {
                    let name = String::from_utf8_lossy(name);
                    let id = self
                        .conns
                        .get(name.as_ref())
                        .and_then(|c| c.1)
                        .ok_or_else(|| format!("no #!conn named {name} opened yet"))?;
                    out.push(id.to_string().into_bytes());
                }
                None => out.push(a.clone()),
            }
        }
        Ok(multibulk(&out))
    }

    fn exchange(&mut self, bytes: &[u8], replies: usize) -> Result<Vec<u8>, String> {
        let name = self.name;
        let conn = self.conn()?;
        conn.try_send_raw(bytes)
            .map_err(|e| format!("{name}: write failed: {e}"))?;
        Self::read(name, conn, replies)
    }

    fn read(name: &str, conn: &mut Conn, replies: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for _ in 0..replies {
            out.extend(
                conn.try_read_reply_raw()
                    .map_err(|e| format!("{name}: {e}"))?,
            );
        }
        Ok(out)
    }

    /// Polls `INFO clients` until `blocked_clients:<n>` (bounded).
    fn wait_blocked(&mut self, n: usize) -> Result<(), String> {
        if self.control.is_none() {
            self.control = Some(self.server.conn());
        }
        let name = self.name;
        let Some(control) = self.control.as_mut() else {
            return Err(format!("{name}: no control connection"));
        };
        let want = format!("blocked_clients:{n}\r\n");
        let request = multibulk(&[b"INFO".to_vec(), b"clients".to_vec()]);
        let mut last = String::new();
        for _ in 0..500 {
            control
                .try_send_raw(&request)
                .map_err(|e| format!("{name}: {e}"))?;
            let reply = control
                .try_read_reply_raw()
                .map_err(|e| format!("{name}: {e}"))?;
            last = String::from_utf8_lossy(&reply).into_owned();
            if last.contains(&want) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!(
            "{name}: never saw {want:?}; last INFO clients: {last:?}"
        ))
    }
}

/// Name of the connection a script starts with.
const MAIN: &str = "main";

/// Runs one script file; returns a report of every mismatch (empty = pass).
fn run_script(path: &Path) -> Vec<String> {
    let src =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let script = parse_script(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let args: Vec<&str> = script.args.iter().map(String::as_str).collect();
    let mut reference = Side::start("reference", ServerKind::Reference, &args);
    let mut ours = Side::start("ours", ServerKind::Ours, &args);
    let trace = std::env::var_os("DIFF_TRACE").is_some();
    let file = path.display();
    let mut failures = Vec::new();
    for line in &script.lines {
        let here = format!("{file}:{}: {}", line.no, line.text);
        match &line.step {
            Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Step::Reconnect => {
                reference.reconnect();
                ours.reconnect();
            }
            Step::ExpectClose => {
                let r = reference.conn().and_then(|c| c.read_until_close());
                let o = ours.conn().and_then(|c| c.read_until_close());
                if trace {
                    eprintln!("{here}\n    -> {}", show_close(&r));
                }
                match (r, o) {
                    (Ok(r), Ok(o)) if r == o => {}
                    (r, o) => failures.push(format!(
                        "{here}\n  reference: {}\n  ours:      {}",
                        show_close(&r),
                        show_close(&o)
                    )),
                }
                reference.reconnect();
                ours.reconnect();
            }
            Step::Conn(name) => {
                if let Err(e) = reference.switch(name).and_then(|()| ours.switch(name)) {
                    failures.push(format!("{here}\n  {e}\n  (script aborted)"));
                    break;
                }
            }
            Step::Info(fields) => {
                let request = multibulk(&[b"INFO".to_vec(), b"everything".to_vec()]);
                let r = reference
                    .exchange(&request, 1)
                    .map(|b| info_fields(&b, fields));
                let o = ours.exchange(&request, 1).map(|b| info_fields(&b, fields));
                if !compare(&here, r, o, Compare::Exact, trace, &mut failures) {
                    break;
                }
            }
            Step::WaitBlocked(n) => {
                if let Err(e) = reference
                    .wait_blocked(*n)
                    .and_then(|()| ours.wait_blocked(*n))
                {
                    failures.push(format!("{here}\n  {e}\n  (script aborted)"));
                    break;
                }
            }
            Step::Send {
                bytes,
                replies,
                mode,
            } => {
                let r = reference.exchange(bytes, *replies);
                let o = ours.exchange(bytes, *replies);
                if !compare(&here, r, o, *mode, trace, &mut failures) {
                    break;
                }
            }
            Step::Template {
                args,
                replies,
                mode,
            } => {
                let r = reference
                    .expand(args)
                    .and_then(|b| reference.exchange(&b, *replies));
                let o = ours.expand(args).and_then(|b| ours.exchange(&b, *replies));
                if !compare(&here, r, o, *mode, trace, &mut failures) {
                    break;
                }
            }
            Step::Read { replies, mode } => {
                let r = reference
                    .conn()
                    .and_then(|c| Side::read("reference", c, *replies));
                let o = ours.conn().and_then(|c| Side::read("ours", c, *replies));
                if !compare(&here, r, o, *mode, trace, &mut failures) {
                    break;
                }
            }
        }
        if failures.len() >= MAX_FAILURES {
            failures.push(format!("... stopped after {MAX_FAILURES} mismatches"));
            break;
        }
    }
    if !failures.is_empty() {
        let log = ours.server.log_contents();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let mut s = String::from("last lines of our server log:\n");
        for l in tail.into_iter().rev() {
            let _ = writeln!(s, "    {l}");
        }
        failures.push(s);
    }
    failures
}

/// `field:value` lines of the named fields of an `INFO` reply, in the
/// order asked (`field:<missing>` when absent).
fn info_fields(reply: &[u8], fields: &[String]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let mut out = String::new();
    for f in fields {
        let prefix = format!("{f}:");
        let v = text
            .split("\r\n")
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or("<missing>");
        let _ = write!(out, "{f}:{v}\r\n");
    }
    out.into_bytes()
}

/// Compares one exchange; records a mismatch. False when the script
/// cannot go on (a side timed out or hung up).
fn compare(
    here: &str,
    r: Result<Vec<u8>, String>,
    o: Result<Vec<u8>, String>,
    mode: Compare,
    trace: bool,
    failures: &mut Vec<String>,
) -> bool {
    if trace {
        eprintln!(
            "{here}\n    -> {}",
            r.as_deref().map(escape).unwrap_or_else(|e| e.clone())
        );
    }
    match (r, o) {
        (Ok(r), Ok(o)) => {
            let same = match mode {
                Compare::Exact => r == o,
                Compare::Unordered => normalize_unordered(&r) == normalize_unordered(&o),
                Compare::Skip => true,
            };
            if !same {
                failures.push(format!(
                    "{here}\n  reference: {}\n  ours:      {}",
                    escape(&r),
                    escape(&o)
                ));
            }
            true
        }
        (r, o) => {
            // A side that timed out or hung up leaves nothing meaningful to
            // compare afterwards.
            failures.push(format!(
                "{here}\n  reference: {}\n  ours:      {}\n  (script aborted)",
                r.as_deref().map(escape).unwrap_or_else(|e| e.clone()),
                o.as_deref().map(escape).unwrap_or_else(|e| e.clone()),
            ));
            false
        }
    }
}

fn show_close(r: &Result<Vec<u8>, String>) -> String {
    match r {
        Ok(bytes) => format!("closed after {}", escape(bytes)),
        Err(e) => e.clone(),
    }
}

fn check(name: &str) {
    let path = scripts_dir().join(format!("{name}.txt"));
    let failures = run_script(&path);
    if !failures.is_empty() {
        panic!(
            "differential script {} failed:\n{}",
            path.display(),
            failures.join("\n")
        );
    }
}

/// One #[test] per script so failures are reported per file; the list is
/// checked against the directory by `every_script_has_a_test`.
macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        const SCRIPTS: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

scripts!(
    keyspace, expire, strings, protocol, server, hash, zset, set, list, stream, bitops, sort, hll,
    cluster, geo, multi, blocking, pubsub, limits, debug, scripting, tracking, acl
);

#[test]
fn every_script_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(scripts_dir())
        .expect("tests/scripts exists")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".txt").map(str::to_string)
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SCRIPTS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "add new scripts to the scripts! list in tests/differential.rs"
    );
}

#[test]
fn every_script_parses() {
    for name in SCRIPTS {
        let path = scripts_dir().join(format!("{name}.txt"));
        let src = std::fs::read_to_string(&path).expect("script readable");
        let s = parse_script(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!s.lines.is_empty(), "{} has no commands", path.display());
    }
}

#[test]
fn parser_understands_directives() {
    let s = parse_script(
        "#!args --databases 4\n# c\n\nSET a \"b c\"\n#!unordered\nKEYS *\n#!rawn 0 \"*1\\r\\n\"\n#!raw PING \"\\r\\n\"\n#!expect-close\n#!sleep 5\n#!nocompare why\nTIME\n",
    )
    .expect("parses");
    assert_eq!(s.args, vec!["--databases", "4"]);
    let steps: Vec<Step> = s.lines.into_iter().map(|l| l.step).collect();
    assert_eq!(
        steps,
        vec![
            Step::Send {
                bytes: b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$3\r\nb c\r\n".to_vec(),
                replies: 1,
                mode: Compare::Exact
            },
            Step::Send {
                bytes: b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n".to_vec(),
                replies: 1,
                mode: Compare::Unordered
            },
            Step::Send {
                bytes: b"*1\r\n".to_vec(),
                replies: 0,
                mode: Compare::Exact
            },
            Step::Send {
                bytes: b"PING\r\n".to_vec(),
                replies: 1,
                mode: Compare::Exact
            },
            Step::ExpectClose,
            Step::Sleep(5),
            Step::Send {
                bytes: b"*1\r\n$4\r\nTIME\r\n".to_vec(),
                replies: 1,
                mode: Compare::Skip
            },
        ]
    );
    assert!(
        parse_script("#!nocompare\nPING\n").is_err(),
        "reason required"
    );
    assert!(parse_script("#!bogus\n").is_err());
    assert!(parse_script("SET \"a\n").is_err());
    assert!(parse_script("#!unordered\n").is_err());
    assert!(parse_script("PING\n#!args x\n").is_err());
}

#[test]
fn parser_understands_connection_directives() {
    let s = parse_script(
        "#!conn c1\n#!send\nBLPOP q 0\n#!wait-blocked 1\n#!conn main\nCLIENT UNBLOCK $id:c1\n#!conn c1\n#!unordered\n#!read 2\n",
    )
    .expect("parses");
    let steps: Vec<Step> = s.lines.into_iter().map(|l| l.step).collect();
    assert_eq!(
        steps,
        vec![
            Step::Conn("c1".into()),
            Step::Send {
                bytes: b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n".to_vec(),
                replies: 0,
                mode: Compare::Exact
            },
            Step::WaitBlocked(1),
            Step::Conn("main".into()),
            Step::Template {
                args: vec![b"CLIENT".to_vec(), b"UNBLOCK".to_vec(), b"$id:c1".to_vec()],
                replies: 1,
                mode: Compare::Exact
            },
            Step::Conn("c1".into()),
            Step::Read {
                replies: 2,
                mode: Compare::Unordered
            },
        ]
    );
    assert!(parse_script("#!conn\nPING\n").is_err(), "name required");
    assert!(parse_script("#!read x\n").is_err());
    assert!(parse_script("#!wait-blocked\n").is_err());
    assert!(parse_script("PING\n#!send\n").is_err(), "dangling #!send");
}
