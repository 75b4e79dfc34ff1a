//! Server processes for the benchmark: spawned with equal settings on a
//! free loopback port in a private directory, timed from spawn until the
//! first +PONG (so a startup load can be measured), and killed by PID on
//! drop together with any forked child (the reference's BGSAVE child), so a
//! failing or panicking section leaves nothing running. Also the /proc
//! readers (CPU ticks, RSS, PSS, children).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::Client;

/// Which implementation a server is; index 0 is ours, 1 the reference,
/// which is how per-side samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Ours,
    Ref,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Ours, Side::Ref];

    pub fn idx(self) -> usize {
        match self {
            Side::Ours => 0,
            Side::Ref => 1,
        }
    }

    /// Both sides, the first one alternating with `turn` so that warm-up
    /// and drift of the machine's load hit both alike.
    pub fn order(turn: usize) -> [Side; 2] {
        if turn.is_multiple_of(2) {
            [Side::Ours, Side::Ref]
        } else {
            [Side::Ref, Side::Ours]
        }
    }
}

/// Start timeout for an empty server.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new private directory under the system temp dir.
pub fn fresh_dir() -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = base.join(format!("xtask-bench-{}-{n}", std::process::id()));
        if std::fs::create_dir(&p).is_ok() {
            return Ok(p);
        }
    }
    Err(format!("could not create a dir under {}", base.display()))
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// A running server; dropping it kills it (and its forked children) and
/// removes its directory.
pub struct Srv {
    child: Child,
    port: u16,
    dir: PathBuf,
    spawned: Instant,
    pub side: Side,
}

impl Srv {
    /// Starts a server in a fresh directory and waits until it answers.
    pub fn start(bin: &Path, side: Side, extra: &[&str]) -> Result<Srv, String> {
        let mut last = String::new();
        // A retry covers another process taking the port between our probe
        // bind and the server's bind.
        for _ in 0..3 {
            let mut s = Srv::spawn(bin, side, fresh_dir()?, extra)?;
            match s.wait_ready(START_TIMEOUT) {
                Ok(_) => return Ok(s),
                Err(e) => {
                    last = format!("{e}\n{}", s.log());
                    if !last.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        Err(format!("{side:?} server did not start: {last}"))
    }

    /// Spawns a server working in `dir` (which it then owns) without
    /// waiting; the clock for [`Srv::wait_ready`] starts here.
    pub fn spawn(bin: &Path, side: Side, dir: PathBuf, extra: &[&str]) -> Result<Srv, String> {
        let port = free_port()?;
        let dir_s = dir.to_str().ok_or("temp dir is not UTF-8")?.to_string();
        let log = format!("{dir_s}/log");
        let mut args: Vec<&str> = vec![
            "--port",
            "",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir_s,
            "--logfile",
            &log,
        ];
        let port_s = port.to_string();
        args[1] = &port_s;
        args.extend_from_slice(extra);
        // Output to a file: a chatty server must never block on a pipe.
        let out = std::fs::File::create(dir.join("stdout")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let spawned = Instant::now();
        let child = Command::new(bin)
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
        Ok(Srv {
            child,
            port,
            dir,
            spawned,
            side,
        })
    }

    /// Polls PING every 2 ms until +PONG (a loading server answers
    /// -LOADING, which does not count); returns the time since spawn.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, String> {
        let deadline = self.spawned + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Err(format!("{:?} server exited early with {st}", self.side));
            }
            if answers_pong(self.addr()) {
                return Ok(self.spawned.elapsed());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{:?} server: no +PONG within {timeout:?}",
                    self.side
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let out = std::fs::read_to_string(self.dir.join("stdout")).unwrap_or_default();
        let tail = |s: &str| s.lines().rev().take(15).collect::<Vec<_>>().join("\n");
        format!(
            "--- log (last lines, reversed):\n{}\n--- output:\n{}",
            tail(&log),
            tail(&out)
        )
    }

    pub fn client(&self) -> Result<Client, String> {
        Client::connect(self.addr())
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        // Children first: a BGSAVE child outlives a SIGKILLed parent.
        for c in children(self.pid()) {
            kill9(c);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn kill9(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn answers_pong(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    if s.set_read_timeout(Some(Duration::from_millis(500)))
        .is_err()
        || s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err()
    {
        return false;
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 64];
    while !got.ends_with(b"\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    got.starts_with(b"+PONG")
}

/// Direct children of `pid` (all threads), e.g. the reference's fork.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_proc_figures_are_readable() {
        let me = std::process::id();
        assert!(rss(me, page_size()).is_some_and(|r| r > 0));
        assert!(pss(me).is_some_and(|p| p > 0));
        let t = cpu_ticks(me).expect("own stat");
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_ticks(me).expect("again") >= t);
        assert!(Side::order(0) != Side::order(1));
    }
}
