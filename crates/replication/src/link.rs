//! Typed link states, with the words `ROLE` and `INFO replication` print
//! for them.

/// Where a replica is with its primary (upstream's `repl_state`, folded
/// to what is observable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LinkState {
    /// A primary is configured; the next connection attempt is pending.
    #[default]
    Connect,
    /// The TCP connection is being established.
    Connecting,
    /// Connected, handshake (`PING`, `AUTH`, `REPLCONF`, `PSYNC`) under way.
    Handshake,
    /// Receiving (or loading) the RDB of a full sync.
    Transfer,
    /// Applying the command stream.
    Connected,
}

impl LinkState {
    /// The state word of `ROLE` on a replica.
    pub fn role_word(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }

    /// `master_link_status:up`: the stream flows.
    pub fn is_up(self) -> bool {
        self == LinkState::Connected
    }

    /// `master_sync_in_progress:1`: a full sync's payload is on its way.
    pub fn sync_in_progress(self) -> bool {
        self == LinkState::Transfer
    }
}

/// Where a replica connected to us is (upstream's `replstate` of a
/// replica client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for the snapshot to start (or for the one running).
    WaitBgsave,
    /// The RDB is being sent.
    SendBulk,
    /// Receiving the command stream.
    Online,
}

impl ReplicaState {
    /// The `state=` word of the `slaveN:` line in `INFO replication`.
    pub fn info_word(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// `master_failover_state` of `INFO replication`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailoverState {
    /// No `FAILOVER` running.
    #[default]
    NoFailover,
    /// `FAILOVER` waits for the target to catch up.
    WaitingForSync,
    /// Demoted, handing over with `PSYNC … FAILOVER`.
    FailoverInProgress,
}

impl FailoverState {
    /// The word `INFO` prints.
    pub fn word(self) -> &'static str {
        match self {
            FailoverState::NoFailover => "no-failover",
            FailoverState::WaitingForSync => "waiting-for-sync",
            FailoverState::FailoverInProgress => "failover-in-progress",
        }
    }
}

/// `ip:port` of a replica as upstream's log lines name it (the port is
/// unknown until `REPLCONF listening-port`).
pub fn replica_name(ip: &str, port: u16) -> String {
    if port == 0 {
        format!("{ip}:<unknown-replica-port>")
    } else {
        format!("{ip}:{port}")
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
