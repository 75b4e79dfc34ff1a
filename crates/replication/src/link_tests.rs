//! Tests of `link.rs`.

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
