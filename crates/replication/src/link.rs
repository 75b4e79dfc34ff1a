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
mod tests {
    use super::*;

    #[test]
    fn words() {
        let all = [
            (LinkState::Connect, "connect", false),
            (LinkState::Connecting, "connecting", false),
            (LinkState::Handshake, "handshake", false),
            (LinkState::Transfer, "sync", false),
            (LinkState::Connected, "connected", true),
        ];
        for (s, word, up) in all {
            assert_eq!(s.role_word(), word);
            assert_eq!(s.is_up(), up);
            assert_eq!(s.sync_in_progress(), s == LinkState::Transfer);
        }
        assert_eq!(ReplicaState::WaitBgsave.info_word(), "wait_bgsave");
        assert_eq!(ReplicaState::SendBulk.info_word(), "send_bulk");
        assert_eq!(ReplicaState::Online.info_word(), "online");
        assert_eq!(FailoverState::default().word(), "no-failover");
        assert_eq!(FailoverState::WaitingForSync.word(), "waiting-for-sync");
        assert_eq!(
            FailoverState::FailoverInProgress.word(),
            "failover-in-progress"
        );
    }

    #[test]
    fn replica_names() {
        assert_eq!(replica_name("10.0.0.1", 6380), "10.0.0.1:6380");
        assert_eq!(replica_name("::1", 0), "::1:<unknown-replica-port>");
    }
}
