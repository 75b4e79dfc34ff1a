//! The server log, in upstream's line format (`pid:role dd Mon yyyy
//! hh:mm:ss.mmm <level-char> message`), to `logfile` or standard output.
//! Scripts and test harnesses grep these lines, so wording follows upstream.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use redis_common::log::{format_log_line, LogLevel};

use crate::error::ServerError;

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

/// Parses a `loglevel` value.
pub fn parse_level(s: &str) -> LogLevel {
    match s {
        "debug" => LogLevel::Debug,
        "verbose" => LogLevel::Verbose,
        "warning" => LogLevel::Warning,
        _ => LogLevel::Notice,
    }
}

/// Points the log at `path` (empty: standard output). Fails if the file
/// cannot be opened, like upstream's startup check.
pub fn configure(path: &str, level: LogLevel) -> Result<(), ServerError> {
    if !path.is_empty() {
        // Checked once at startup like upstream; lines reopen it.
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(ServerError::LogFile)?;
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

/// Sets the role character (`C` before the server starts, `M` after).
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
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut line = format_log_line(std::process::id(), l.role, level, ms, msg);
    line.push('\n');
    // Like upstream, the file is opened for each line, so logrotate can
    // rename it and the next line goes to a fresh file. A failing log write
    // must not take the server down: upstream ignores it too.
    if l.path.is_empty() {
        let _ = std::io::stdout().write_all(line.as_bytes());
    } else if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&l.path) {
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

/// Writes a line verbatim (upstream's signal-handler lines have their own
/// prefix).
pub fn raw_line(line: &str) {
    let Ok(l) = logger().lock() else { return };
    let mut s = line.to_string();
    s.push('\n');
    if l.path.is_empty() {
        let _ = std::io::stdout().write_all(s.as_bytes());
    } else if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&l.path) {
        let _ = f.write_all(s.as_bytes());
    }
}
