//! Test support: the reference server (Debian's `/usr/bin/redis-server`,
//! Redis 7.0) started in cluster mode in a scratch directory, and a
//! minimal RESP client to talk to it. The tests that use it fail when the
//! reference is missing, like the rest of the suite's differential tests.
//!
//! Ports: the tests of this crate use 19400-19449 for clients and put the
//! cluster bus on the port + 50 (`--cluster-port`), so everything stays in
//! 19400-19499. Each test owns its ports; servers are killed by PID when
//! dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The reference server binary.
pub const REFERENCE_SERVER: &str = "/usr/bin/redis-server";

/// Offset of the cluster bus port from the client port in these tests.
pub const BUS_OFFSET: u16 = 50;

/// Fails the test when the reference is missing.
pub fn require_reference() {
    assert!(
        Path::new(REFERENCE_SERVER).exists(),
        "{REFERENCE_SERVER} is missing (apt-get install redis-server): the differential tests need it"
    );
}

/// A scratch directory removed on drop.
pub struct ScratchDir {
    pub path: PathBuf,
}

impl ScratchDir {
    pub fn new(tag: &str) -> ScratchDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "redis-cluster-test-{}-{tag}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        ScratchDir { path }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// How a started reference process ended up.
#[derive(Debug)]
pub enum Outcome {
    /// It exited (or was killed by a signal) on its own: status and its
    /// whole output (the log goes to stdout).
    Exited(ExitStatus, String),
    /// It is serving clients.
    Running(RefServer),
}

/// A running reference server; killed by PID on drop.
#[derive(Debug)]
pub struct RefServer {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

/// The arguments that put a reference server in cluster mode on `port`
/// with its files in `dir`.
pub fn cluster_args(port: u16, dir: &Path, conf: &Path) -> Vec<String> {
    vec![
        "--port".into(),
        port.to_string(),
        "--cluster-enabled".into(),
        "yes".into(),
        "--cluster-port".into(),
        (port + BUS_OFFSET).to_string(),
        "--cluster-config-file".into(),
        conf.display().to_string(),
        "--dir".into(),
        dir.display().to_string(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--logfile".into(),
        String::new(),
    ]
}

/// Starts the reference with `args` (its log to `log`) and waits until it
/// either serves clients or exits by itself (10 s at most).
pub fn start(args: &[String], log: &Path, port: u16) -> Outcome {
    require_reference();
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new(REFERENCE_SERVER)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let mut server = RefServer {
        child,
        port,
        log: log.to_path_buf(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            let text = read_lossy(log);
            // Nothing to kill any more.
            std::mem::forget(server);
            return Outcome::Exited(status, text);
        }
        if read_lossy(log).contains("Ready to accept connections")
            && TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            return Outcome::Running(server);
        }
        assert!(
            Instant::now() < deadline,
            "reference on port {port} neither started nor exited: {}",
            read_lossy(log)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts a reference cluster node on `port` with its `nodes.conf` in
/// `dir`; panics unless it comes up.
pub fn start_node(port: u16, dir: &Path, extra: &[&str]) -> RefServer {
    let mut args = cluster_args(port, dir, &dir.join("nodes.conf"));
    args.extend(extra.iter().map(|s| s.to_string()));
    match start(&args, &dir.join("log.txt"), port) {
        Outcome::Running(s) => s,
        Outcome::Exited(status, log) => panic!("reference on {port} exited ({status}): {log}"),
    }
}

/// A file's contents, lossily as text ("" when unreadable).
pub fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

impl RefServer {
    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn text(&self) -> String {
        match self {
            Reply::Status(s) | Reply::Error(s) => s.clone(),
            Reply::Int(i) => i.to_string(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("not a text reply: {other:?}"),
        }
    }
}

/// A blocking RESP2 connection.
pub struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let deadline = Instant::now() + Duration::from_secs(10);
        let s = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("connect to {port}: {e}"),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    /// Sends one command and reads its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send(args);
        self.read()
    }

    /// Sends commands without waiting (for pipelining); read the replies
    /// with [`Conn::read`].
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&buf).unwrap();
    }

    pub fn read(&mut self) -> Reply {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "bad RESP line {line:?}");
        line.truncate(line.len() - 2);
        let (kind, rest) = line.split_first().unwrap();
        let rest = String::from_utf8_lossy(rest).into_owned();
        match kind {
            b'+' => Reply::Status(rest),
            b'-' => Reply::Error(rest),
            b':' => Reply::Int(rest.parse().unwrap()),
            b'$' => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut b = vec![0u8; usize::try_from(n).unwrap() + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(b.len() - 2);
                Reply::Bulk(Some(b))
            }
            b'*' => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Array(None);
                }
                Reply::Array(Some((0..n).map(|_| self.read()).collect()))
            }
            other => panic!("unknown RESP type {other}"),
        }
    }
}
