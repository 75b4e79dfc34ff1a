//! Tests of `info.rs`.

use super::*;

#[test]
fn parses_master_info() {
    let text = "# Server\r\nrun_id:0123456789012345678901234567890123456789\r\n\
                # Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
                slave0:ip=10.0.0.2,port=6380,state=online,offset=100,lag=0\r\n\
                slave1:10.0.0.3,6381,online\r\nslave_x:junk\r\n";
    let r = InfoReport::parse(text);
    assert_eq!(
        r.run_id.as_deref(),
        Some("0123456789012345678901234567890123456789")
    );
    assert_eq!(r.role, Some(Role::Master));
    assert_eq!(
        r.replicas,
        vec![Addr::new("10.0.0.2", 6380), Addr::new("10.0.0.3", 6381)]
    );
}

#[test]
fn parses_replica_info() {
    let text = "role:slave\nmaster_host:10.0.0.1\nmaster_port:6379\n\
                master_link_status:down\nmaster_link_down_since_seconds:7\n\
                slave_priority:50\nslave_repl_offset:1234\nreplica_announced:1\n";
    let r = InfoReport::parse(text);
    assert_eq!(r.role, Some(Role::Replica));
    assert_eq!(r.master_host.as_deref(), Some("10.0.0.1"));
    assert_eq!(r.master_port, Some(6379));
    assert!(!r.master_link_up);
    assert_eq!(r.master_link_down_ms, Some(7000));
    assert_eq!(r.replica_priority, Some(50));
    assert_eq!(r.repl_offset, Some(1234));
    assert_eq!(r.replica_announced, Some(true));
}
