//! The `INFO replication` section body, as Redis 7.0 prints it, from a
//! snapshot the caller fills under its lock.

use std::fmt::Write as _;

use crate::backlog::Backlog;
use crate::ids::ReplIds;
use crate::link::{FailoverState, LinkState, ReplicaState};

/// The replica's view of its primary (present on a replica only).
#[derive(Clone, Debug, PartialEq)]
pub struct PrimaryInfo {
    /// `master_host`.
    pub host: String,
    /// `master_port`.
    pub port: u16,
    /// The link (`master_link_status`, `master_sync_in_progress`).
    pub link: LinkState,
    /// Unix ms of the last data from the primary
    /// (`master_last_io_seconds_ago` while up).
    pub last_io_ms: i64,
    /// Unix ms the link went down; `None` prints -1 (never connected
    /// since `REPLICAOF`).
    pub down_since_ms: Option<i64>,
    /// `slave_read_repl_offset`: stream read from the primary.
    pub read_repl_offset: i64,
    /// `slave_repl_offset`: stream applied.
    pub repl_offset: i64,
    /// Progress of a payload transfer; printed only when set (upstream
    /// prints it during the transfer; `None` reproduces the engine's
    /// output before this crate).
    pub transfer: Option<TransferInfo>,
    /// `slave_priority` (`replica-priority`).
    pub priority: i64,
    /// `slave_read_only` (`replica-read-only`).
    pub read_only: bool,
    /// `replica_announced` (`replica-announced`).
    pub announced: bool,
}

/// Progress of the RDB transfer of a full sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferInfo {
    /// Announced size: -1 before the header, 0 for the EOF-marked form.
    pub total: i64,
    /// Bytes received.
    pub read: i64,
    /// Unix ms of the last transfer I/O.
    pub last_io_ms: i64,
}

/// One replica connected to us (a `slaveN:` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaInfo {
    /// Its address (announced or peer).
    pub ip: String,
    /// Its listening port.
    pub port: u16,
    /// Where it is.
    pub state: ReplicaState,
    /// The offset it acknowledged (printed as at least 0).
    pub offset: i64,
    /// Unix ms of its last ack (`lag`).
    pub last_ack_ms: i64,
}

/// Everything `INFO replication` prints.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationInfo {
    /// Our primary, when we are a replica (`role:slave`).
    pub primary: Option<PrimaryInfo>,
    /// Our replicas.
    pub replicas: Vec<ReplicaInfo>,
    /// `min_slaves_good_slaves`, printed when set (upstream prints it
    /// when `min-replicas-to-write` and `min-replicas-max-lag` are both
    /// non-zero).
    pub good_replicas: Option<usize>,
    /// `master_failover_state`.
    pub failover: FailoverState,
    /// `master_replid`.
    pub replid: String,
    /// `master_replid2`.
    pub replid2: String,
    /// `master_repl_offset`.
    pub master_repl_offset: i64,
    /// `second_repl_offset`.
    pub second_repl_offset: i64,
    /// `repl_backlog_active`.
    pub backlog_active: bool,
    /// `repl_backlog_size` (the configured size).
    pub backlog_size: i64,
    /// `repl_backlog_first_byte_offset` (0 when inactive).
    pub backlog_first_byte_offset: i64,
    /// `repl_backlog_histlen` (0 when inactive).
    pub backlog_histlen: i64,
}

impl ReplicationInfo {
    /// A primary's snapshot with the IDs and backlog filled in, no
    /// replicas, no failover.
    pub fn new(ids: &ReplIds, backlog: &Backlog) -> ReplicationInfo {
        let active = backlog.active();
        ReplicationInfo {
            primary: None,
            replicas: Vec::new(),
            good_replicas: None,
            failover: FailoverState::NoFailover,
            replid: ids.replid.clone(),
            replid2: ids.replid2.clone(),
            master_repl_offset: ids.master_repl_offset,
            second_repl_offset: ids.second_repl_offset,
            backlog_active: active,
            backlog_size: backlog.size() as i64,
            backlog_first_byte_offset: if active { backlog.first_offset() } else { 0 },
            backlog_histlen: if active { backlog.histlen() as i64 } else { 0 },
        }
    }
}

fn secs_since(now: i64, t: i64) -> i64 {
    (now - t).max(0) / 1000
}

/// Appends the section body (without the `# Replication` title), field
/// for field as 7.0, at `now` (unix ms).
pub fn write_info(info: &ReplicationInfo, now: i64, o: &mut String) {
    match &info.primary {
        Some(m) => {
            let up = m.link.is_up();
            let _ = write!(
                o,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                m.host,
                m.port,
                if up { "up" } else { "down" },
                if up { secs_since(now, m.last_io_ms) } else { -1 },
                u8::from(m.link.sync_in_progress()),
                m.read_repl_offset,
                m.repl_offset,
            );
            if let Some(t) = &m.transfer {
                let perc = if t.total != 0 {
                    t.read as f64 / t.total as f64 * 100.0
                } else {
                    0.0
                };
                let _ = write!(
                    o,
                    "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                    t.total,
                    t.read,
                    t.total - t.read,
                    secs_since(now, t.last_io_ms),
                );
            }
            if !up {
                let down = m.down_since_ms.map_or(-1, |t| secs_since(now, t));
                let _ = write!(o, "master_link_down_since_seconds:{down}\r\n");
            }
            let _ = write!(
                o,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                m.priority,
                u8::from(m.read_only),
                u8::from(m.announced),
            );
        }
        None => o.push_str("role:master\r\n"),
    }
    let _ = write!(o, "connected_slaves:{}\r\n", info.replicas.len());
    if let Some(n) = info.good_replicas {
        let _ = write!(o, "min_slaves_good_slaves:{n}\r\n");
    }
    for (i, r) in info.replicas.iter().enumerate() {
        let _ = write!(
            o,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            r.ip,
            r.port,
            r.state.info_word(),
            r.offset.max(0),
            secs_since(now, r.last_ack_ms)
        );
    }
    let _ = write!(
        o,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        info.failover.word(),
        info.replid,
        info.replid2,
        info.master_repl_offset,
        info.second_repl_offset,
        u8::from(info.backlog_active),
        info.backlog_size,
        info.backlog_first_byte_offset,
        info.backlog_histlen,
    );
}

#[cfg(test)]
#[path = "info_tests.rs"]
mod tests;
