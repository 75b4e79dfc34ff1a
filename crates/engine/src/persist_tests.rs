//! Unit tests of `persist.rs` (kept apart so the module holds only
//! library code).

use super::*;
use redis_config::Config;

/// Saves ~12 MB of incompressible strings through the writer thread
/// with `directive` set to `value` (and the other incremental-fsync
/// directive set to the opposite, to prove which one is read); returns
/// the incremental fsyncs the save made.
fn save_with(aof_base: bool, value: bool) -> u64 {
    let (mine, other) = if aof_base {
        (
            "aof-rewrite-incremental-fsync",
            "rdb-save-incremental-fsync",
        )
    } else {
        (
            "rdb-save-incremental-fsync",
            "aof-rewrite-incremental-fsync",
        )
    };
    let yn = |b: bool| if b { b"yes".to_vec() } else { b"no".to_vec() };
    let mut st = State::new(
        Config::default(),
        1_700_000_000_000,
        crate::Registry::empty(),
    );
    st.config
        .set(&[
            (mine.as_bytes().to_vec(), yn(value)),
            (other.as_bytes().to_vec(), yn(!value)),
        ])
        .unwrap();
    // xorshift bytes: LZF cannot shrink them below 4 MB per file.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..12 {
        let mut v = Vec::with_capacity(1 << 20);
        while v.len() < 1 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        st.ks.dbs[0].set(
            format!("k{i}").as_bytes(),
            Value::Str(StrValue::Shared(Bytes::from(v))),
            false,
            0,
        );
    }
    let dir = std::env::temp_dir().join(format!(
        "persist-autosync-{}-{aof_base}-{value}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let final_path = dir.join("out.rdb");
    let opened = st
        .open_writer_to(dir.join("temp.rdb"), final_path.clone(), aof_base)
        .unwrap();
    let snap = st.ks.begin_snapshot().unwrap();
    st.persistence.bgsave = Some(if aof_base {
        BgSave::for_aof_rewrite(snap, opened, 0, 12)
    } else {
        BgSave::new(snap, opened, 0, 12)
    });
    let mut steps = 0;
    while st.bgsave_step() {
        steps += 1;
        assert!(steps < 100_000, "save did not finish");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let size = std::fs::metadata(&final_path).unwrap().len();
    assert!(size > 12 << 20, "saved {size} bytes");
    std::fs::remove_dir_all(&dir).unwrap();
    st.persistence.last_save_incremental_fsyncs
}

#[test]
fn rdb_save_fsyncs_every_4mb_only_with_its_directive() {
    assert_eq!(save_with(false, true), 3);
    assert_eq!(save_with(false, false), 0);
}

/// A replica link registered for a full sync, with its mailbox.
fn sync_replica(st: &mut State, id: u64) -> redis_net::PushReceiver {
    let (tx, rx) = redis_net::push_channel();
    st.repl.replicas.push(crate::replication::ReplicaLink {
        client_id: id,
        ip: "127.0.0.1".into(),
        listening_port: 6380,
        state: ReplicaState::WaitBgsave,
        ack_offset: 0,
        last_ack_ms: 0,
        pending: bytes::BytesMut::new(),
        signal: Arc::new(crate::client::ConnSignal::new(tx)),
        capa_eof: true,
        capa_psync2: true,
        pre_psync: false,
        rdb_only: false,
        stream_on_ack: false,
        wait_since_ms: 0,
    });
    rx
}

/// The replica's connection breaks in the middle of the payload (its
/// task has not unregistered it yet): the transfer must not end with
/// the link online after a truncated RDB; it is closed and the
/// replica retries.
#[test]
fn replica_gone_mid_transfer_is_not_put_online() {
    let mut st = State::new(
        Config::default(),
        1_700_000_000_000,
        crate::Registry::empty(),
    );
    st.config
        .set(&[(b"repl-diskless-sync-delay".to_vec(), b"0".to_vec())])
        .unwrap();
    for i in 0..5000 {
        st.ks.dbs[0].set(
            format!("key:{i}").as_bytes(),
            Value::Str(StrValue::Shared(Bytes::from(vec![b'x'; 100]))),
            false,
            0,
        );
    }
    let rx = sync_replica(&mut st, 1);
    st.start_replica_sync(1_700_000_000_000);
    assert!(st.persistence.bgsave.is_some());
    assert_eq!(st.repl.replicas[0].state, ReplicaState::SendBulk);
    assert!(st.bgsave_step());
    drop(rx);
    let mut steps = 0;
    while st.bgsave_step() {
        steps += 1;
        assert!(steps < 10_000, "transfer did not end");
    }
    assert!(
        st.repl.replicas.is_empty(),
        "link left registered: {:?}",
        st.repl.replicas.first().map(|l| l.state)
    );
    assert!(!st.ks.snapshot_running());
}

/// `repl-diskless-sync-delay` is decided on the clock passed in: the
/// sync waits for more replicas until the delay since the first one
/// asked is over, without sleeping through it.
#[test]
fn diskless_sync_starts_once_its_delay_is_over() {
    let mut st = State::new(
        Config::default(),
        1_700_000_000_000,
        crate::Registry::empty(),
    );
    st.config
        .set(&[
            (b"repl-diskless-sync".to_vec(), b"yes".to_vec()),
            (b"repl-diskless-sync-delay".to_vec(), b"5".to_vec()),
        ])
        .unwrap();
    let asked = 1_700_000_000_000;
    let _rx = sync_replica(&mut st, 1);
    st.repl.replicas[0].wait_since_ms = asked;
    assert_eq!(st.diskless_sync_delay(asked + 1_000), Some(4_000));
    st.start_replica_sync(asked + 4_999);
    assert!(st.persistence.bgsave.is_none());
    assert_eq!(st.repl.replicas[0].state, ReplicaState::WaitBgsave);
    st.start_replica_sync(asked + 5_000);
    assert!(st.persistence.bgsave.is_some());
    assert_eq!(st.repl.replicas[0].state, ReplicaState::SendBulk);
}

/// A full sync whose payload cannot be produced tells the waiting
/// replicas and closes them instead of leaving them waiting.
#[test]
fn failed_replication_bgsave_closes_waiting_replicas() {
    let mut st = State::new(
        Config::default(),
        1_700_000_000_000,
        crate::Registry::empty(),
    );
    let mut rx = sync_replica(&mut st, 1);
    let signal = st.repl.replicas[0].signal.clone();
    st.fail_replica_sync(&[1], "test");
    assert!(st.repl.replicas.is_empty());
    assert_eq!(
        rx.try_recv().unwrap(),
        "-ERR BGSAVE failed, replication can't continue\r\n"
    );
    assert!(signal.close_requested());
}

#[test]
fn aof_base_fsyncs_every_4mb_only_with_its_directive() {
    assert_eq!(save_with(true, true), 3);
    assert_eq!(save_with(true, false), 0);
}
