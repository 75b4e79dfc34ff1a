//! Errors of the replica's link to its primary. Each variant's `Display`
//! is the line upstream logs when that step fails, so the caller logs the
//! error as is (at [`ReplError::level`]) and retries the connection.

use redis_common::log::LogLevel;

/// Why the handshake, the payload transfer or the link failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplError {
    /// No answer within `repl-timeout` during the connection or the
    /// handshake.
    #[error("Timeout connecting to the MASTER...")]
    ConnectTimeout,
    /// No payload bytes within `repl-timeout` during the transfer.
    #[error("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.")]
    TransferTimeout,
    /// Nothing from a connected primary within `repl-timeout`.
    #[error("MASTER timeout: no data nor PING received...")]
    MasterTimeout,
    /// A socket error while reading during the handshake.
    #[error("Error condition on socket for SYNC: {0}")]
    Socket(String),
    /// A socket error while writing a handshake command.
    #[error("Sending command to master in replication handshake: -Writing to master: {0}")]
    HandshakeWrite(String),
    /// The primary closed the connection during the handshake.
    #[error("Connection with master lost.")]
    ConnectionLost,
    /// A read error (or the connection closing) during the transfer.
    #[error("I/O error trying to sync with MASTER: {0}")]
    TransferIo(String),
    /// A reply line without newline past [`crate::line::MAX_LINE`] bytes.
    #[error("Protocol error from master: reply line longer than {0} bytes")]
    LineTooLong(usize),
    /// The primary's answer to `PING` is neither `+…` nor an auth error.
    #[error("Error reply to PING from master: '{0}'")]
    PingReply(String),
    /// `AUTH` was refused.
    #[error("Unable to AUTH to MASTER: {0}")]
    Auth(String),
    /// `-NOMASTERLINK` / `-LOADING`: the primary cannot serve us yet.
    #[error("Master is currently unable to PSYNC but should be in the future: {0}")]
    PsyncTryLater(String),
    /// We were handing over (`PSYNC … FAILOVER`) and the target refused;
    /// the refusal itself was already logged. The text is the reason
    /// upstream passes to its failover abort.
    #[error("Failover target rejected psync request")]
    FailoverRejected(String),
    /// The payload header is an error line.
    #[error("MASTER aborted replication with an error: {0}")]
    MasterAborted(String),
    /// The payload header does not start with `$`.
    #[error("Bad protocol from MASTER, the first byte is not '$' (we received '{0}'), are you sure the host and port are right?")]
    BadPayloadHeader(String),
    /// The payload header's length is not a number.
    #[error("Bad RDB length from MASTER: {0}")]
    BadPayloadLength(String),
    /// The temp file for the payload could not be created.
    #[error("Opening the temp file needed for MASTER <-> REPLICA synchronization: {0}")]
    TempOpen(String),
    /// Writing the payload into the temp file failed.
    #[error("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {0}")]
    TempWrite(String),
    /// The final fsync of the temp file failed.
    #[error(
        "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {0}"
    )]
    TempSync(String),
    /// Renaming the temp file over `dbfilename` failed.
    #[error("Failed trying to rename the temp DB into {target} in MASTER <-> REPLICA synchronization: {reason}")]
    TempRename {
        /// The path the file was to take.
        target: String,
        /// The OS error text.
        reason: String,
    },
}

impl ReplError {
    /// The level upstream logs this failure at.
    pub fn level(&self) -> LogLevel {
        match self {
            ReplError::PsyncTryLater(_) => LogLevel::Notice,
            _ => LogLevel::Warning,
        }
    }
}

pub use redis_common::os::strerror as os_text;

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
