//! The primary's answer to `PSYNC replid offset` as a pure function of
//! the request, the IDs and the backlog, and the lines upstream logs for
//! each outcome.
//!
//! The caller (the `SYNC`/`PSYNC` command) logs
//! [`sync_request_line`] first, then [`PsyncDecision::log_lines`], counts
//! `sync_partial_ok` / `sync_partial_err` and either sends
//! [`continue_reply`] and [`crate::Backlog::read_from`] or queues a full
//! sync answered later with [`fullresync_reply`].

use redis_common::log::LogLevel;

use crate::backlog::Backlog;
use crate::ids::ReplIds;

/// What a replica asked for: the history it follows and the next byte it
/// needs (`PSYNC ? -1` asks for a full sync).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PsyncRequest<'a> {
    /// The replication ID, or `?`.
    pub replid: &'a str,
    /// The offset of the next byte the replica needs.
    pub offset: i64,
}

/// Why a partial resync is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FullResyncReason {
    /// The replica asked for it (`?`: it has no history to continue).
    Requested,
    /// Neither of our IDs is the one asked for.
    IdMismatch {
        /// The ID the replica asked for.
        asked: String,
        /// Our `replid`.
        replid: String,
        /// Our `replid2`.
        replid2: String,
    },
    /// Our previous ID, but past the point where our history forked.
    SecondIdOffset {
        /// The offset asked for.
        requested: i64,
        /// Our `second_repl_offset`.
        limit: i64,
    },
    /// Our history, but the backlog no longer (or does not yet) hold the
    /// offset.
    LackOfBacklog {
        /// The offset asked for.
        requested: i64,
        /// The offset is beyond our `master_repl_offset` (upstream warns).
        ahead: bool,
    },
}

impl FullResyncReason {
    /// Whether the refusal counts in `sync_partial_err` (every refusal but
    /// a requested full sync).
    pub fn counts_as_partial_err(&self) -> bool {
        !matches!(self, FullResyncReason::Requested)
    }

    /// Upstream's lines for the refusal, `replica` named as
    /// [`crate::replica_name`] does.
    pub fn log_lines(&self, replica: &str) -> Vec<(LogLevel, String)> {
        match self {
            FullResyncReason::Requested => vec![(
                LogLevel::Notice,
                format!("Full resync requested by replica {replica}"),
            )],
            FullResyncReason::IdMismatch {
                asked,
                replid,
                replid2,
            } => vec![(
                LogLevel::Notice,
                format!(
                    "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{asked}', my replication IDs are '{replid}' and '{replid2}')"
                ),
            )],
            FullResyncReason::SecondIdOffset { requested, limit } => vec![(
                LogLevel::Notice,
                format!(
                    "Partial resynchronization not accepted: Requested offset for second ID was {requested}, but I can reply up to {limit}"
                ),
            )],
            FullResyncReason::LackOfBacklog { requested, ahead } => {
                let mut v = vec![(
                    LogLevel::Notice,
                    format!(
                        "Unable to partial resync with replica {replica} for lack of backlog (Replica request was: {requested})."
                    ),
                )];
                if *ahead {
                    v.push((
                        LogLevel::Warning,
                        format!(
                            "Warning: replica {replica} tried to PSYNC with an offset that is greater than the master replication offset."
                        ),
                    ));
                }
                v
            }
        }
    }
}

/// The primary's answer to a `PSYNC`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PsyncDecision {
    /// Partial resync: `+CONTINUE`, then the backlog from `offset`.
    Continue {
        /// The first byte to send.
        offset: i64,
        /// How many bytes of backlog that is.
        len: usize,
    },
    /// Full sync: the replica waits for an RDB.
    FullResync(FullResyncReason),
}

impl PsyncDecision {
    /// Upstream's lines for the decision (after [`sync_request_line`]).
    pub fn log_lines(&self, replica: &str) -> Vec<(LogLevel, String)> {
        match self {
            PsyncDecision::Continue { offset, len } => vec![(
                LogLevel::Notice,
                format!(
                    "Partial resynchronization request from {replica} accepted. Sending {len} bytes of backlog starting from offset {offset}."
                ),
            )],
            PsyncDecision::FullResync(reason) => reason.log_lines(replica),
        }
    }
}

/// Decides a `PSYNC`: continue when the replica follows one of our
/// histories (`replid`, or `replid2` up to `second_repl_offset`) and the
/// backlog still holds its offset; otherwise a full sync, with the
/// reason. IDs compare case-insensitively, as upstream does.
pub fn decide(request: &PsyncRequest<'_>, ids: &ReplIds, backlog: &Backlog) -> PsyncDecision {
    let PsyncRequest { replid, offset } = *request;
    if !ids.same_history(replid, offset) {
        // Any ID starting with '?' is a request for a full sync, as
        // upstream tests only the first byte.
        let reason = if replid.starts_with('?') {
            FullResyncReason::Requested
        } else if replid.eq_ignore_ascii_case(&ids.replid2) {
            FullResyncReason::SecondIdOffset {
                requested: offset,
                limit: ids.second_repl_offset,
            }
        } else {
            FullResyncReason::IdMismatch {
                asked: replid.to_string(),
                replid: ids.replid.clone(),
                replid2: ids.replid2.clone(),
            }
        };
        return PsyncDecision::FullResync(reason);
    }
    match backlog.len_from(offset) {
        Some(len) => PsyncDecision::Continue { offset, len },
        None => PsyncDecision::FullResync(FullResyncReason::LackOfBacklog {
            requested: offset,
            ahead: offset > ids.master_repl_offset,
        }),
    }
}

/// The line every `SYNC`/`PSYNC` logs before it is decided.
pub fn sync_request_line(replica: &str) -> String {
    format!("Replica {replica} asks for synchronization")
}

/// The line logged when the first full sync creates the backlog (with a
/// new ID and no secondary one: there is no history to continue).
pub fn backlog_created_line(ids: &ReplIds) -> String {
    format!(
        "Replication backlog created, my new replication IDs are '{}' and '{}'",
        ids.replid, ids.replid2
    )
}

/// `+CONTINUE <replid>\r\n` for replicas that sent `capa psync2`, bare
/// `+CONTINUE\r\n` for older ones.
pub fn continue_reply(replid: Option<&str>) -> String {
    match replid {
        Some(id) => format!("+CONTINUE {id}\r\n"),
        None => "+CONTINUE\r\n".to_string(),
    }
}

/// `+FULLRESYNC <replid> <offset>\r\n`, sent when the snapshot for the
/// replica starts.
pub fn fullresync_reply(replid: &str, offset: i64) -> String {
    format!("+FULLRESYNC {replid} {offset}\r\n")
}

#[cfg(test)]
#[path = "psync_tests.rs"]
mod tests;
