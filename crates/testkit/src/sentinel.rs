//! Sentinel test harness: sentinels (ours or the reference) and the data
//! servers they watch, as real processes on loopback ports chosen outside
//! the ranges other suites use, each with a private directory holding its
//! config, log and stdout; a RESP value reader for sentinel replies; a
//! subscriber that records sentinel events with their arrival times; and a
//! bounded polling helper.
//!
//! Every process is killed by PID (SIGKILL) when its guard drops, also when
//! the test panics; a guard dropped during a panic prints its log first, so
//! a failed scenario shows what every process saw.

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::conn::encode_request;
use crate::resp::reply_len;
use crate::server::{free_port, ours_binary, ServerKind};
use crate::{Conn, TempDir};

/// How often the wait helpers poll.
pub const POLL: Duration = Duration::from_millis(50);
/// How long a process may take to answer its first PING.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Ports another suite owns; never bound here (nor 6379, nor 26379).
pub const RESERVED_PORTS: std::ops::RangeInclusive<u16> = 21000..=33000;

/// Which sentinel implementation to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentinelKind {
    /// This workspace's `redis-sentinel <conf> [options]`.
    Ours,
    /// Debian's `/usr/bin/redis-server <conf> --sentinel [options]`.
    Reference,
}

impl SentinelKind {
    /// The command that runs this kind with config file `conf` (none when
    /// `None`) followed by `options`; panics when the binary is missing.
    pub fn command(self, conf: Option<&Path>, options: &[&str]) -> Command {
        let mut cmd = match self {
            SentinelKind::Ours => Command::new(ours_binary("redis-sentinel")),
            SentinelKind::Reference => Command::new(ServerKind::Reference.server_binary()),
        };
        if let Some(c) = conf {
            cmd.arg(c);
        }
        if self == SentinelKind::Reference {
            cmd.arg("--sentinel");
        }
        cmd.args(options);
        cmd
    }

    /// Runs this kind (see [`SentinelKind::command`]) when it is expected
    /// to exit by itself, as user `uid` when given (the caller must be
    /// root). Returns the exit code (-1 for a signal) and stderr followed
    /// by stdout; a process still running after [`EXIT_TIMEOUT`] is
    /// killed and reported as code -2, so a caller comparing several
    /// cases can name the one that hung.
    pub fn run_to_exit(
        self,
        conf: Option<&Path>,
        options: &[&str],
        uid: Option<u32>,
    ) -> (i32, String) {
        let tmp = TempDir::new();
        let file = |name: &str| {
            std::fs::File::create(tmp.join(name))
                .unwrap_or_else(|e| panic!("create {name} in {}: {e}", tmp.display()))
        };
        let mut cmd = self.command(conf, options);
        cmd.stdin(Stdio::null())
            .stdout(file("stdout"))
            .stderr(file("stderr"));
        if let Some(u) = uid {
            use std::os::unix::process::CommandExt;
            cmd.uid(u).gid(u);
        }
        let mut guard = crate::ChildGuard::spawn(&mut cmd);
        let deadline = Instant::now() + EXIT_TIMEOUT;
        let code = loop {
            match guard.0.try_wait() {
                Ok(Some(st)) => break st.code().unwrap_or(-1),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => break -2,
                Err(e) => panic!("waiting for {cmd:?}: {e}"),
            }
        };
        // Killed and reaped before the output is read.
        drop(guard);
        let read = |name: &str| std::fs::read_to_string(tmp.join(name)).unwrap_or_default();
        let mut text = read("stderr") + &read("stdout");
        if code == -2 {
            text = format!("(still running after {EXIT_TIMEOUT:?}: killed)\n{text}");
        }
        (code, text)
    }
}

/// How long [`SentinelKind::run_to_exit`] waits for the process to exit.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that is free now, outside [`RESERVED_PORTS`], never
/// 6379, and not handed out before by this process (a killed process
/// restarts on its old port, which must not go to someone else).
pub fn safe_port() -> u16 {
    for _ in 0..1000 {
        let p = free_port();
        if RESERVED_PORTS.contains(&p) || p == 6379 || p < 1024 {
            continue;
        }
        let mut g = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if g.get_or_insert_with(HashSet::new).insert(p) {
            return p;
        }
    }
    panic!("no free port outside {RESERVED_PORTS:?} after 1000 tries");
}

/// Removes the `pid:X dd Mon yyyy hh:mm:ss.mmm ` prefix of upstream log
/// lines, keeping the level mark (`#`, `*`, ...) and the message, so logs
/// of two processes compare as text.
pub fn strip_log_prefixes(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.splitn(6, ' ').collect();
        let stamped = parts.len() == 6
            && parts[0].split_once(':').is_some_and(|(pid, role)| {
                !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && role.len() == 1
            })
            && parts[1].len() == 2
            && parts[2].len() == 3
            && parts[3].len() == 4
            && parts[4].contains(':');
        out.push(if stamped { parts[5] } else { line });
    }
    out.join("\n")
}

/// A managed process listening on `port` with its own directory; killed
/// by PID on drop (after printing its log if the thread is panicking).
#[derive(Debug)]
struct Daemon {
    label: String,
    program: PathBuf,
    args: Vec<String>,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    spawned: Instant,
}

impl Daemon {
    fn log_path(&self) -> PathBuf {
        self.dir.join("log")
    }

    fn spawn(&mut self) -> Result<(), String> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stdout"))
            .map_err(|e| format!("{}: create stdout file: {e}", self.label))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: clone stdout file: {e}", self.label))?;
        self.spawned = Instant::now();
        let child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: spawning {}: {e}", self.label, self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits until PING gets +PONG; on failure says why, with the log.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = self.spawned + START_TIMEOUT;
        let addr = self.addr();
        loop {
            if !self.is_running() {
                return Err(format!(
                    "{} exited during startup\n{}",
                    self.label,
                    self.report()
                ));
            }
            if let Ok(r) = query(addr, &["PING"]) {
                // A server with `requirepass` is up when it asks for AUTH.
                if r.starts_with(b"+PONG")
                    || r.starts_with(b"-MASTERDOWN")
                    || r.starts_with(b"-NOAUTH")
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not answer PING within {START_TIMEOUT:?}\n{}",
                    self.label,
                    self.report()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs the process by PID and reaps it, then kills what it had
    /// forked (a server streaming an RDB to a replica has a child).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let forked = crate::process::children(c.id());
            let _ = c.kill();
            let _ = c.wait();
            for pid in forked {
                crate::process::signal(pid, "-KILL");
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout")).unwrap_or_default()
    }

    fn report(&self) -> String {
        format!(
            "--- {} (port {}): {} {:?}\n--- log:\n{}\n--- stdout/stderr:\n{}",
            self.label,
            self.port,
            self.program.display(),
            self.args,
            self.log(),
            self.output()
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("{}", self.report());
        }
    }
}

/// Sends one command on a fresh connection and returns the raw reply, or
/// why there is none (refused, closed, timed out).
pub fn query(addr: SocketAddr, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut c = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    c.try_send_raw(&encode_request(args))
        .map_err(|e| format!("write to {addr}: {e}"))?;
    c.try_read_reply_raw()
}

/// A data server (`redis-server` of either kind) on a port of its own,
/// which can be killed and restarted on the same port and directory.
#[derive(Debug)]
pub struct Node {
    kind: ServerKind,
    daemon: Daemon,
}

impl Node {
    /// Starts a server of `kind` with the test defaults and `extra`
    /// arguments (`--replicaof 127.0.0.1 <port>`, ...); retries on a lost
    /// port race; panics with the log when it does not come up.
    pub fn start(kind: ServerKind, label: &str, extra: &[&str]) -> Node {
        let mut last = String::new();
        for _ in 0..4 {
            let port = safe_port();
            let mut node = Node {
                kind,
                daemon: Daemon {
                    label: format!("{label} ({kind:?} server)"),
                    program: kind.server_binary(),
                    args: Vec::new(),
                    port,
                    dir: TempDir::new(),
                    child: None,
                    spawned: Instant::now(),
                },
            };
            node.daemon.args = node.args(extra);
            match node.daemon.spawn().and_then(|_| node.daemon.wait_ready()) {
                Ok(()) => return node,
                Err(e) => last = e,
            }
            if !last.contains("Address already in use") {
                break;
            }
        }
        panic!("{last}");
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let d = self.daemon.dir.path_str();
        let mut v: Vec<String> = [
            "--port",
            &self.daemon.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--repl-diskless-sync-delay",
            "0",
            "--dir",
            d,
            "--logfile",
            &format!("{d}/log"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    /// Restarts the (killed) server on its old port and directory with
    /// the test defaults and `extra`; panics when it does not come up.
    pub fn restart(&mut self, extra: &[&str]) {
        self.daemon.kill();
        self.daemon.args = self.args(extra);
        if let Err(e) = self.daemon.spawn().and_then(|_| self.daemon.wait_ready()) {
            panic!("restart: {e}");
        }
    }

    /// SIGKILLs the server (by PID) and reaps it.
    pub fn kill9(&mut self) {
        self.daemon.kill();
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    pub fn port(&self) -> u16 {
        self.daemon.port
    }

    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }

    pub fn label(&self) -> &str {
        &self.daemon.label
    }

    /// A new raw connection.
    pub fn conn(&self) -> Conn {
        Conn::connect(self.addr())
            .unwrap_or_else(|e| panic!("connect to {} at {}: {e}", self.label(), self.addr()))
    }

    /// One command on a fresh connection (see [`query`]).
    pub fn query(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        query(self.addr(), args)
    }

    /// `ROLE` decoded: `("master", None)` or `("slave", Some((host, port)))`.
    pub fn role(&self) -> Result<(String, Option<(String, u16)>), String> {
        let raw = self.query(&["ROLE"])?;
        parse_role(&raw)
    }

    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// Whole report: arguments, log, stdout.
    pub fn report(&self) -> String {
        self.daemon.report()
    }
}

/// Decodes a `ROLE` reply into the role and, for a replica, its master.
pub fn parse_role(raw: &[u8]) -> Result<(String, Option<(String, u16)>), String> {
    let v = Value::parse(raw)?;
    let items = v.array().ok_or_else(|| format!("ROLE reply {v:?}"))?;
    let role = items
        .first()
        .and_then(Value::text)
        .ok_or_else(|| format!("ROLE reply {v:?}"))?;
    if role == "slave" {
        let host = items.get(1).and_then(Value::text).unwrap_or_default();
        let port = items
            .get(2)
            .and_then(Value::int)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("ROLE reply {v:?}"))?;
        Ok((role, Some((host, port))))
    } else {
        Ok((role, None))
    }
}

/// A sentinel with its own directory holding a writable `sentinel.conf`
/// (which it rewrites), its `log` and its stdout.
#[derive(Debug)]
pub struct Sentinel {
    kind: SentinelKind,
    daemon: Daemon,
}

impl Sentinel {
    /// Writes `sentinel.conf` (port, `bind 127.0.0.1`, dir, logfile, then
    /// `body`) in a fresh directory and starts a sentinel of `kind` on it;
    /// retries on a lost port race; panics with the log when it does not
    /// answer PING.
    pub fn start(kind: SentinelKind, label: &str, body: &str) -> Sentinel {
        let mut last = String::new();
        for _ in 0..4 {
            let port = safe_port();
            let dir = TempDir::new();
            let conf = dir.join("sentinel.conf");
            let d = dir.path_str().to_string();
            let text =
                format!("port {port}\nbind 127.0.0.1\ndir \"{d}\"\nlogfile \"{d}/log\"\n{body}");
            std::fs::write(&conf, text).unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
            let cmd = kind.command(Some(&conf), &[]);
            let mut s = Sentinel {
                kind,
                daemon: Daemon {
                    label: format!("{label} ({kind:?} sentinel)"),
                    program: PathBuf::from(cmd.get_program()),
                    args: cmd
                        .get_args()
                        .map(|a| a.to_string_lossy().into_owned())
                        .collect(),
                    port,
                    dir,
                    child: None,
                    spawned: Instant::now(),
                },
            };
            match s.daemon.spawn().and_then(|_| s.daemon.wait_ready()) {
                Ok(()) => return s,
                Err(e) => last = e,
            }
            if !last.contains("Address already in use") {
                break;
            }
        }
        panic!("{last}");
    }

    /// Starts it again from its (rewritten) config file, on the port that
    /// file names; panics when it does not come up.
    pub fn restart(&mut self) {
        self.daemon.kill();
        if let Err(e) = self.daemon.spawn().and_then(|_| self.daemon.wait_ready()) {
            panic!("restart: {e}");
        }
    }

    /// SIGKILLs the sentinel (by PID) and reaps it.
    pub fn kill9(&mut self) {
        self.daemon.kill();
    }

    pub fn is_running(&mut self) -> bool {
        self.daemon.is_running()
    }

    pub fn kind(&self) -> SentinelKind {
        self.kind
    }

    pub fn port(&self) -> u16 {
        self.daemon.port
    }

    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }

    pub fn label(&self) -> &str {
        &self.daemon.label
    }

    pub fn conf_path(&self) -> PathBuf {
        self.daemon.dir.join("sentinel.conf")
    }

    /// The config file as it is on disk now.
    pub fn conf_text(&self) -> String {
        std::fs::read_to_string(self.conf_path()).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// Label, arguments, log and stdout, for failure messages.
    pub fn report(&self) -> String {
        self.daemon.report()
    }

    /// A new raw connection.
    pub fn conn(&self) -> Conn {
        Conn::connect(self.addr())
            .unwrap_or_else(|e| panic!("connect to {} at {}: {e}", self.label(), self.addr()))
    }

    /// One command on a fresh connection (see [`query`]).
    pub fn query(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        query(self.addr(), args)
    }

    /// `SENTINEL GET-MASTER-ADDR-BY-NAME name`: the address, or `None` for
    /// a null reply.
    pub fn master_addr(&self, name: &str) -> Result<Option<(String, u16)>, String> {
        let raw = self.query(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name])?;
        let v = Value::parse(&raw)?;
        match &v {
            Value::Nil => Ok(None),
            Value::Array(items) if items.len() == 2 => {
                let host = items[0].text().ok_or_else(|| format!("{v:?}"))?;
                let port = items[1]
                    .text()
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format!("{v:?}"))?;
                Ok(Some((host, port)))
            }
            _ => Err(format!("GET-MASTER-ADDR-BY-NAME reply {v:?}")),
        }
    }

    /// A reply that is an array of flat field/value arrays (`SENTINEL
    /// REPLICAS m`, `SENTINEL SENTINELS m`, `SENTINEL MASTERS`) as maps.
    pub fn records(&self, args: &[&str]) -> Result<Vec<HashMap<String, String>>, String> {
        let raw = self.query(args)?;
        let v = Value::parse(&raw)?;
        let items = v.array().ok_or_else(|| format!("{args:?}: {v:?}"))?;
        items
            .iter()
            .map(|i| i.record().ok_or_else(|| format!("{args:?}: {v:?}")))
            .collect()
    }

    /// A reply that is one flat field/value array (`SENTINEL MASTER m`).
    pub fn record(&self, args: &[&str]) -> Result<HashMap<String, String>, String> {
        let raw = self.query(args)?;
        let v = Value::parse(&raw)?;
        v.record().ok_or_else(|| format!("{args:?}: {v:?}"))
    }

    /// The `masterN:` lines of `INFO sentinel`, without the `masterN:`.
    pub fn info_masters(&self) -> Result<Vec<String>, String> {
        let raw = self.query(&["INFO", "sentinel"])?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        if !text.starts_with('$') {
            return Err(format!("INFO sentinel: {text}"));
        }
        Ok(text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                let n = k.strip_prefix("master")?;
                (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then(|| v.to_string())
            })
            .collect())
    }
}

/// A RESP2/RESP3 value, decoded just enough for sentinel replies.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    /// Arrays, sets, pushes, and maps (flattened to key, value, ...).
    Array(Vec<Value>),
    /// Other RESP3 scalars, as their text.
    Other(String),
}

impl Value {
    /// Decodes exactly one complete reply.
    pub fn parse(raw: &[u8]) -> Result<Value, String> {
        let (v, n) = Value::parse_prefix(raw, 0)?;
        if n != raw.len() {
            return Err(format!(
                "{} trailing bytes after a reply in {}",
                raw.len() - n,
                crate::escape(raw)
            ));
        }
        Ok(v)
    }

    /// Decodes the value at `depth` from the start of `raw`, returning it
    /// and the number of bytes it took.
    fn parse_prefix(raw: &[u8], depth: usize) -> Result<(Value, usize), String> {
        let bad = || format!("malformed reply {}", crate::escape(raw));
        if depth > 64 {
            return Err(bad());
        }
        let end = raw.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let (&ty, rest) = raw[..end].split_first().ok_or_else(bad)?;
        let line = String::from_utf8_lossy(rest).into_owned();
        let after = end + 2;
        let count = || line.parse::<i64>().map_err(|_| bad());
        match ty {
            b'+' => Ok((Value::Status(line), after)),
            b'-' => Ok((Value::Error(line), after)),
            b':' => Ok((Value::Int(count()?), after)),
            b'_' => Ok((Value::Nil, after)),
            b',' | b'#' | b'(' => Ok((Value::Other(line), after)),
            b'$' | b'=' | b'!' => {
                let n = count()?;
                if n < 0 {
                    return Ok((Value::Nil, after));
                }
                let n = usize::try_from(n).map_err(|_| bad())?;
                let body = raw.get(after..after + n).ok_or_else(bad)?;
                if raw.get(after + n..after + n + 2) != Some(b"\r\n") {
                    return Err(bad());
                }
                Ok((Value::Bulk(body.to_vec()), after + n + 2))
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = count()?;
                if n < 0 {
                    return Ok((Value::Nil, after));
                }
                let n = if matches!(ty, b'%' | b'|') { n * 2 } else { n };
                let mut items = Vec::new();
                let mut pos = after;
                for _ in 0..n {
                    let (v, used) =
                        Value::parse_prefix(raw.get(pos..).ok_or_else(bad)?, depth + 1)?;
                    items.push(v);
                    pos += used;
                }
                if ty == b'|' {
                    // An attribute precedes the real value.
                    let (v, used) =
                        Value::parse_prefix(raw.get(pos..).ok_or_else(bad)?, depth + 1)?;
                    return Ok((v, pos + used));
                }
                Ok((Value::Array(items), pos))
            }
            _ => Err(bad()),
        }
    }

    /// Status, bulk or other scalar as text; integers as decimal.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Status(s) | Value::Other(s) => Some(s.clone()),
            Value::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// An integer, or a bulk/status that holds one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => self.text().and_then(|t| t.parse().ok()),
        }
    }

    pub fn array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A flat field/value array as a map.
    pub fn record(&self) -> Option<HashMap<String, String>> {
        let a = self.array()?;
        if a.len() % 2 != 0 {
            return None;
        }
        a.chunks(2)
            .map(|kv| Some((kv[0].text()?, kv[1].text()?)))
            .collect()
    }
}

/// One event a sentinel published: channel, payload, and when it arrived
/// (since the subscription started).
#[derive(Debug, Clone)]
pub struct Event {
    /// When it arrived.
    pub when: Instant,
    /// Since the subscription started (for reports).
    pub at: Duration,
    pub channel: String,
    pub payload: String,
}

/// A `PSUBSCRIBE *` connection to a sentinel whose thread records every
/// event; dropping it closes the connection and joins the thread. A
/// subscriber dropped during a panic prints what it recorded.
#[derive(Debug)]
pub struct Events {
    label: String,
    stream: TcpStream,
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Events {
    /// Subscribes to every channel of the sentinel at `addr` and waits for
    /// the subscription to be confirmed.
    pub fn subscribe(addr: SocketAddr, label: &str) -> Events {
        let fail = |e: std::io::Error| -> ! { panic!("subscribing to {label} at {addr}: {e}") };
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap_or_else(|e| fail(e));
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap_or_else(|e| fail(e));
        stream
            .write_all(&encode_request(&["PSUBSCRIBE", "*"]))
            .unwrap_or_else(|e| fail(e));
        // The confirmation: *3 psubscribe * :1
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(5);
        let n = loop {
            match reply_len(&buf) {
                Ok(Some(n)) => break n,
                Ok(None) => {}
                Err(e) => panic!("{label}: bad PSUBSCRIBE reply {e}: {}", crate::escape(&buf)),
            }
            assert!(
                Instant::now() < deadline,
                "{label}: no PSUBSCRIBE confirmation: {}",
                crate::escape(&buf)
            );
            match stream.read(&mut chunk) {
                Ok(0) => panic!("{label}: closed after PSUBSCRIBE: {}", crate::escape(&buf)),
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => fail(e),
            }
        };
        let first: Vec<u8> = buf.drain(..n).collect();
        assert!(
            first.starts_with(b"*3\r\n$10\r\npsubscribe\r\n"),
            "{label}: PSUBSCRIBE reply {}",
            crate::escape(&first)
        );
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap_or_else(|e| fail(e));
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut reader = stream.try_clone().unwrap_or_else(|e| fail(e));
        let (ev, st, name) = (events.clone(), stop.clone(), label.to_string());
        let started = Instant::now();
        let thread = std::thread::spawn(move || loop {
            while let Ok(Some(n)) = reply_len(&buf) {
                let raw: Vec<u8> = buf.drain(..n).collect();
                let rec = match Value::parse(&raw) {
                    Ok(Value::Array(a)) if a.len() == 4 => Event {
                        when: Instant::now(),
                        at: started.elapsed(),
                        channel: a[2].text().unwrap_or_default(),
                        payload: a[3].text().unwrap_or_default(),
                    },
                    _ => Event {
                        when: Instant::now(),
                        at: started.elapsed(),
                        channel: "?unexpected".into(),
                        payload: crate::escape(&raw),
                    },
                };
                ev.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
            }
            if reply_len(&buf).is_err() {
                eprintln!("{name}: undecodable event stream {}", crate::escape(&buf));
                return;
            }
            if st.load(Ordering::Relaxed) {
                return;
            }
            match reader.read(&mut chunk) {
                Ok(0) => return,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => return,
            }
        });
        Events {
            label: label.to_string(),
            stream,
            events,
            stop,
            thread: Some(thread),
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Everything recorded so far.
    pub fn all(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The first recorded event on `channel` whose payload starts with
    /// `prefix`.
    pub fn find(&self, channel: &str, prefix: &str) -> Option<Event> {
        self.all()
            .into_iter()
            .find(|e| e.channel == channel && e.payload.starts_with(prefix))
    }

    /// Waits (bounded by `timeout`) for an event like [`Events::find`]'s;
    /// panics listing what was recorded.
    pub fn wait(&self, channel: &str, prefix: &str, timeout: Duration) -> Event {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find(channel, prefix) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no `{channel} {prefix}...` event within {timeout:?}; got:\n{}",
                self.label,
                self.dump()
            );
            std::thread::sleep(POLL);
        }
    }

    /// The recorded events, one a line.
    pub fn dump(&self) -> String {
        self.all()
            .iter()
            .map(|e| format!("  {:>8.3}s {} {}", e.at.as_secs_f64(), e.channel, e.payload))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if std::thread::panicking() {
            eprintln!("--- events of {}:\n{}", self.label, self.dump());
        }
    }
}

/// Polls `probe` every [`POLL`] until it returns `Ok`, for at most
/// `timeout`; then panics with `what` and the last `Err` it returned.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    start.elapsed() < timeout,
                    "timed out after {timeout:?} waiting for {what}; last seen: {last}"
                );
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until every sentinel in `sentinels` answers
/// `SENTINEL GET-MASTER-ADDR-BY-NAME name` with `127.0.0.1:port`.
pub fn wait_master_addr(sentinels: &[&Sentinel], name: &str, port: u16, timeout: Duration) {
    let want = Some(("127.0.0.1".to_string(), port));
    wait_for(
        timeout,
        &format!("every sentinel to report {name} at 127.0.0.1:{port}"),
        || {
            let got: Vec<_> = sentinels
                .iter()
                .map(|s| s.master_addr(name).map(|a| (s.label().to_string(), a)))
                .collect::<Result<_, _>>()?;
            if got.iter().all(|(_, a)| *a == want) {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
}

/// Waits until `SENTINEL <list> name` (`REPLICAS` or `SENTINELS`) on `s`
/// has `n` entries; returns them.
pub fn wait_listed(
    s: &Sentinel,
    list: &str,
    name: &str,
    n: usize,
    timeout: Duration,
) -> Vec<HashMap<String, String>> {
    wait_for(
        timeout,
        &format!("{}: SENTINEL {list} {name} to list {n}", s.label()),
        || {
            let got = s.records(&["SENTINEL", list, name])?;
            if got.len() == n {
                Ok(got)
            } else {
                Err(format!("{got:?}"))
            }
        },
    )
}

/// Waits until `ROLE` of `node` is master (`master_port` `None`) or a
/// replica of `127.0.0.1:master_port`.
pub fn wait_role(node: &Node, master_port: Option<u16>, timeout: Duration) {
    let want = match master_port {
        None => ("master".to_string(), None),
        Some(p) => ("slave".to_string(), Some(("127.0.0.1".to_string(), p))),
    };
    wait_for(
        timeout,
        &format!("{}: ROLE {want:?}", node.label()),
        || match node.role()? {
            r if r == want => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
}

#[cfg(test)]
#[path = "sentinel_tests.rs"]
mod tests;
