//! The process log of the suite's daemons, in upstream's line format
//! (see [`crate::log`]), to a `logfile` or standard output. Scripts and
//! test harnesses grep these lines, so the callers keep upstream's wording.
//!
//! One logger per process: `redis-server` and `redis-sentinel` configure
//! it once at startup (role character `M`/`S`/`C` or `X`) and may change
//! the level at run time.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use crate::log::{format_log_line, LogLevel};

struct Logger {
    path: String,
    level: LogLevel,
    role: char,
}

fn logger() -> &'static Mutex<Logger> {
    static L: OnceLock<Mutex<Logger>> = OnceLock::new();
    L.get_or_init(|| {
        Mutex::new(Logger {
            path: String::new(),
            level: LogLevel::Notice,
            role: 'C',
        })
    })
}

/// Parses a `loglevel` value; anything unknown is `notice`.
pub fn parse_level(s: &str) -> LogLevel {
    LogLevel::parse(s).unwrap_or(LogLevel::Notice)
}

/// Points the log at `path` (empty: standard output). Fails if the file
/// cannot be opened, like upstream's startup check.
pub fn configure(path: &str, level: LogLevel) -> std::io::Result<()> {
    if !path.is_empty() {
        // Checked once at startup like upstream; lines reopen it.
        OpenOptions::new().create(true).append(true).open(path)?;
    }
    if let Ok(mut l) = logger().lock() {
        l.path = path.to_string();
        l.level = level;
    }
    Ok(())
}

/// Changes the threshold at run time (`CONFIG SET loglevel`).
pub fn set_level(level: LogLevel) {
    if let Ok(mut l) = logger().lock() {
        l.level = level;
    }
}

/// Sets the role character (`C` before the server starts, `M` after,
/// `X` for a sentinel).
pub fn set_role(role: char) {
    if let Ok(mut l) = logger().lock() {
        l.role = role;
    }
}

/// Writes one log line if `level` passes the configured threshold.
pub fn log(level: LogLevel, msg: &str) {
    let Ok(l) = logger().lock() else { return };
    if level < l.level {
        return;
    }
    let mut line = format_log_line(
        std::process::id(),
        l.role,
        level,
        crate::time::now_ms(),
        msg,
    );
    line.push('\n');
    write_line(&l.path, &line);
}

/// Like upstream, the file is opened for each line, so logrotate can
/// rename it and the next line goes to a fresh file. A failing log write
/// must not take the daemon down: upstream ignores it too.
fn write_line(path: &str, line: &str) {
    if path.is_empty() {
        let _ = std::io::stdout().write_all(line.as_bytes());
    } else if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Logs at warning level (`#`).
pub fn warning(msg: &str) {
    log(LogLevel::Warning, msg);
}

/// Logs at notice level (`*`).
pub fn notice(msg: &str) {
    log(LogLevel::Notice, msg);
}

/// Logs at verbose level (`-`).
pub fn verbose(msg: &str) {
    log(LogLevel::Verbose, msg);
}

/// Logs at debug level (`.`).
pub fn debug(msg: &str) {
    log(LogLevel::Debug, msg);
}

/// Writes a line verbatim (upstream's signal-handler lines have their own
/// prefix).
pub fn raw_line(line: &str) {
    let Ok(l) = logger().lock() else { return };
    let mut s = line.to_string();
    s.push('\n');
    write_line(&l.path, &s);
}
