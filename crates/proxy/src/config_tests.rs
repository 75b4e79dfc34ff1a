//! Tests of config file parsing and command-line overrides.

use clap::Parser;

use super::*;

#[test]
fn file_directives() {
    let mut cfg = Config::default();
    let text = "# comment\nport 7000\nbind 127.0.0.1 ::1\nproxy-mode sentinel\n\
        sentinel 127.0.0.1:26379 127.0.0.1:26380\nsentinel 10.0.0.1:26379\n\
        master-name mymaster\nbackend-pass \"s e\"\nfailover-hold-ms 2500\n\
        proxy-read-from replica\nmaxclients 50\n";
    assert!(parse_into(&mut cfg, text).unwrap());
    validate(&cfg).unwrap();
    assert_eq!(cfg.port, 7000);
    assert_eq!(cfg.bind, vec!["127.0.0.1", "::1"]);
    assert_eq!(cfg.mode, Mode::Sentinel);
    assert_eq!(cfg.sentinels.len(), 3);
    assert_eq!(cfg.master_name, "mymaster");
    assert_eq!(cfg.backend_pass.as_deref(), Some("s e"));
    assert_eq!(cfg.failover_hold_ms, 2500);
    assert_eq!(cfg.read_from, ReadFrom::Replica);
    assert_eq!(cfg.maxclients, 50);
}

#[test]
fn bad_lines_name_the_line() {
    let mut cfg = Config::default();
    let e = parse_into(&mut cfg, "port 1\nfrobnicate yes\n").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("at line 2"), "{text}");
    assert!(text.contains("'frobnicate yes'"), "{text}");
    assert!(parse_into(&mut cfg, "port abc\n").is_err());
    assert!(parse_into(&mut cfg, "sentinel nohostport\n").is_err());
    assert!(parse_into(&mut cfg, "proxy-mode nope\n").is_err());
}

#[test]
fn command_line() {
    let cli = Cli::parse_from([
        "redis-proxy",
        "--port",
        "7001",
        "--cluster",
        "127.0.0.1:7000,127.0.0.1:7002",
    ]);
    let cfg = cli.into_config().unwrap();
    assert_eq!(cfg.mode, Mode::Cluster);
    assert_eq!(cfg.port, 7001);
    assert_eq!(cfg.cluster_nodes, vec!["127.0.0.1:7000", "127.0.0.1:7002"]);

    let cli = Cli::parse_from(["redis-proxy", "--sentinel", "127.0.0.1:26379"]);
    assert!(cli.into_config().is_err(), "no master name");
    let cli = Cli::parse_from(["redis-proxy", "--sentinel", "h:1", "--master", "m"]);
    assert_eq!(cli.into_config().unwrap().mode, Mode::Sentinel);
    let cli = Cli::parse_from(["redis-proxy", "--static", "127.0.0.1:6000"]);
    assert_eq!(cli.into_config().unwrap().static_backend, "127.0.0.1:6000");
    assert!(Cli::parse_from(["redis-proxy"]).into_config().is_err());
}

#[test]
fn addresses() {
    assert_eq!(split_addr("h:1"), Some(("h".into(), 1)));
    assert_eq!(split_addr("[::1]:7"), Some(("::1".into(), 7)));
    assert_eq!(split_addr("h"), None);
    assert_eq!(join_addr("::1", 7), "[::1]:7");
}

#[test]
fn packaged_config_is_valid() {
    let mut cfg = Config::default();
    parse_into(&mut cfg, include_str!("../../../debian/proxy.conf")).unwrap();
    validate(&cfg).unwrap();
    assert_eq!(cfg.mode, Mode::Sentinel);
    assert_eq!(cfg.bind, vec!["127.0.0.1", "-::1"]);
}

#[test]
fn timeouts_and_threads() {
    let mut cfg = Config::default();
    assert_eq!(cfg.backend_timeout_ms, 0);
    assert_eq!(cfg.io_threads, 1);
    parse_into(
        &mut cfg,
        "backend-timeout-ms 250\nio-threads 4\nstatic-backend h:1\n",
    )
    .unwrap();
    validate(&cfg).unwrap();
    assert_eq!(cfg.backend_timeout_ms, 250);
    assert_eq!(cfg.io_threads, 4);
    cfg.io_threads = 0;
    assert!(validate(&cfg).is_err());
    let cli = Cli::parse_from([
        "redis-proxy",
        "--static",
        "h:1",
        "--backend-timeout-ms",
        "40",
        "--io-threads",
        "2",
    ]);
    let cfg = cli.into_config().unwrap();
    assert_eq!(cfg.backend_timeout_ms, 40);
    assert_eq!(cfg.io_threads, 2);
}

#[test]
fn failover_on_refused() {
    let mut cfg = Config::default();
    assert_eq!(cfg.failover_on_refused_ms, 0);
    parse_into(&mut cfg, "failover-on-refused-ms 1500\n").unwrap();
    assert_eq!(cfg.failover_on_refused_ms, 1500);
    assert!(parse_into(&mut cfg, "failover-on-refused-ms soon\n").is_err());
    assert!(parse_into(&mut cfg, "failover-on-refused-ms 1 2\n").is_err());
    let cli = Cli::parse_from([
        "redis-proxy",
        "--sentinel",
        "h:1",
        "--master",
        "m",
        "--failover-on-refused-ms",
        "500",
    ]);
    assert_eq!(cli.into_config().unwrap().failover_on_refused_ms, 500);
}
