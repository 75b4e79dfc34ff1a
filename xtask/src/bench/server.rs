//! Server processes for the benchmark, started by the testkit: equal
//! settings on a free loopback port in a private directory, timed from
//! spawn until the first +PONG (so a startup load can be measured), and
//! killed by PID on drop together with any forked child (the reference's
//! BGSAVE child), so a failing or panicking section leaves nothing running.
//! Also the /proc readers (CPU ticks, RSS, PSS).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use redis_testkit::{ServerKind, TestServer};

use super::client::Client;

// The testkit's, under the names the sections use.
pub use redis_testkit::dir::fresh_dir;
pub use redis_testkit::process::children;

/// Which implementation a server is; index 0 is ours, 1 the reference,
/// which is how per-side samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Ours,
    Ref,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Ours, Side::Ref];

    fn kind(self) -> ServerKind {
        match self {
            Side::Ours => ServerKind::Ours,
            Side::Ref => ServerKind::Reference,
        }
    }

    pub fn idx(self) -> usize {
        match self {
            Side::Ours => 0,
            Side::Ref => 1,
        }
    }

    /// Both sides, the first one alternating with `turn` so that warm-up
    /// and drift of the machine's load hit both alike.
    pub fn order(turn: usize) -> [Side; 2] {
        if turn % 2 == 0 {
            [Side::Ours, Side::Ref]
        } else {
            [Side::Ref, Side::Ours]
        }
    }
}

/// A running server of one side: the testkit's server, which kills it (and
/// its forked children) by PID and removes its directory when dropped.
pub struct Srv {
    server: TestServer,
    pub side: Side,
}

impl Srv {
    /// Starts a server in a fresh directory and waits until it answers.
    pub fn start(bin: &Path, side: Side, extra: &[&str]) -> Result<Srv, String> {
        let server = TestServer::try_start_binary(side.kind(), bin, extra)?;
        Ok(Srv { server, side })
    }

    /// Spawns a server working in `dir` (which it then owns) without
    /// waiting; the clock for [`Srv::wait_ready`] starts here.
    pub fn spawn(bin: &Path, side: Side, dir: PathBuf, extra: &[&str]) -> Result<Srv, String> {
        let server = TestServer::spawn_in(side.kind(), bin, dir, extra)?;
        Ok(Srv { server, side })
    }

    /// Polls PING until +PONG (a loading server answers -LOADING, which
    /// does not count); returns the time since spawn.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, String> {
        self.server
            .wait_ready(timeout)
            .map_err(|e| format!("{:?} server: {e}", self.side))
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    pub fn dir(&self) -> &Path {
        self.server.dir()
    }

    pub fn client(&self) -> Result<Client, String> {
        Client::connect(self.addr())
    }
}

/// utime + stime of a process in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name may contain spaces; fields are counted after ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("bad /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, utime is field 14, stime field 15.
    let ut: u64 = f.get(11).and_then(|v| v.parse().ok()).ok_or("utime")?;
    let st: u64 = f.get(12).and_then(|v| v.parse().ok()).ok_or("stime")?;
    Ok(ut + st)
}

/// Nanoseconds all threads of a process have spent on a CPU, from each
/// thread's `/proc/<pid>/task/<tid>/schedstat` (first field): exact where
/// [`cpu_ticks`] counts 10 ms ticks.
pub fn cpu_ns(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let mut total = 0u64;
    for e in std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))? {
        let path = e
            .map_err(|e| format!("{dir}: {e}"))?
            .path()
            .join("schedstat");
        // A thread may exit between the listing and the read.
        let Ok(s) = std::fs::read_to_string(&path) else {
            continue;
        };
        let ns: u64 = s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{}: bad schedstat", path.display()))?;
        total += ns;
    }
    Ok(total)
}

fn getconf(name: &str, default: f64) -> f64 {
    Command::new("getconf")
        .arg(name)
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(default)
}

pub fn clock_ticks_per_sec() -> f64 {
    getconf("CLK_TCK", 100.0)
}

pub fn page_size() -> u64 {
    getconf("PAGESIZE", 4096.0) as u64
}

/// Resident set size in bytes from /proc/<pid>/statm (second field).
pub fn rss(pid: u32, page: u64) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page)
}

/// Proportional set size in bytes (shared pages split between sharers),
/// from /proc/<pid>/smaps_rollup.
pub fn pss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = s.lines().find(|l| l.starts_with("Pss:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Copies the directory tree `src` into `dst` (created if missing), e.g.
/// to keep a failed run's files or to reuse a prepared dataset.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dst).map_err(|e| format!("{}: {e}", dst.display()))?;
    for e in std::fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))? {
        let e = e.map_err(|e| e.to_string())?;
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), &to).map_err(|e| format!("{}: {e}", to.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
