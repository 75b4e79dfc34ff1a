//! Tests of `failover.rs`.

use super::*;
use crate::client::ConnSignal;
use crate::replication::ReplicaLink;
use redis_config::Config;
use redis_replication::ReplicaState;
use std::sync::Arc;

/// A primary with one online replica at `127.0.0.1:6380` that has
/// acknowledged `ack`, failing over to it until `deadline` (Unix ms).
fn failing_over(ack: i64, deadline: i64, force: bool) -> (State, redis_net::PushReceiver) {
    let mut st = State::new(Config::default(), 1_000_000, crate::Registry::empty());
    let (tx, rx) = redis_net::push_channel();
    st.repl.replicas.push(ReplicaLink {
        client_id: 7,
        ip: "127.0.0.1".into(),
        listening_port: 6380,
        state: ReplicaState::Online,
        ack_offset: ack,
        last_ack_ms: 1_000_000,
        pending: bytes::BytesMut::new(),
        signal: Arc::new(ConnSignal::new(tx)),
        capa_eof: true,
        capa_psync2: true,
        pre_psync: false,
        rdb_only: false,
        stream_on_ack: false,
        wait_since_ms: 0,
    });
    st.pause = Some((i64::MAX, true));
    st.failover = Some(Failover {
        host: "127.0.0.1".into(),
        port: 6380,
        deadline: Some(deadline),
        force,
        offset: 100,
    });
    (st, rx)
}

/// The decision runs on the clock passed in: no sleeping through the
/// timeout. A lagging target is waited for until the deadline, then
/// the failover aborts and writes resume.
#[test]
fn lagging_target_is_waited_for_then_the_failover_aborts() {
    let (mut st, _rx) = failing_over(50, 2_000_000, false);
    st.failover_cron(1_999_999);
    assert!(st.failover.is_some());
    assert!(st.master.is_none());
    st.failover_cron(2_000_000);
    assert!(st.failover.is_none());
    assert!(st.pause.is_none());
    assert!(st.master.is_none(), "still the primary");
}

/// A target that acknowledged the offset is followed at once; with
/// FORCE, a lagging one is followed once the deadline passed.
#[test]
fn synced_or_forced_target_becomes_our_primary() {
    let (mut st, _rx) = failing_over(100, 2_000_000, false);
    st.failover_cron(1_000_001);
    assert!(st.failover.is_none());
    assert!(st.pause.is_none());
    let m = st.master.as_ref().expect("a replica of the target");
    assert_eq!(
        (m.host.as_str(), m.port, m.failover),
        ("127.0.0.1", 6380, true)
    );

    let (mut st, _rx) = failing_over(50, 2_000_000, true);
    st.failover_cron(1_500_000);
    assert!(st.master.is_none());
    st.failover_cron(2_000_000);
    assert!(st.master.as_ref().is_some_and(|m| m.failover));
}
