//! Unit tests of the proxy failover comparison's pure helpers (kept apart
//! so `proxy_failover.rs` holds only library code).

use super::*;

fn log(acks: &[(u64, u64, f64)]) -> WriterLog {
    WriterLog {
        acks: acks.to_vec(),
        errors: 0,
        attempts: acks.len() as u64,
    }
}

#[test]
fn gaps_and_placement() {
    let l = log(&[(1, 1, 0.0), (2, 2, 0.01), (5, 3, 0.5), (6, 4, 0.51)]);
    let (gap, from, to) = longest_gap(&l).unwrap();
    assert!((gap - 0.49).abs() < 1e-9, "{gap}");
    assert_eq!((from, to), (0.01, 0.5));
    assert!(longest_gap(&log(&[(1, 1, 0.0)])).is_none());
    assert!(misplaced(&l, &[1, 2, 5, 6]).is_empty());
    // An unacknowledged push that ran (3) shifts nothing acknowledged
    // only when it is where no ack is: here it displaces 5 and 6.
    assert_eq!(misplaced(&l, &[1, 2, 3, 5, 6]).len(), 2);
    // Lost acknowledged writes.
    assert_eq!(misplaced(&l, &[1, 2]).len(), 2);
    // A length that goes back: acknowledged by a diverged history.
    let back = log(&[(1, 1, 0.0), (2, 1, 0.1)]);
    assert_eq!(misplaced(&back, &[2]).len(), 2);
}

#[test]
fn haproxy_config_and_stat() {
    let cfg = haproxy_config(7000, &[("redis1", 7001), ("redis2", 7002)], "/tmp/h.sock");
    assert!(cfg.contains("stats socket /tmp/h.sock mode 600 level admin\n"));
    assert!(cfg.contains("bind 127.0.0.1:7000\n"));
    assert!(cfg.contains("tcp-check send AUTH\\ TestPass\\r\\n\n"));
    assert!(cfg.contains("tcp-check expect string role:master\n"));
    assert!(cfg.contains("server redis1 127.0.0.1:7001 check inter 3000ms\n"));
    assert!(cfg.contains("server redis2 127.0.0.1:7002 check inter 3000ms\n"));
    assert!(!cfg.contains("fall") && !cfg.contains("rise"));
    let stat = "# pxname,svname,qcur,status,x\n\
                ft_redis,FRONTEND,,OPEN,\n\
                bk_redis,redis1,0,UP,\n\
                bk_redis,redis2,0,DOWN 1/2,\n\
                bk_redis,BACKEND,0,UP,\n";
    assert_eq!(
        parse_show_stat(stat).unwrap(),
        vec![
            ("redis1".to_string(), "UP".to_string()),
            ("redis2".to_string(), "DOWN 1/2".to_string())
        ]
    );
    assert!(parse_show_stat("").is_err());
    assert!(parse_show_stat("# a,b\n").is_err());
}

#[test]
fn process_state_and_target() {
    assert!(stat_is_zombie("42 (redis-server) Z 1 42 42"));
    assert!(!stat_is_zombie("42 (redis server) S 1 42 42"));
    assert!(!stat_is_zombie("42 (a) b) R 1"));
    assert!(!exited(std::process::id()));
    assert_eq!(target(Some(0.3)), "met");
    assert_eq!(target(Some(0.5)), "missed (>0.33)");
    assert_eq!(target(None), "-");
}
