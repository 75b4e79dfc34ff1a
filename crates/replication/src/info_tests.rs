//! Tests of `info.rs`.

use super::*;
use crate::ids::NULL_REPLID;

const A: &str = "998c95f2a90a52ff420325a53505523b28564dc8";

fn render(info: &ReplicationInfo, now: i64) -> String {
    let mut s = String::new();
    write_info(info, now, &mut s);
    s
}

#[test]
fn fresh_primary() {
    let ids = ReplIds::new(A.to_string());
    let backlog = Backlog::new(1 << 20);
    let want = format!(
        "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{A}\r\nmaster_replid2:{NULL_REPLID}\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n"
    );
    assert_eq!(render(&ReplicationInfo::new(&ids, &backlog), 0), want);
}

#[test]
fn primary_with_replicas() {
    let mut ids = ReplIds::new(A.to_string());
    let mut backlog = Backlog::new(1 << 20);
    backlog.activate(1);
    backlog.feed(&[0; 42]);
    ids.advance(42);
    let mut info = ReplicationInfo::new(&ids, &backlog);
    info.good_replicas = Some(1);
    info.failover = FailoverState::WaitingForSync;
    info.replicas = vec![
        ReplicaInfo {
            ip: "127.0.0.1".into(),
            port: 6380,
            state: ReplicaState::Online,
            offset: 42,
            last_ack_ms: 9_000,
        },
        ReplicaInfo {
            ip: "10.0.0.2".into(),
            port: 6381,
            state: ReplicaState::WaitBgsave,
            offset: -1,
            last_ack_ms: 12_000,
        },
    ];
    let want = format!(
        "role:master\r\nconnected_slaves:2\r\nmin_slaves_good_slaves:1\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=1\r\nslave1:ip=10.0.0.2,port=6381,state=wait_bgsave,offset=0,lag=0\r\nmaster_failover_state:waiting-for-sync\r\nmaster_replid:{A}\r\nmaster_replid2:{NULL_REPLID}\r\nmaster_repl_offset:42\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:42\r\n"
    );
    assert_eq!(render(&info, 10_500), want);
}

fn replica(link: LinkState) -> ReplicationInfo {
    let mut ids = ReplIds::new(A.to_string());
    ids.advance(100);
    let mut info = ReplicationInfo::new(&ids, &Backlog::new(0));
    info.primary = Some(PrimaryInfo {
        host: "127.0.0.1".into(),
        port: 6379,
        link,
        last_io_ms: 5_000,
        down_since_ms: Some(1_000),
        read_repl_offset: 100,
        repl_offset: 100,
        transfer: None,
        priority: 100,
        read_only: true,
        announced: true,
    });
    info
}

#[test]
fn connected_replica() {
    let want = format!(
        "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:2\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:100\r\nslave_repl_offset:100\r\nslave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{A}\r\nmaster_replid2:{NULL_REPLID}\r\nmaster_repl_offset:100\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:16384\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n"
    );
    assert_eq!(render(&replica(LinkState::Connected), 7_900), want);
}

#[test]
fn replica_link_down_and_syncing() {
    let mut info = replica(LinkState::Transfer);
    let out = render(&info, 4_000);
    assert!(out.contains(
        "master_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:1\r\nslave_read_repl_offset:100\r\nslave_repl_offset:100\r\nmaster_link_down_since_seconds:3\r\nslave_priority:100\r\n"
    ));
    // Transfer progress, when given, sits between the offsets and the
    // down time, as in 7.0.
    if let Some(p) = info.primary.as_mut() {
        p.transfer = Some(TransferInfo {
            total: 200,
            read: 50,
            last_io_ms: 2_000,
        });
        p.down_since_ms = None;
    }
    let out = render(&info, 4_000);
    assert!(out.contains(
        "slave_repl_offset:100\r\nmaster_sync_total_bytes:200\r\nmaster_sync_read_bytes:50\r\nmaster_sync_left_bytes:150\r\nmaster_sync_perc:25.00\r\nmaster_sync_last_io_seconds_ago:2\r\nmaster_link_down_since_seconds:-1\r\n"
    ));
    if let Some(p) = info.primary.as_mut() {
        p.transfer = Some(TransferInfo {
            total: -1,
            read: 0,
            last_io_ms: 4_000,
        });
    }
    let out = render(&info, 4_000);
    assert!(out.contains("master_sync_left_bytes:-1\r\nmaster_sync_perc:-0.00\r\n"));
    if let Some(p) = info.primary.as_mut() {
        p.transfer = Some(TransferInfo {
            total: 0,
            read: 10,
            last_io_ms: 4_000,
        });
    }
    assert!(render(&info, 4_000).contains("master_sync_perc:0.00\r\n"));
    for (link, status) in [
        (LinkState::Connect, "down"),
        (LinkState::Connecting, "down"),
        (LinkState::Handshake, "down"),
    ] {
        let out = render(&replica(link), 4_000);
        assert!(out.contains(&format!("master_link_status:{status}\r\n")));
        assert!(out.contains("master_sync_in_progress:0\r\n"));
    }
}
