//! Errors of the reader and the payload parser. Every error carries the
//! byte offset reached when it was detected, counted like upstream's
//! redis-check-rdb: bytes consumed by reads that completed.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The input ended in the middle of something.
    #[error("Unexpected EOF reading RDB file")]
    UnexpectedEof,
    /// The file does not start with `REDIS`.
    #[error("Wrong signature trying to load DB from file")]
    WrongSignature,
    /// Unsupported RDB version.
    #[error("Can't handle RDB format version {0}")]
    BadVersion(u32),
    /// An unknown value type or opcode byte.
    #[error("Invalid object type: {0}")]
    InvalidType(u8),
    /// The CRC64 trailer does not match.
    #[error("RDB CRC error")]
    BadChecksum,
    /// A read failed at a site upstream's loader reports by name and
    /// source line (`rdbReportReadError`), as in the stream loader; the
    /// text is what upstream prints, so redis-check-rdb's report matches.
    #[error("Internal error in RDB reading offset 0, function at rdb.c:{line} -> {msg}")]
    ReadError {
        /// The line of upstream 7.0.15's `rdb.c` that reports it.
        line: u32,
        /// Upstream's message for that site.
        msg: &'static str,
    },
    /// Structurally invalid data (bad compact encoding, bad length, ...).
    #[error("{0}")]
    Corrupt(String),
    /// A collection with no elements (loaders skip such keys; RESTORE
    /// refuses them).
    #[error("Empty key")]
    EmptyKey,
    /// DUMP payload footer is wrong (RESTORE's first check).
    #[error("DUMP payload version or checksum are wrong")]
    PayloadVersionOrChecksum,
    /// Any other I/O error from the underlying reader or writer.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// An error at a byte offset.
#[derive(Debug, thiserror::Error)]
#[error("{kind} (at offset {offset})")]
pub struct Error {
    /// Bytes consumed when the error was detected.
    pub offset: u64,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl Error {
    /// Builds an error.
    pub fn new(offset: u64, kind: ErrorKind) -> Error {
        Error { offset, kind }
    }

    /// A [`ErrorKind::Corrupt`] error.
    pub fn corrupt(offset: u64, msg: impl Into<String>) -> Error {
        Error::new(offset, ErrorKind::Corrupt(msg.into()))
    }

    /// The exact error reply RESTORE gives for this payload error.
    pub fn restore_message(&self) -> &'static str {
        match self.kind {
            ErrorKind::PayloadVersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            _ => "ERR Bad data format",
        }
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;
