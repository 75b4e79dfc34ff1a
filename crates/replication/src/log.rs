//! How the crate's log lines reach the caller: a small trait so the
//! server can route them to its logger (with its role character and
//! timestamp) and tests can collect them.

use redis_common::log::LogLevel;

/// Receives log lines (upstream's wording) and transfer progress.
///
/// `Send` so the futures that take a `&mut dyn Log` can run on a
/// multi-threaded runtime. Any `FnMut(LogLevel, String) + Send` closure
/// is a `Log`.
pub trait Log: Send {
    /// One log line at `level`.
    fn log(&mut self, level: LogLevel, msg: String);

    /// Progress of the RDB transfer, after every read: `total` is the
    /// announced size (`-1` before the header is read, `0` for the
    /// EOF-marked form, as upstream reports it in `INFO`) and `read` the
    /// bytes received since the header. Also tells the caller the link
    /// just did I/O. Ignored by default.
    fn transfer_progress(&mut self, total: i64, read: i64) {
        let _ = (total, read);
    }
}

impl<F: FnMut(LogLevel, String) + Send> Log for F {
    fn log(&mut self, level: LogLevel, msg: String) {
        self(level, msg);
    }
}

/// Shorthand for a notice line.
pub(crate) fn notice(log: &mut dyn Log, msg: String) {
    log.log(LogLevel::Notice, msg);
}

/// Shorthand for a warning line.
pub(crate) fn warning(log: &mut dyn Log, msg: String) {
    log.log(LogLevel::Warning, msg);
}
