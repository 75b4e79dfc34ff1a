//! Spawning a server under test on a free loopback port with its own temp
//! dir, waiting until it answers PING, and tearing it down on `Drop` even
//! when the test panics (with any child it forked, e.g. for BGSAVE).
//!
//! Tests use the panicking constructors ([`TestServer::start`]); tools that
//! report errors (`cargo xtask bench`) use the `try_` ones and
//! [`TestServer::spawn_in`], which return `Err` with the server's log.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Debian reference binary used as the oracle.
pub const REFERENCE_SERVER: &str = "/usr/bin/redis-server";
/// How long a server may take to answer its first PING.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How often readiness is polled; short, because the benchmark measures
/// startup (loading) times with it.
const READY_POLL: Duration = Duration::from_millis(2);
/// How long a server gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Start attempts; a retry covers the race where another process grabs the
/// port between our probe bind and the server's bind.
const START_ATTEMPTS: usize = 4;

/// Which implementation to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// This workspace's `redis-server` (see [`ours_bin_dir`]).
    Ours,
    /// `/usr/bin/redis-server` from Debian, the test oracle.
    Reference,
}

impl ServerKind {
    /// Path of the `redis-server` binary for this kind; panics with a hint
    /// when it is missing, because a test without its server must fail.
    pub fn server_binary(self) -> PathBuf {
        match self {
            ServerKind::Reference => {
                let p = PathBuf::from(REFERENCE_SERVER);
                if !p.is_file() {
                    panic!(
                        "{REFERENCE_SERVER} not found: install redis-server \
                         (apt-get install redis-server redis-tools), or run `cargo xtask test`"
                    );
                }
                p
            }
            ServerKind::Ours => {
                let dir = ours_bin_dir();
                let p = dir.join("redis-server");
                if !p.is_file() {
                    panic!(
                        "our redis-server is not built at {} (build it with \
                         `cargo build --workspace --bins`, or point REDIS_RS_BIN_DIR at \
                         the directory holding it)",
                        p.display()
                    );
                }
                p
            }
        }
    }
}

impl ServerKind {
    /// Runs this kind's server with exactly `args` (no test defaults) when
    /// it is expected to exit by itself: a bad config, a failed load. The
    /// args must keep it off shared ports (`--port 0`) should it start
    /// after all; the run is bounded (20 s). Returns the exit code (-1 for a
    /// signal) and stderr followed by stdout.
    pub fn run_to_exit(self, args: &[&str]) -> (i32, String) {
        let out = crate::process::run_bounded(
            Command::new(self.server_binary()).args(args),
            Duration::from_secs(20),
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout),
        )
    }
}

/// Directory holding our binaries: `$REDIS_RS_BIN_DIR` if set, otherwise the
/// `target/<profile>/` directory of the running test executable (test
/// binaries live in `target/<profile>/deps/`). Setting
/// `REDIS_RS_BIN_DIR=/usr/bin` makes "ours" the reference, which is how the
/// test scripts are self-checked.
pub fn ours_bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("REDIS_RS_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e:?}"));
    let parent = exe
        .parent()
        .unwrap_or_else(|| panic!("test executable has a parent dir"));
    if parent.file_name().is_some_and(|n| n == "deps") {
        parent
            .parent()
            .unwrap_or_else(|| panic!("deps has a parent"))
            .to_path_buf()
    } else {
        parent.to_path_buf()
    }
}

/// Directory of our `redis-cli` etc., same rules as the server.
pub fn ours_binary(name: &str) -> PathBuf {
    let p = ours_bin_dir().join(name);
    if !p.is_file() {
        panic!(
            "our {name} is not built at {} (run `cargo build --workspace --bins`)",
            p.display()
        );
    }
    p
}

/// A running server. Dropping it stops the process and removes its dir.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    kind: ServerKind,
    /// When the process was spawned; startup times count from here.
    spawned: Instant,
    /// The arguments it was given, for error reports.
    args: Vec<String>,
}

/// A loopback port that is free right now: the kernel picks it for a
/// listener on port 0, which is then closed. (Something else may take it
/// before the caller binds it; servers started here retry on that race.)
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e:?}"));
    l.local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e:?}"))
        .port()
}

/// True when the server at `addr` answers PING with +PONG.
fn answers_ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    if s.set_read_timeout(Some(Duration::from_millis(500)))
        .is_err()
    {
        return false;
    }
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 64];
    while got.len() < 7 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    // A server with `requirepass` answers NOAUTH: it is up all the same.
    // A replica that must not serve stale data answers MASTERDOWN.
    let up = got.starts_with(b"+PONG\r\n")
        || got.starts_with(b"-NOAUTH")
        || got.starts_with(b"-MASTERDOWN");
    if up {
        // Leave with QUIT so the server has dropped this connection before a
        // test counts clients (maxclients, CLIENT LIST).
        let _ = s.write_all(b"*1\r\n$4\r\nQUIT\r\n");
        let mut rest = [0u8; 64];
        while let Ok(n) = s.read(&mut rest) {
            if n == 0 {
                break;
            }
        }
    }
    up
}

/// Stops `child`: SIGTERM, a bounded wait, then SIGKILL; always reaps.
/// Then kills what it had forked and left behind (a child saving an RDB
/// outlives a parent that had to be SIGKILLed).
fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let forked = crate::process::children(child.id());
    let mut stopped = false;
    if crate::process::signal(child.id(), "-TERM") {
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && !stopped {
            stopped = matches!(child.try_wait(), Ok(Some(_)));
            if !stopped {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    if !stopped {
        let _ = child.kill();
        let _ = child.wait();
    }
    for pid in forked {
        crate::process::signal(pid, "-KILL");
    }
}

impl TestServer {
    /// Starts a server of `kind` with the standard test arguments plus
    /// `extra_args`, and waits until it answers PING. Panics (showing the
    /// server log) when it does not come up.
    pub fn start(kind: ServerKind, extra_args: &[&str]) -> TestServer {
        TestServer::start_binary(kind, &kind.server_binary(), extra_args)
    }

    /// [`TestServer::start`] with an explicit binary.
    pub fn start_binary(kind: ServerKind, bin: &Path, extra_args: &[&str]) -> TestServer {
        TestServer::try_start_binary(kind, bin, extra_args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`TestServer::start_binary`] that returns what went wrong (with the
    /// server's log) instead of panicking.
    pub fn try_start_binary(
        kind: ServerKind,
        bin: &Path,
        extra_args: &[&str],
    ) -> Result<TestServer, String> {
        let mut last_log = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let mut server = TestServer::spawn_in(kind, bin, crate::dir::fresh_dir()?, extra_args)?;
            match server.wait_ready(START_TIMEOUT) {
                Ok(_) => return Ok(server),
                Err(why) => {
                    last_log = format!("attempt {attempt}: {why}");
                    // Only a lost port race is worth another try.
                    if !last_log.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        Err(format!(
            "{kind:?} server ({}) did not start:\n{last_log}",
            bin.display()
        ))
    }

    /// Starts a server like [`TestServer::start`] but returns at once,
    /// without waiting for it to answer, for tests of what a client sees
    /// while the server starts up. There is no retry: a lost port race
    /// shows as a server that exits (see [`TestServer::wait_exit`]).
    pub fn start_unready(kind: ServerKind, extra_args: &[&str]) -> TestServer {
        crate::dir::fresh_dir()
            .and_then(|dir| TestServer::spawn_in(kind, &kind.server_binary(), dir, extra_args))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Spawns `bin` with the standard test arguments plus `extra_args`,
    /// working in `dir` (files placed there beforehand, such as a dump to
    /// load, are found), and returns without waiting. The server owns
    /// `dir` from here on, also when this fails.
    pub fn spawn_in(
        kind: ServerKind,
        bin: &Path,
        dir: PathBuf,
        extra_args: &[&str],
    ) -> Result<TestServer, String> {
        let spawned = (|| {
            let port = free_port();
            let dir_s = dir.to_str().ok_or("temp dir is not UTF-8")?;
            let mut args: Vec<String> = vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                String::new(),
                "--appendonly".into(),
                "no".into(),
                "--dir".into(),
                dir_s.into(),
                "--logfile".into(),
                format!("{dir_s}/log"),
            ];
            args.extend(extra_args.iter().map(|a| a.to_string()));
            // stdout/stderr go to a file rather than a pipe so a chatty
            // server can never block on a full pipe nobody reads.
            let out = std::fs::File::create(dir.join("stdout"))
                .map_err(|e| format!("create stdout file: {e}"))?;
            let err = out
                .try_clone()
                .map_err(|e| format!("clone stdout file: {e}"))?;
            let spawned = Instant::now();
            let child = Command::new(bin)
                .args(&args)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
            Ok::<_, String>((child, port, spawned, args))
        })();
        match spawned {
            // From here on Drop owns the process and the directory.
            Ok((child, port, spawned, args)) => Ok(TestServer {
                child,
                port,
                dir,
                kind,
                spawned,
                args,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Waits until the server answers PING (a loading server does not
    /// count), at most `timeout` from its spawn; returns the time since
    /// the spawn, or why not with the server's log and arguments.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, String> {
        let deadline = self.spawned + timeout;
        let why = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break format!("server exited early with {status}");
            }
            if answers_ping(self.addr()) {
                return Ok(self.spawned.elapsed());
            }
            if Instant::now() > deadline {
                break format!("no +PONG within {timeout:?}");
            }
            std::thread::sleep(READY_POLL);
        };
        Err(format!(
            "{why}\n--- args: {:?}\n--- log:\n{}\n--- stdout/stderr:\n{}",
            self.args,
            self.log_contents(),
            self.output()
        ))
    }

    /// Waits up to `timeout` for the server to exit by itself; its exit
    /// status, or `None` if it is still running (Drop still stops it).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout")).unwrap_or_default()
    }

    /// The TCP port the server listens on.
    /// For a server given its own `--port` in the extra arguments (later
    /// arguments win): the port to talk to.
    pub fn with_port(mut self, port: u16) -> TestServer {
        self.port = port;
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the server signal `sig` in `kill`'s flag form (`-9`, `-STOP`,
    /// `-CONT`, `-TERM`); false if that failed. Drop still stops it.
    pub fn signal(&self, sig: &str) -> bool {
        crate::process::signal(self.child.id(), sig)
    }

    /// Which implementation this is.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// The server's private working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log file so far (empty if it has none yet).
    pub fn log_contents(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// A new raw connection to this server.
    pub fn conn(&self) -> crate::Conn {
        crate::Conn::connect(self.addr())
            .unwrap_or_else(|e| panic!("connect to {:?} server at {}: {e}", self.kind, self.addr()))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        stop_child(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
