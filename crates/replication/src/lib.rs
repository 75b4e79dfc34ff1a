//! The protocol side of replication (upstream `replication.c` minus the
//! engine): what a primary and a replica say to each other and the
//! bookkeeping that decides it, with upstream's log lines.
//!
//! # Layout
//! - [`ids`]: [`ReplIds`], the PSYNC2 replication ID pair and offsets
//!   (`shift` on promotion, `adopt_primary` after a full sync,
//!   `forget_history` for `repl-backlog-ttl`).
//! - [`backlog`]: [`Backlog`], the last `repl-backlog-size` bytes of the
//!   stream as a ring of shared blocks; reads for a partial resync are
//!   zero-copy slices.
//! - [`psync`]: [`psync::decide`], the primary's PSYNC decision as a pure
//!   function, and the refusal reasons with their log lines.
//! - [`link`]: typed link states: the replica's view of its primary
//!   ([`LinkState`], ROLE words) and the primary's view of a replica
//!   ([`ReplicaState`], INFO words), [`FailoverState`].
//! - [`line`](mod@line): [`LineLink`], a line reader over the primary's socket with
//!   room for large reads and phase-specific timeouts.
//! - [`handshake`](mod@handshake): the replica's handshake up to the PSYNC answer
//!   ([`handshake::handshake`]).
//! - [`payload`]: reception of the full sync's RDB (`$<len>` or
//!   `$EOF:<mark>`) into memory or a temp file.
//! - [`liveness`]: clock-driven state machines: the replica's `REPLCONF
//!   ACK` schedule and `repl-timeout`, the primary's `PING` period,
//!   replica ack timeouts and `repl-backlog-ttl`.
//! - [`info`]: [`ReplicationInfo`] and [`info::write_info`], the `INFO
//!   replication` body as 7.0 prints it.
//! - [`error`]: [`ReplError`], whose `Display` is upstream's log line.
//! - [`log`]: [`Log`], how log lines reach the caller.
//!
//! # Invariant
//! This crate never decides *what* to propagate and knows no engine: it
//! sees the stream only as bytes, never looks at commands, keys or
//! configuration, and never reads a clock it is not handed (except the
//! temp file's name). The caller owns the state, passes it in, and acts on
//! what comes back.
//!
//! Nothing here panics on network input: oversized lines, garbage headers
//! and absurd lengths are errors.

pub mod backlog;
pub mod error;
pub mod handshake;
pub mod ids;
pub mod info;
pub mod line;
pub mod link;
pub mod liveness;
pub mod log;
pub mod payload;
pub mod psync;

pub use backlog::{Backlog, MIN_BACKLOG_SIZE};
pub use error::ReplError;
pub use handshake::{handshake, CachedPrimary, HandshakeParams, PsyncOutcome};
pub use ids::{random_replid, ReplIds, NULL_REPLID, REPLID_LEN};
pub use info::{write_info, PrimaryInfo, ReplicaInfo, ReplicationInfo, TransferInfo};
pub use line::{LineLink, Phase};
pub use link::{replica_name, FailoverState, LinkState, ReplicaState};
pub use liveness::{BacklogTtl, PingSchedule, ReplicaAction, ReplicaLiveness};
pub use log::Log;
pub use payload::{receive_payload, Payload, PayloadTarget, TempFile};
pub use psync::{decide, FullResyncReason, PsyncDecision, PsyncRequest};
pub use redis_common::log::LogLevel;
