//! The shipped `configs/redis.conf` must load, and must document every
//! directive of the table.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use redis_config::{Config, HIDDEN, TABLE};
use std::path::{Path, PathBuf};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/redis.conf")
}

#[test]
fn shipped_config_loads() {
    let path = shipped();
    // `dir` must exist at load time, as upstream chdir()s into it. Use the
    // file as is where the packaged directory exists, otherwise a copy
    // pointing at a temporary directory.
    let cfg = if Path::new("/var/lib/redis").is_dir() {
        Config::load(Some(&path), &[]).unwrap()
    } else {
        let text = std::fs::read_to_string(&path).unwrap();
        let tmp = std::env::temp_dir().join(format!("shipped-{}.conf", std::process::id()));
        let dir = std::env::temp_dir();
        std::fs::write(
            &tmp,
            text.replace(
                "\ndir /var/lib/redis\n",
                &format!("\ndir {}\n", dir.display()),
            ),
        )
        .unwrap();
        Config::load(Some(&tmp), &[]).unwrap()
    };
    assert_eq!(cfg.bind_addrs(), vec!["127.0.0.1", "-::1"]);
    assert!(cfg.get_bool("protected-mode"));
    assert_eq!(cfg.get_int("port"), 6379);
    assert!(!cfg.get_bool("daemonize"));
    assert_eq!(cfg.get_enum("supervised"), "auto");
    assert_eq!(cfg.get_str("pidfile"), "/run/redis/redis-server.pid");
    assert_eq!(cfg.get_enum("loglevel"), "notice");
    assert_eq!(cfg.get_str("logfile"), "/var/log/redis/redis-server.log");
    assert_eq!(cfg.save_points(), vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(
        cfg.get_value("client-output-buffer-limit").unwrap(),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
}

#[test]
fn shipped_config_documents_every_directive() {
    let text = std::fs::read_to_string(shipped()).unwrap();
    let mentioned: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start_matches(['#', ' ']).split(' ').next())
        .collect();
    for d in TABLE.iter().filter(|d| !d.is(HIDDEN)) {
        assert!(mentioned.contains(&d.name), "{} is not documented", d.name);
    }
}
