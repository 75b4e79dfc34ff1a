//! Why the server cannot start: the fatal lines `main` logs (or prints,
//! before the log is set up) before exiting with status 1. The replica
//! link's failures, which only end one connection to the primary, are
//! [`crate::replica_link`]'s own.

use redis_engine::aof::AofError;
use redis_engine::persist::LoadError;

/// A fatal startup error; the text is the line upstream prints.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `logfile` cannot be opened for appending.
    #[error("Can't open the log file: {0}")]
    LogFile(#[source] std::io::Error),
    /// The AOF (`appendonly yes`) does not load.
    #[error(transparent)]
    AofLoad(#[from] AofError),
    /// `dbfilename` does not load.
    #[error(transparent)]
    RdbLoad(#[from] LoadError),
}
