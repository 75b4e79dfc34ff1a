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
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

    /// A primary at `A` that was `B` up to offset 1000 (second offset
    /// 1001), now at offset 1500 with a backlog holding 1201..=1500.
    fn primary() -> (ReplIds, Backlog) {
        let mut ids = ReplIds::new(B.to_string());
        let mut backlog = Backlog::new(0);
        backlog.activate(1);
        let feed = |ids: &mut ReplIds, backlog: &mut Backlog, n: usize| {
            backlog.feed(&vec![b'x'; n]);
            ids.advance(n);
        };
        feed(&mut ids, &mut backlog, 1000);
        ids.shift(A.to_string());
        feed(&mut ids, &mut backlog, 500);
        backlog.clear();
        // Keep 300 bytes: 1201..=1500.
        backlog.activate(1201);
        backlog.feed(&[b'y'; 300]);
        assert_eq!(backlog.next_offset(), ids.master_repl_offset + 1);
        (ids, backlog)
    }

    fn ask(replid: &str, offset: i64) -> PsyncDecision {
        let (ids, backlog) = primary();
        decide(&PsyncRequest { replid, offset }, &ids, &backlog)
    }

    #[test]
    fn table() {
        use FullResyncReason::*;
        use PsyncDecision::*;
        let cases: Vec<(&str, i64, PsyncDecision)> = vec![
            // Same ID, inside the backlog (both ends included).
            (
                A,
                1201,
                Continue {
                    offset: 1201,
                    len: 300,
                },
            ),
            (
                A,
                1400,
                Continue {
                    offset: 1400,
                    len: 101,
                },
            ),
            (
                A,
                1501,
                Continue {
                    offset: 1501,
                    len: 0,
                },
            ),
            // Case does not matter.
            (
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                1501,
                Continue {
                    offset: 1501,
                    len: 0,
                },
            ),
            // Same ID, before the backlog.
            (
                A,
                1200,
                FullResync(LackOfBacklog {
                    requested: 1200,
                    ahead: false,
                }),
            ),
            // Same ID, ahead of the primary.
            (
                A,
                1502,
                FullResync(LackOfBacklog {
                    requested: 1502,
                    ahead: true,
                }),
            ),
            // Second ID up to second_repl_offset, but the backlog decides.
            (
                B,
                1001,
                FullResync(LackOfBacklog {
                    requested: 1001,
                    ahead: false,
                }),
            ),
            // Second ID above second_repl_offset.
            (
                B,
                1002,
                FullResync(SecondIdOffset {
                    requested: 1002,
                    limit: 1001,
                }),
            ),
            // Unknown ID.
            (
                C,
                1300,
                FullResync(IdMismatch {
                    asked: C.into(),
                    replid: A.into(),
                    replid2: B.into(),
                }),
            ),
            // Forced full sync.
            ("?", -1, FullResync(Requested)),
        ];
        for (id, off, want) in cases {
            assert_eq!(ask(id, off), want, "PSYNC {id} {off}");
        }
    }

    #[test]
    fn second_id_inside_the_backlog_continues() {
        let mut ids = ReplIds::new(B.to_string());
        let mut backlog = Backlog::new(0);
        backlog.activate(1);
        backlog.feed(&[1; 100]);
        ids.advance(100);
        ids.shift(A.to_string());
        backlog.feed(&[2; 50]);
        ids.advance(50);
        let d = decide(
            &PsyncRequest {
                replid: B,
                offset: 101,
            },
            &ids,
            &backlog,
        );
        assert_eq!(
            d,
            PsyncDecision::Continue {
                offset: 101,
                len: 50
            }
        );
        let d = decide(
            &PsyncRequest {
                replid: B,
                offset: 102,
            },
            &ids,
            &backlog,
        );
        assert_eq!(
            d,
            PsyncDecision::FullResync(FullResyncReason::SecondIdOffset {
                requested: 102,
                limit: 101
            })
        );
    }

    #[test]
    fn inactive_backlog_means_lack_of_backlog() {
        let ids = ReplIds::new(A.to_string());
        let backlog = Backlog::new(0);
        let d = decide(
            &PsyncRequest {
                replid: A,
                offset: 1,
            },
            &ids,
            &backlog,
        );
        assert_eq!(
            d,
            PsyncDecision::FullResync(FullResyncReason::LackOfBacklog {
                requested: 1,
                ahead: true
            })
        );
    }

    #[test]
    fn log_lines_and_counters() {
        let name = "127.0.0.1:6380";
        let lines = |id: &str, off: i64| -> Vec<String> {
            ask(id, off)
                .log_lines(name)
                .into_iter()
                .map(|(_, l)| l)
                .collect()
        };
        assert_eq!(
            lines(A, 1400),
            ["Partial resynchronization request from 127.0.0.1:6380 accepted. Sending 101 bytes of backlog starting from offset 1400."]
        );
        assert_eq!(
            lines("?", -1),
            ["Full resync requested by replica 127.0.0.1:6380"]
        );
        assert_eq!(
            lines(A, 1200),
            ["Unable to partial resync with replica 127.0.0.1:6380 for lack of backlog (Replica request was: 1200)."]
        );
        let ahead = ask(A, 9999).log_lines(name);
        assert_eq!(ahead.len(), 2);
        assert_eq!(ahead[1].0, LogLevel::Warning);
        assert_eq!(
            ahead[1].1,
            "Warning: replica 127.0.0.1:6380 tried to PSYNC with an offset that is greater than the master replication offset."
        );
        assert_eq!(
            lines(B, 5000),
            ["Partial resynchronization not accepted: Requested offset for second ID was 5000, but I can reply up to 1001"]
        );
        assert_eq!(
            lines(C, 1),
            [format!("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{C}', my replication IDs are '{A}' and '{B}')")]
        );

        let err = |id: &str, off: i64| match ask(id, off) {
            PsyncDecision::FullResync(r) => r.counts_as_partial_err(),
            PsyncDecision::Continue { .. } => panic!("continued"),
        };
        assert!(!err("?", -1));
        assert!(err(A, 1));
        assert!(err(B, 5000));
        assert!(err(C, 1));
    }

    #[test]
    fn replies() {
        assert_eq!(continue_reply(Some(A)), format!("+CONTINUE {A}\r\n"));
        assert_eq!(continue_reply(None), "+CONTINUE\r\n");
        assert_eq!(fullresync_reply(A, 42), format!("+FULLRESYNC {A} 42\r\n"));
        assert_eq!(
            sync_request_line("1.2.3.4:5"),
            "Replica 1.2.3.4:5 asks for synchronization"
        );
        let ids = ReplIds::new(A.to_string());
        assert_eq!(
            backlog_created_line(&ids),
            format!("Replication backlog created, my new replication IDs are '{A}' and '0000000000000000000000000000000000000000'")
        );
    }
}
