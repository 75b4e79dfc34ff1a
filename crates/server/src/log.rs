//! The server log: the suite's logger ([`redis_common::logger`]), in
//! upstream's line format, to `logfile` or standard output. Scripts and
//! test harnesses grep these lines, so wording follows upstream.

pub use redis_common::logger::{
    log, notice, parse_level, raw_line, set_level, set_role, verbose, warning,
};

use redis_common::log::LogLevel;

use crate::error::ServerError;

/// Points the log at `path` (empty: standard output). Fails if the file
/// cannot be opened, like upstream's startup check.
pub fn configure(path: &str, level: LogLevel) -> Result<(), ServerError> {
    redis_common::logger::configure(path, level).map_err(ServerError::LogFile)
}
