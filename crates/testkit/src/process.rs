//! Running the tools tests compare against (the reference `redis-cli`,
//! `redis-check-rdb`, ...) and helper processes: a missing tool fails the
//! test, every run is bounded in time, and every child is killed by PID when
//! its guard drops, even when the test panics.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Returns `path` if it is an existing file, otherwise panics with `hint`:
/// a test whose tool is missing must fail, not skip (CI installs them).
pub fn require_tool(path: &str, hint: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if !p.is_file() {
        panic!("required tool {path} is missing: {hint}");
    }
    p
}

/// Owns a child process: dropping it kills the process by PID and reaps it.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Spawns `cmd`, panicking (failing the test) when it cannot start.
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        match cmd.spawn() {
            Ok(c) => ChildGuard(c),
            Err(e) => panic!("spawning {cmd:?}: {e}"),
        }
    }

    /// Process id of the child.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits at most `limit` for the child to exit; `None` when it is
    /// still running (it is killed when the guard drops).
    pub fn wait_bounded(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends signal `sig` in `kill`'s flag form (`-9`, `-TERM`, `-STOP`) to
/// `pid` with the `kill` command (no libc needed); false if that failed.
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Direct children of `pid` (of all its threads), e.g. a server's fork
/// for BGSAVE; empty when `pid` is gone.
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

/// Runs `cmd` with no stdin, capturing stdout and stderr; panics if it does
/// not finish within `limit` (the process is killed first).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    run(cmd, None, limit)
}

/// [`run_bounded`] with `input` written to the child's stdin (then closed).
pub fn run_bounded_with_input(cmd: &mut Command, input: &[u8], limit: Duration) -> Output {
    run(cmd, Some(input), limit)
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut v);
        }
        v
    })
}

fn run(cmd: &mut Command, input: Option<&[u8]>, limit: Duration) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(cmd);
    // Feed stdin and drain the pipes on threads, so neither a child that
    // reads slowly nor a chatty one can block while we poll for its exit.
    let writer = match (input, guard.0.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            // Dropping the pipe at the end of the thread closes stdin.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let out_t = drain::<ChildStdout>(guard.0.stdout.take());
    let err_t = drain(guard.0.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match guard.0.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => panic!("waiting for {desc}: {e}"),
        }
        // The guard kills the child as the panic unwinds.
        assert!(
            Instant::now() < deadline,
            "{desc} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
