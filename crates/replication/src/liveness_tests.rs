//! Tests of `liveness.rs`.

use super::*;

#[test]
fn acks_once_a_second_starting_at_once() {
    let mut l = ReplicaLiveness::new(10_000);
    assert_eq!(l.poll(10_000, 60), Some(ReplicaAction::SendAck));
    assert_eq!(l.poll(10_000, 60), None);
    assert_eq!(l.next_wakeup(60), 11_000);
    assert_eq!(l.poll(10_999, 60), None);
    l.on_data(10_500);
    assert_eq!(l.poll(11_000, 60), Some(ReplicaAction::SendAck));
    // A stall of 5 s gives one ACK, then the next a second later.
    l.on_data(16_000);
    assert_eq!(l.poll(16_000, 60), Some(ReplicaAction::SendAck));
    assert_eq!(l.poll(16_001, 60), None);
    assert_eq!(l.next_wakeup(60), 17_000);
}

#[test]
fn silence_past_repl_timeout_times_out() {
    let mut l = ReplicaLiveness::new(0);
    assert_eq!(l.poll(0, 5), Some(ReplicaAction::SendAck));
    l.on_data(2_000);
    // Exactly the timeout is still fine; one ms more is not.
    for t in (3_000..=7_000).step_by(1000) {
        assert_eq!(l.poll(t, 5), Some(ReplicaAction::SendAck), "t {t}");
    }
    assert_eq!(l.poll(7_001, 5), Some(ReplicaAction::Timeout));
    assert_eq!(l.poll(7_002, 5), Some(ReplicaAction::Timeout));
    // Data arriving late does not move time backwards.
    l.on_data(1_000);
    assert_eq!(l.last_data_ms(), 2_000);
    assert_eq!(
        ReplicaLiveness::timeout_error().to_string(),
        "MASTER timeout: no data nor PING received..."
    );
}

#[test]
fn wakeup_includes_the_timeout() {
    let mut l = ReplicaLiveness::new(0);
    l.poll(0, 1);
    assert_eq!(l.next_wakeup(1), 1000);
    assert_eq!(l.poll(1000, 1), Some(ReplicaAction::SendAck));
    assert_eq!(l.next_wakeup(1), 1001);
    assert_eq!(l.poll(1001, 1), Some(ReplicaAction::Timeout));
    // A zero or negative repl-timeout acts as one second.
    let mut l = ReplicaLiveness::new(0);
    assert_eq!(l.poll(1001, 0), Some(ReplicaAction::Timeout));
}

#[test]
fn ping_period() {
    let mut p = PingSchedule::new();
    // Once per period since start, at the first call in it.
    assert!(p.due(0, 10));
    assert!(!p.due(0, 10));
    assert!(!p.due(9, 10));
    assert!(p.due(10, 10));
    assert!(!p.due(19, 10));
    // A late cron run still pings in its period.
    assert!(p.due(23, 10));
    // A period of 0 counts as 1.
    assert!(p.due(26, 0));
    assert!(p.due(27, 0));
    // A longer period set now waits for its own next multiple.
    assert!(!p.due(28, 3600));
    assert!(!p.due(3599, 3600));
    assert!(p.due(3600, 3600));
}

#[test]
fn replica_ack_timeout_and_good_replicas() {
    assert!(!replica_timed_out(60_000, 0, 60));
    assert!(replica_timed_out(60_001, 0, 60));
    assert!(is_good_replica(10_999, 0, 10));
    assert!(!is_good_replica(11_000, 0, 10));
    assert_eq!(
        replica_timeout_line("1.2.3.4:6380"),
        "Disconnecting timedout replica (streaming sync): 1.2.3.4:6380"
    );
}

#[test]
fn backlog_ttl() {
    let mut t = BacklogTtl::new();
    assert!(!t.poll(0, true, 3));
    assert!(!t.poll(2_999, true, 3));
    // A replica connected meanwhile: the count restarts.
    assert!(!t.poll(3_000, false, 3));
    assert!(!t.poll(4_000, true, 3));
    assert!(!t.poll(6_999, true, 3));
    assert!(t.poll(7_000, true, 3));
    // Freed: counting starts again on the next idle poll.
    assert!(!t.poll(8_000, true, 3));
    // 0 keeps it forever.
    let mut t = BacklogTtl::new();
    assert!(!t.poll(0, true, 0));
    assert!(!t.poll(1 << 40, true, 0));
    let mut t = BacklogTtl::new();
    t.restart(100);
    assert!(t.poll(3_100, true, 3));
    assert_eq!(
        BacklogTtl::freed_line(3600),
        "Replication backlog freed after 3600 seconds without connected replicas."
    );
}
