//! Tests of `shutdown.rs`.

use super::*;
use crate::client::ConnSignal;
use crate::replication::ReplicaLink;
use redis_config::Config;
use std::sync::{Arc, Mutex};

fn state() -> (State, Arc<Mutex<Vec<String>>>) {
    let mut st = State::new(Config::default(), 1_000_000, crate::Registry::empty());
    st.config
        .set(&[(b"save".to_vec(), b"".to_vec())])
        .expect("config");
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    st.log_sink =
        Arc::new(move |_, m| sink.lock().map(|mut v| v.push(m.to_string())).unwrap_or(()));
    (st, lines)
}

fn add_replica(st: &mut State, ack: i64) -> redis_net::PushReceiver {
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
    rx
}

#[test]
fn no_replicas_exits_at_once() {
    let (mut st, lines) = state();
    assert_eq!(
        st.request_shutdown(ShutdownRequest::default(), 1_000_000),
        ShutdownStep::Exit
    );
    assert!(st.shutdown.is_some());
    assert_eq!(lines.lock().unwrap()[0], "User requested shutdown...");
}

#[test]
fn lagging_replica_is_waited_for_then_reported() {
    let (mut st, lines) = state();
    st.repl.backlog.activate(1);
    st.feed_stream(b"*1\r\n$4\r\nPING\r\n");
    let _rx = add_replica(&mut st, 0);
    let now = 1_000_000;
    assert_eq!(
        st.request_shutdown(ShutdownRequest::default(), now),
        ShutdownStep::Waiting
    );
    assert!(st.pause.is_some());
    assert!(st.shutdown.is_none());
    // GETACK went into the stream.
    assert!(st.repl.ids.master_repl_offset > 14);
    st.shutdown_cron(now + 5_000);
    assert!(st.shutdown.is_none(), "waits up to shutdown-timeout");
    st.shutdown_cron(now + 10_000);
    assert!(st.shutdown.is_some());
    let log = lines.lock().unwrap().join("\n");
    let behind = st.repl.ids.master_repl_offset;
    assert!(
        log.contains("Waiting for replicas before shutting down."),
        "{log}"
    );
    assert!(
        log.contains(&format!("Lagging replica 127.0.0.1:6380 reported offset {behind} behind master, lag=10, state=online.")),
        "{log}"
    );
    assert!(
        log.contains("0 of 1 replicas are in sync when shutting down."),
        "{log}"
    );
}

#[test]
fn caught_up_replica_ends_the_wait_and_abort_cancels() {
    let (mut st, lines) = state();
    st.repl.backlog.activate(1);
    st.feed_stream(b"*1\r\n$4\r\nPING\r\n");
    let _rx = add_replica(&mut st, 0);
    assert_eq!(
        st.request_shutdown(ShutdownRequest::default(), 1_000_000),
        ShutdownStep::Waiting
    );
    assert!(st.abort_shutdown());
    assert!(!st.abort_shutdown());
    assert!(st.pause.is_none());
    assert!(lines
        .lock()
        .unwrap()
        .contains(&"Shutdown manually aborted.".to_string()));

    assert_eq!(
        st.request_shutdown(ShutdownRequest::default(), 1_000_000),
        ShutdownStep::Waiting
    );
    let off = st.repl.ids.master_repl_offset;
    st.repl.replicas[0].ack_offset = off;
    st.shutdown_cron(1_000_100);
    assert!(st.shutdown.is_some());
    assert!(lines
        .lock()
        .unwrap()
        .contains(&"1 of 1 replicas are in sync when shutting down.".to_string()));
}

#[test]
fn now_skips_the_wait_and_signal_flags_parse() {
    let (mut st, _) = state();
    let _rx = add_replica(&mut st, -5);
    let req = ShutdownRequest {
        now: true,
        ..Default::default()
    };
    assert_eq!(st.request_shutdown(req, 1), ShutdownStep::Exit);
    let r = ShutdownRequest::from_signal_config("nosave now");
    assert!(r.nosave && r.now && !r.save && !r.force);
    let r = ShutdownRequest::from_signal_config("default");
    assert!(!r.nosave && !r.now && !r.save && !r.force);
}
