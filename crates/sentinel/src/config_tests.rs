//! Tests of the sentinel.conf parser and rewriter.

use crate::config::{parse, parse_with, Addr, ConfigError, KnownSentinel, ParseOptions};
use crate::rewrite::{rewrite, write_atomically, REWRITE_SIGNATURE};

const ID_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const ID_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

const SEED_CONF: &str = "\
# Sentinel for the seed cluster
port 26379
daemonize no
sentinel monitor mymaster 192.168.1.10 6379 1
sentinel down-after-milliseconds mymaster 3000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 4
sentinel auth-pass mymaster secret
";

fn err(line: usize, text: &str, reason: &str) -> ConfigError {
    ConfigError {
        version: "7.0.15".into(),
        line,
        text: text.into(),
        reason: reason.into(),
    }
}

fn no_scripts() -> ParseOptions {
    ParseOptions {
        check_scripts: false,
        ..ParseOptions::default()
    }
}

#[test]
fn parses_seed_config() {
    let c = parse(SEED_CONF).unwrap();
    assert_eq!(c.port, 26379);
    assert!(!c.daemonize);
    let m = c.master("mymaster").unwrap();
    assert_eq!(m.addr, Addr::new("192.168.1.10", 6379));
    assert_eq!(m.quorum, 1);
    assert_eq!(m.down_after_ms, 3000);
    assert_eq!(m.failover_timeout_ms, 10000);
    assert_eq!(m.parallel_syncs, 4);
    assert_eq!(m.auth_pass.as_deref(), Some("secret"));
    assert_eq!(m.master_reboot_down_after_ms, 0);
    assert_eq!(c.myid, None);
}

#[test]
fn defaults_of_a_master() {
    let c = parse("sentinel monitor m 10.0.0.1 6379 2\n").unwrap();
    let m = c.master("m").unwrap();
    assert_eq!(m.down_after_ms, 30000);
    assert_eq!(m.failover_timeout_ms, 180000);
    assert_eq!(m.parallel_syncs, 1);
    assert!(c.deny_scripts_reconfig);
    assert!(!c.resolve_hostnames);
}

#[test]
fn parses_debian_packaged_config() {
    let text = include_str!("../../../debian/sentinel.conf");
    let c = parse(text).unwrap();
    assert_eq!(c.port, 26379);
    assert_eq!(c.supervised, "auto");
    assert_eq!(c.dir.as_deref(), Some("/var/lib/redis"));
    assert_eq!(c.master("mymaster").unwrap().quorum, 2);
    // Rewriting keeps the documentation comments and is a fixed point.
    let mut state = c.clone();
    state.myid = Some(ID_A.into());
    let once = rewrite(text, &state);
    assert_eq!(parse(&once).unwrap(), state);
    assert_eq!(rewrite(&once, &state), once);
    let comments = |t: &str| t.lines().filter(|l| l.starts_with('#')).count();
    assert_eq!(comments(&once), comments(text) + 1);
}

#[test]
fn state_directives_and_case_insensitivity() {
    let text = format!(
        "SENTINEL MYID {ID_A}\nsentinel current-epoch 3\n\
         sentinel monitor m 10.0.0.1 6379 2\nSentinel Config-Epoch m 5\n\
         sentinel leader-epoch m 4\nsentinel known-slave m 10.0.0.2 6379\n\
         sentinel known-replica m 10.0.0.3 6379\n\
         sentinel known-sentinel m 10.0.0.9 26379 {ID_B}\n\
         sentinel known-sentinel m 10.0.0.8 26379\n\
         sentinel rename-command m CONFIG cfg\n\
         sentinel master-reboot-down-after-period m 5000\n\
         sentinel announce-ip 1.2.3.4\nsentinel announce-port 1234\n\
         sentinel sentinel-user su\nsentinel sentinel-pass sp\nsentinel auth-user m bob\n\
         sentinel resolve-hostnames yes\nsentinel announce-hostnames yes\n\
         sentinel deny-scripts-reconfig no\n"
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.myid.as_deref(), Some(ID_A));
    // config-epoch raises the current epoch.
    assert_eq!(c.current_epoch, 5);
    let m = c.master("m").unwrap();
    assert_eq!(m.config_epoch, 5);
    assert_eq!(m.leader_epoch, 4);
    assert_eq!(
        m.known_replicas,
        vec![Addr::new("10.0.0.2", 6379), Addr::new("10.0.0.3", 6379)]
    );
    assert_eq!(
        m.known_sentinels,
        vec![KnownSentinel {
            addr: Addr::new("10.0.0.9", 26379),
            run_id: ID_B.into()
        }]
    );
    assert_eq!(
        m.renamed_commands,
        vec![("CONFIG".to_string(), "cfg".to_string())]
    );
    assert_eq!(m.master_reboot_down_after_ms, 5000);
    assert_eq!(m.auth_user.as_deref(), Some("bob"));
    assert_eq!(c.announce_ip.as_deref(), Some("1.2.3.4"));
    assert_eq!(c.announce_port, 1234);
    assert_eq!(c.sentinel_user.as_deref(), Some("su"));
    assert_eq!(c.sentinel_pass.as_deref(), Some("sp"));
    assert!(c.resolve_hostnames && c.announce_hostnames && !c.deny_scripts_reconfig);
}

#[test]
fn generic_directives_kept() {
    let text = "bind 127.0.0.1 -::1\nprotected-mode no\nlogfile \"/tmp/s.log\"\n\
                loglevel WARNING\npidfile /run/s.pid\nrequirepass pw\nacllog-max-len 7\n\
                user default on nopass ~* +@all\nmaxclients 100\n";
    let c = parse(text).unwrap();
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert!(!c.protected_mode);
    assert_eq!(c.logfile, "/tmp/s.log");
    assert_eq!(c.loglevel, "warning");
    assert_eq!(c.pidfile.as_deref(), Some("/run/s.pid"));
    assert_eq!(c.requirepass.as_deref(), Some("pw"));
    assert_eq!(c.acllog_max_len, 7);
    assert_eq!(
        c.users,
        vec![vec!["default", "on", "nopass", "~*", "+@all"]]
    );
    assert_eq!(c.other, vec![vec!["maxclients", "100"]]);
}

#[test]
fn duplicates_of_known_instances_are_tolerated() {
    let text = format!(
        "sentinel monitor m 10.0.0.1 6379 2\n\
         sentinel known-replica m 10.0.0.2 6379\nsentinel known-replica m 10.0.0.2 6379\n\
         sentinel known-slave m 10.0.0.2 6379\n\
         sentinel known-sentinel m 10.0.0.9 26379 {ID_B}\n\
         sentinel known-sentinel m 10.0.0.9 26379 {ID_B}\n"
    );
    let c = parse(&text).unwrap();
    let m = c.master("m").unwrap();
    assert_eq!(m.known_replicas.len(), 1);
    assert_eq!(m.known_sentinels.len(), 1);
    // The rewrite writes each once.
    let out = rewrite(&text, &c);
    assert_eq!(out.matches("known-replica").count(), 1);
    assert_eq!(out.matches("known-sentinel").count(), 1);
    assert!(!out.contains("known-slave"));
}

#[test]
fn per_master_directive_may_precede_monitor() {
    // Upstream 7.0 applies `monitor` lines before the other per-master
    // lines, so a rewritten file may list them in any order.
    let c = parse("sentinel down-after-milliseconds m 5000\nsentinel monitor m 10.0.0.1 6379 2\n")
        .unwrap();
    assert_eq!(c.master("m").unwrap().down_after_ms, 5000);
}

#[test]
fn error_cases() {
    let cases: &[(&str, usize, &str, &str)] = &[
        ("port 1\nsentinel down-after-milliseconds nope 10\n", 2, "sentinel down-after-milliseconds nope 10", "No such master with specified name."),
        ("sentinel monitor m 10.0.0.1 6379 0\n", 1, "sentinel monitor m 10.0.0.1 6379 0", "Quorum must be 1 or greater."),
        ("sentinel monitor m 10.0.0.1 6379 abc\n", 1, "sentinel monitor m 10.0.0.1 6379 abc", "Quorum must be 1 or greater."),
        ("\n\nsentinel bogus x\n", 3, "sentinel bogus x", "Unrecognized sentinel configuration statement."),
        ("sentinel monitor m 10.0.0.1 6379\n", 1, "sentinel monitor m 10.0.0.1 6379", "Unrecognized sentinel configuration statement."),
        ("sentinel monitor m 10.0.0.1 6379 1\nsentinel monitor m 10.0.0.2 6379 1\n", 2, "sentinel monitor m 10.0.0.2 6379 1", "Duplicated master name."),
        ("sentinel monitor m 10.0.0.1 99999 1\n", 1, "sentinel monitor m 10.0.0.1 99999 1", "Invalid port number."),
        ("sentinel monitor m some.host 6379 1\n", 1, "sentinel monitor m some.host 6379 1", "Can't resolve instance hostname."),
        ("sentinel monitor m 10.0.0.1 6379 1\nsentinel down-after-milliseconds m 0\n", 2, "sentinel down-after-milliseconds m 0", "negative or zero time parameter."),
        ("sentinel monitor m 10.0.0.1 6379 1\nsentinel failover-timeout m -5\n", 2, "sentinel failover-timeout m -5", "negative or zero time parameter."),
        ("sentinel monitor m 10.0.0.1 6379 1\nsentinel master-reboot-down-after-period m -1\n", 2, "sentinel master-reboot-down-after-period m -1", "negative time parameter."),
        ("sentinel myid abc\n", 1, "sentinel myid abc", "Malformed Sentinel id in myid option."),
        ("sentinel deny-scripts-reconfig maybe\n", 1, "sentinel deny-scripts-reconfig maybe", "Please specify yes or no for the deny-scripts-reconfig options."),
        ("sentinel resolve-hostnames 1\n", 1, "sentinel resolve-hostnames 1", "Please specify yes or no for the resolve-hostnames option."),
        ("sentinel announce-hostnames 1\n", 1, "sentinel announce-hostnames 1", "Please specify yes or no for the announce-hostnames option."),
        ("sentinel monitor m 10.0.0.1 6379 1\nsentinel rename-command m a b\nsentinel rename-command m A c\n", 3, "sentinel rename-command m A c", "Same command renamed multiple times with rename-command."),
        ("sentinel monitor m 10.0.0.1 6379 1\nsentinel notification-script m /nonexistent/script.sh\n", 2, "sentinel notification-script m /nonexistent/script.sh", "Notification script seems non existing or non executable."),
        ("sentinel monitor m 10.0.0.1 6379 1\nsentinel client-reconfig-script m /nonexistent\n", 2, "sentinel client-reconfig-script m /nonexistent", "Client reconfiguration script seems non existing or non executable."),
        ("port\n", 1, "port", "wrong number of arguments"),
        ("port abc\n", 1, "port abc", "argument couldn't be parsed into an integer"),
        ("port 70000\n", 1, "port 70000", "argument must be between 0 and 65535 inclusive"),
        ("daemonize maybe\n", 1, "daemonize maybe", "argument must be 'yes' or 'no'"),
        ("loglevel loud\n", 1, "loglevel loud", "argument(s) must be one of the following: debug, verbose, notice, warning"),
        ("  logfile \"unterminated  \n", 1, "logfile \"unterminated", "Unbalanced quotes in configuration line"),
    ];
    for (text, line, shown, reason) in cases {
        assert_eq!(
            parse(text),
            Err(err(*line, shown, reason)),
            "config: {text:?}"
        );
    }
}

#[test]
fn generic_errors_come_before_sentinel_errors() {
    let e = parse("sentinel bogus\nport x\n").unwrap_err();
    assert_eq!(e.line, 2);
}

#[test]
fn error_banner_matches_upstream() {
    let e = parse("sentinel monitor m 10.0.0.1 6379 0\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 1\n>>> 'sentinel monitor m 10.0.0.1 6379 0'\nQuorum must be 1 or greater."
    );
}

#[test]
fn scripts_checked_only_when_asked() {
    let text = "sentinel monitor m 10.0.0.1 6379 1\nsentinel notification-script m /nonexistent\n";
    let c = parse_with(text, &no_scripts()).unwrap();
    assert_eq!(
        c.master("m").unwrap().notification_script.as_deref(),
        Some("/nonexistent")
    );
    assert!(
        parse("sentinel monitor m 10.0.0.1 6379 1\nsentinel notification-script m /bin/sh\n")
            .is_ok()
    );
}

#[test]
fn rewrite_round_trip_and_fixed_point() {
    let mut state = parse(SEED_CONF).unwrap();
    state.myid = Some(ID_A.into());
    let m = state.master_mut("mymaster").unwrap();
    m.config_epoch = 2;
    m.add_known_replica(Addr::new("192.168.1.11", 6379));
    m.add_known_sentinel(KnownSentinel {
        addr: Addr::new("192.168.1.20", 26379),
        run_id: ID_B.into(),
    });
    state.current_epoch = 2;
    let once = rewrite(SEED_CONF, &state);
    assert_eq!(parse(&once).unwrap(), state);
    assert_eq!(rewrite(&once, &state), once);
    assert!(once.starts_with("# Sentinel for the seed cluster\nport 26379\n"));
    let tail = once.split(REWRITE_SIGNATURE).nth(1).unwrap();
    let expected = format!(
        "\nprotected-mode no\nsentinel myid {ID_A}\nsentinel config-epoch mymaster 2\nsentinel leader-epoch mymaster 0\n\
         sentinel known-replica mymaster 192.168.1.11 6379\n\
         sentinel known-sentinel mymaster 192.168.1.20 26379 {ID_B}\nsentinel current-epoch 2\n"
    );
    assert_eq!(tail, expected);
}

#[test]
fn rewrite_updates_in_place_and_drops_obsolete_lines() {
    let text = format!(
        "sentinel monitor m 10.0.0.1 6379 2\n# keep me\nsentinel down-after-milliseconds m 5000\n\
         sentinel known-replica m 10.0.0.2 6379\nsentinel known-replica m 10.0.0.3 6379\n\n\n\
         sentinel myid {ID_A}\nsentinel current-epoch 1\n"
    );
    let mut state = parse(&text).unwrap();
    let m = state.master_mut("m").unwrap();
    m.addr = Addr::new("10.0.0.2", 6379);
    m.down_after_ms = 30000;
    m.known_replicas = vec![Addr::new("10.0.0.1", 6379)];
    state.current_epoch = 4;
    let out = rewrite(&text, &state);
    // A sentinel's protected mode is off unless configured, which the
    // rewrite records as upstream does (`protected-mode no`, the server's
    // default being yes). The down-after line is dropped (default again), the first
    // known-replica line is reused, the second dropped, blank runs
    // collapse, and the epochs missing from the file are appended.
    let expected = format!(
        "sentinel monitor m 10.0.0.2 6379 2\n# keep me\n\nsentinel known-replica m 10.0.0.1 6379\n\n\
         sentinel myid {ID_A}\nsentinel current-epoch 4\n{REWRITE_SIGNATURE}\n\
         protected-mode no\nsentinel config-epoch m 0\nsentinel leader-epoch m 0\n"
    );
    assert_eq!(out, expected);
    assert_eq!(parse(&out).unwrap(), state);
}

#[test]
fn rewrite_quotes_values_that_need_it() {
    let mut state = parse("sentinel monitor m 10.0.0.1 6379 2\n").unwrap();
    state.master_mut("m").unwrap().auth_pass = Some("two words \"q\"".into());
    state.logfile = "/var/log/s.log".into();
    let out = rewrite("", &state);
    assert!(out.contains("sentinel auth-pass m \"two words \\\"q\\\"\"\n"));
    assert!(out.contains("logfile \"/var/log/s.log\"\n"));
    assert_eq!(parse(&out).unwrap(), state);
}

#[test]
fn write_atomically_replaces_file() {
    let dir = std::env::temp_dir().join(format!("redis-sentinel-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sentinel.conf");
    std::fs::write(&path, "old\n").unwrap();
    write_atomically(&path, "new\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    let leftovers = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(leftovers, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
