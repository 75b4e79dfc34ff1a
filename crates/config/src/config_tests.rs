//! Unit tests for loading, CONFIG GET/SET and REWRITE. Expected error texts
//! were captured from redis-server 7.0.15.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

fn tmpdir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "redis-config-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn file_with(text: &str) -> PathBuf {
    let p = tmpdir().join("redis.conf");
    std::fs::write(&p, text).unwrap();
    p
}

fn load_err(text: &str, cli: &[&str]) -> String {
    let p = file_with(text);
    let cli: Vec<String> = cli.iter().map(|s| s.to_string()).collect();
    Config::load(Some(&p), &cli).unwrap_err().to_string()
}

fn banner(line: usize, text: &str, msg: &str) -> String {
    format!("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{msg}")
}

fn pairs(kv: &[&str]) -> Vec<(Vec<u8>, Vec<u8>)> {
    kv.chunks(2)
        .map(|c| (c[0].as_bytes().to_vec(), c[1].as_bytes().to_vec()))
        .collect()
}

fn get1(c: &Config, name: &str) -> String {
    c.get_value(name).unwrap()
}

#[test]
fn fatal_errors_match_upstream() {
    assert_eq!(
        load_err("port 0\nfoo bar\n", &[]),
        banner(2, "foo bar", "Bad directive or wrong number of arguments")
    );
    assert_eq!(
        load_err("\n\nmaxmemory abc\n", &[]),
        banner(3, "maxmemory abc", "argument must be a memory value")
    );
    assert_eq!(
        load_err("databases 0\n", &[]),
        banner(
            1,
            "databases 0",
            "argument must be between 1 and 2147483647 inclusive"
        )
    );
    assert_eq!(
        load_err("loglevel loud\n", &[]),
        banner(
            1,
            "loglevel loud",
            "argument(s) must be one of the following: debug, verbose, notice, warning"
        )
    );
    assert_eq!(
        load_err("daemonize maybe\n", &[]),
        banner(1, "daemonize maybe", "argument must be 'yes' or 'no'")
    );
    assert_eq!(
        load_err("port 1 2\n", &[]),
        banner(1, "port 1 2", "wrong number of arguments")
    );
    assert_eq!(
        load_err("port \"1\n", &[]),
        banner(1, "port \"1", "Unbalanced quotes in configuration line")
    );
    assert_eq!(
        load_err("save abc 1\n", &[]),
        banner(1, "save abc 1", "Invalid save parameters")
    );
    assert_eq!(
        load_err("rename-command foo\n", &[]),
        banner(
            1,
            "rename-command foo",
            "Bad directive or wrong number of arguments"
        )
    );
    assert_eq!(
        load_err("client-output-buffer-limit foo 1 2 3\n", &[]),
        banner(
            1,
            "client-output-buffer-limit foo 1 2 3",
            "Invalid client class specified in buffer limit configuration."
        )
    );
    assert_eq!(
        load_err("notify-keyspace-events Q\n", &[]),
        banner(
            1,
            "notify-keyspace-events Q",
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        )
    );
    assert_eq!(
        load_err("dir /nonexistent/dir\n", &[]),
        banner(1, "dir /nonexistent/dir", "No such file or directory")
    );
    assert_eq!(
        load_err("maxmemory-clients 101%\n", &[]),
        banner(
            1,
            "maxmemory-clients 101%",
            "percentage argument must be less or equal to 100"
        )
    );
    assert_eq!(
        load_err("oom-score-adj-values 1 2\n", &[]),
        banner(1, "oom-score-adj-values 1 2", "wrong number of arguments")
    );
    assert_eq!(
        load_err("oom-score-adj-values 1 2 3000\n", &[]),
        banner(
            1,
            "oom-score-adj-values 1 2 3000",
            "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
        )
    );
    assert_eq!(
        load_err("replicaof a\n", &[]),
        banner(1, "replicaof a", "wrong number of arguments")
    );
    assert_eq!(
        load_err("replicaof a b\n", &[]),
        banner(1, "replicaof a b", "Invalid master port")
    );
    assert_eq!(
        load_err("requirepass a b\n", &[]),
        banner(1, "requirepass a b", "wrong number of arguments")
    );
    assert_eq!(
        load_err("notify-keyspace-events\n", &[]),
        banner(1, "notify-keyspace-events", "wrong number of arguments")
    );
    assert_eq!(
        load_err("unixsocketperm 800\n", &[]),
        banner(
            1,
            "unixsocketperm 800",
            "argument couldn't be parsed as an octal number"
        )
    );
    assert_eq!(
        load_err("sentinel monitor a 1.1.1.1 1 1\n", &[]),
        banner(
            1,
            "sentinel monitor a 1.1.1.1 1 1",
            "sentinel directive while not in sentinel mode"
        )
    );
    assert_eq!(
        load_err("proc-title-template \"{xx}\"\n", &[]),
        banner(
            1,
            "proc-title-template \"{xx}\"",
            "template format is invalid or contains unknown variables"
        )
    );
    assert_eq!(
        load_err("latency-tracking-info-percentiles 101\n", &[]),
        banner(
            1,
            "latency-tracking-info-percentiles 101",
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
        )
    );
    assert_eq!(
        load_err("include /nonexistent/x.conf\n", &[]),
        "Fatal error, can't open config file '/nonexistent/x.conf': No such file or directory"
    );
    // Leading/trailing blanks are trimmed in the echoed line.
    assert_eq!(
        load_err("   foo   \n", &[]),
        banner(1, "foo", "Bad directive or wrong number of arguments")
    );
}

#[test]
fn command_line_options_are_extra_lines() {
    let cli = |a: &[&str]| -> Vec<String> { a.iter().map(|s| s.to_string()).collect() };
    let e = Config::load(None, &cli(&["--port", "abc"]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        banner(
            2,
            "port \"abc\"",
            "argument couldn't be parsed into an integer"
        )
    );
    let e = Config::load(
        None,
        &cli(&["--save", "60 1", "--port", "0", "--maxmemory", "1 2"]),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        banner(4, "maxmemory \"1 2\"", "argument must be a memory value")
    );
    let e = Config::load(None, &cli(&["--foo"]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        banner(2, "foo", "Bad directive or wrong number of arguments")
    );
    assert_eq!(
        load_err("port 0\n", &["--daemonize", "no", "--port"]),
        banner(4, "port", "wrong number of arguments")
    );
    assert_eq!(
        load_err("port 0\n", &["--appendonly", "yes", "port", "0"]),
        banner(
            3,
            "appendonly \"yes\" \"port\" \"0\"",
            "wrong number of arguments"
        )
    );
    assert_eq!(
        load_err("port 0\n", &["--port", "0", "--", "x"]),
        banner(4, "\"x\"", "Bad directive or wrong number of arguments")
    );
    assert_eq!(
        Config::load(None, &cli(&["--port", "0", "--save", "", "x"]))
            .unwrap_err()
            .to_string(),
        banner(3, "save \"\" \"x\"", "Invalid save parameters")
    );
    // A bare --save means `save ""`.
    let c = Config::load(None, &cli(&["--port", "7000", "--save"])).unwrap();
    assert!(c.save_points().is_empty());
    assert_eq!(c.get_int("port"), 7000);
    let c = Config::load(None, &cli(&["--save", "--port", "7001", "--bind", "a\"b"])).unwrap();
    assert!(c.save_points().is_empty());
    assert_eq!(c.bind_addrs(), vec!["a\"b".to_string()]);
    assert!(c.config_file().is_none());
}

#[test]
fn load_semantics() {
    let dir = tmpdir();
    let inc = dir.join("inc.conf");
    std::fs::write(&inc, "hz 20\nsave 900 1\n").unwrap();
    let text = format!(
        "# comment\n   PORT    7002  \n\tsave 100 1\nsave 200 2 300 3\ninclude {}\nbind 127.0.0.1\nbind 127.0.0.1 -::1\n\
         client-output-buffer-limit normal 1 2 3\nclient-output-buffer-limit pubsub 4mb 5 6\nslaveof 127.0.0.1 7000\n\
         unixsocketperm 700\nSLAVE-READ-ONLY no\nhash-max-ziplist-entries 7\nrename-command flushall \"\"\nmaxmemory-clients 5%\n\
         maxmemory 1gb\nmaxmemory-policy ALLKEYS-LRU\nlist-max-ziplist-entries 5\nrequirepass \"a b\"\noom-score-adj relative\n\
         user default on nopass ~* +@all\nloadmodule /x.so arg\nnotify-keyspace-events KEA\n",
        inc.display()
    );
    let p = dir.join("main.conf");
    std::fs::write(&p, text).unwrap();
    let c = Config::load(Some(&p), &[]).unwrap();
    assert_eq!(c.get_int("port"), 7002);
    assert_eq!(c.get_int("hz"), 20);
    assert_eq!(
        c.save_points(),
        vec![(100, 1), (200, 2), (300, 3), (900, 1)]
    );
    assert_eq!(get1(&c, "save"), "100 1 200 2 300 3 900 1");
    assert_eq!(c.bind_addrs(), vec!["127.0.0.1", "-::1"]);
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 1 2 3 slave 268435456 67108864 60 pubsub 4194304 5 6"
    );
    assert_eq!(
        c.client_output_buffer_limits()[2],
        BufferLimit {
            hard: 4 << 20,
            soft: 5,
            soft_seconds: 6
        }
    );
    assert_eq!(c.replica_of(), Some(("127.0.0.1".to_string(), 7000)));
    assert_eq!(get1(&c, "slaveof"), "127.0.0.1 7000");
    assert_eq!(get1(&c, "unixsocketperm"), "700");
    assert_eq!(c.get_int("unixsocketperm"), 0o700);
    assert!(!c.get_bool("replica-read-only"));
    assert_eq!(c.get_int("hash-max-listpack-entries"), 7);
    assert_eq!(
        c.rename_commands(),
        vec![("flushall".to_string(), String::new())]
    );
    assert_eq!(get1(&c, "maxmemory-clients"), "5%");
    assert_eq!(c.maxmemory_clients(), Err(5));
    assert_eq!(c.get_u64("maxmemory"), 1 << 30);
    assert_eq!(get1(&c, "maxmemory"), "1073741824");
    assert_eq!(c.get_enum("maxmemory-policy"), "allkeys-lru");
    assert_eq!(c.get_str("requirepass"), "a b");
    assert_eq!(c.get_enum("oom-score-adj"), "yes");
    assert_eq!(
        c.extra_directives("user"),
        vec![vec!["default", "on", "nopass", "~*", "+@all"]]
    );
    assert_eq!(c.extra_directives("loadmodule"), vec![vec!["/x.so", "arg"]]);
    assert_eq!(get1(&c, "notify-keyspace-events"), "AKE");
    assert_eq!(
        c.notify_keyspace_events(),
        notify::ALL | notify::KEYSPACE | notify::KEYEVENT
    );
    assert_eq!(c.config_file(), Some(p.as_path()));
    // `save ""` clears, even after earlier lines.
    let p2 = file_with("save 1 1\nsave \"\"\n");
    assert!(Config::load(Some(&p2), &[])
        .unwrap()
        .save_points()
        .is_empty());
    // Include cycles are refused instead of recursing forever.
    let d = tmpdir();
    let a = d.join("a.conf");
    std::fs::write(&a, format!("include {}\n", a.display())).unwrap();
    assert!(Config::load(Some(&a), &[]).is_err());
    // Sentinel directives are kept in sentinel mode.
    let s = file_with("sentinel monitor m 127.0.0.1 6380 2\n");
    let c = Config::load_with(
        Some(&s),
        &[],
        &LoadOptions {
            version: "7.0.15".into(),
            sentinel: true,
            commands: None,
            user_check: None,
        },
    )
    .unwrap();
    assert_eq!(c.extra_directives("sentinel").len(), 1);
    // The version in the banner is a parameter.
    let b = file_with("nope\n");
    let e = Config::load_with(
        Some(&b),
        &[],
        &LoadOptions {
            version: "9.9.9".into(),
            sentinel: false,
            commands: None,
            user_check: None,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("(Redis 9.9.9)"));
    assert_eq!(
        Config::load(Some(Path::new("/nonexistent.conf")), &[])
            .unwrap_err()
            .to_string(),
        "Fatal error, can't open config file '/nonexistent.conf': No such file or directory"
    );
}

#[test]
fn config_get_semantics() {
    let c = Config::default();
    let g = |pats: &[&str]| -> Vec<(String, String)> {
        let p: Vec<&[u8]> = pats.iter().map(|s| s.as_bytes()).collect();
        let mut v = c.get(&p);
        v.sort();
        v
    };
    let kv = |a: &[(&str, &str)]| -> Vec<(String, String)> {
        a.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(g(&["MaxMemory"]), kv(&[("MaxMemory", "0")]));
    assert_eq!(g(&["maxmemory", "MaxMemory"]), kv(&[("maxmemory", "0")]));
    assert_eq!(
        g(&["slaveof", "replicaof"]),
        kv(&[("replicaof", ""), ("slaveof", "")])
    );
    assert_eq!(g(&["MAXMEM*", "maxmemory"]).len(), 5);
    assert_eq!(g(&["*of"]), kv(&[("replicaof", ""), ("slaveof", "")]));
    assert_eq!(g(&["nosuch"]), kv(&[]));
    // Hidden parameters: exact names only.
    assert_eq!(g(&["key-load-delay"]), kv(&[("key-load-delay", "0")]));
    assert!(g(&["*delay*"]).iter().all(|(k, _)| k != "key-load-delay"));
    assert_eq!(g(&["hash-max-*"]).len(), 4);
    assert_eq!(g(&["save"]), kv(&[("save", "3600 1 300 100 60 10000")]));
    assert_eq!(g(&["bind"]), kv(&[("bind", "* -::*")]));
    assert_eq!(g(&["*"]).len(), 192);
}

#[test]
fn config_set_errors_match_upstream() {
    let mut c = Config::default();
    let err = |c: &mut Config, kv: &[&str]| c.set(&pairs(kv)).unwrap_err();
    assert_eq!(
        err(&mut c, &["foo", "bar"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        err(&mut c, &["maxmemory", "abc"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
    );
    assert_eq!(
        err(&mut c, &["maxmemory", "10", "MAXMEMORY", "20"]),
        "ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter"
    );
    assert_eq!(
        err(&mut c, &["maxmemory", "abc", "daemonize", "yes"]),
        "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
    );
    assert_eq!(
        err(&mut c, &["maxmemory", "abc", "foo", "bar"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        err(&mut c, &["dir", "/tmp"]),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        err(&mut c, &["enable-debug-command", "yes"]),
        "ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config"
    );
    assert_eq!(
        err(&mut c, &["slaveof", "a 1"]),
        "ERR CONFIG SET failed (possibly related to argument 'slaveof') - can't set immutable config"
    );
    assert_eq!(
        err(&mut c, &["hz", "010"]),
        "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        err(&mut c, &["port", "-99999999999999999"]),
        "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive"
    );
    assert_eq!(
        err(&mut c, &["client-query-buffer-limit", "1k"]),
        "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive"
    );
    assert_eq!(
        err(&mut c, &["appendfsync", "sometimes"]),
        "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no"
    );
    assert_eq!(
        err(&mut c, &["save", "10 20 30"]),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(
        err(&mut c, &["save", "0 1"]),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(
        err(&mut c, &["save", "1 1 1 1", "save", "2 2"]),
        "ERR CONFIG SET failed (possibly related to argument 'save') - duplicate parameter"
    );
    assert_eq!(
        err(&mut c, &["maxmemory-clients", "9223372036854775808"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"
    );
    assert_eq!(
        err(&mut c, &["client-output-buffer-limit", "normal 0 0 -1"]),
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration."
    );
    assert_eq!(
        err(&mut c, &["latency-tracking-info-percentiles", "abc"]),
        "ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - Invalid latency-tracking-info-percentiles parameters"
    );
    assert_eq!(
        err(&mut c, &["proc-title-template", "{title}"]),
        "ERR CONFIG SET failed (possibly related to argument 'proc-title-template') - template format is invalid or contains unknown variables"
    );
    // Atomic: a failing pair leaves every value untouched.
    assert!(c
        .set(&pairs(&["maxmemory", "10mb", "port", "abc"]))
        .is_err());
    assert_eq!(get1(&c, "maxmemory"), "0");
}

#[test]
fn config_set_values() {
    let mut c = Config::default();
    let changed = c
        .set(&pairs(&[
            "MAXMEMORY",
            "1GB",
            "hz",
            "11",
            "slave-read-only",
            "no",
            "replica-read-only",
            "no",
        ]))
        .unwrap();
    assert_eq!(changed, vec!["maxmemory", "hz", "replica-read-only"]);
    assert_eq!(get1(&c, "maxmemory"), "1073741824");
    assert_eq!(c.set(&pairs(&["hz", "11"])).unwrap(), Vec::<&str>::new());
    c.set(&pairs(&["save", "10 20 30 40"])).unwrap();
    assert_eq!(get1(&c, "save"), "10 20 30 40");
    c.set(&pairs(&["save", ""])).unwrap();
    assert_eq!(get1(&c, "save"), "");
    c.set(&pairs(&["save", "+5 1 010 0"])).unwrap();
    assert_eq!(c.save_points(), vec![(5, 1), (10, 0)]);
    c.set(&pairs(&["maxmemory-clients", "10%"])).unwrap();
    assert_eq!(get1(&c, "maxmemory-clients"), "10%");
    c.set(&pairs(&[
        "maxmemory-policy",
        "ALLKEYS-LRU",
        "appendonly",
        "YES",
    ]))
    .unwrap();
    assert_eq!(get1(&c, "maxmemory-policy"), "allkeys-lru");
    assert_eq!(get1(&c, "appendonly"), "yes");
    c.set(&pairs(&["client-output-buffer-limit", "normal 1 2 3"]))
        .unwrap();
    c.set(&pairs(&["client-output-buffer-limit", "replica 1mb 2 3"]))
        .unwrap();
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 1 2 3 slave 1048576 2 3 pubsub 33554432 8388608 60"
    );
    c.set(&pairs(&["notify-keyspace-events", "Kx"])).unwrap();
    assert_eq!(get1(&c, "notify-keyspace-events"), "xK");
    c.set(&pairs(&[
        "oom-score-adj-values",
        "+1 02 3",
        "oom-score-adj",
        "relative",
    ]))
    .unwrap();
    assert_eq!(get1(&c, "oom-score-adj-values"), "1 2 3");
    assert_eq!(get1(&c, "oom-score-adj"), "yes");
    c.set(&pairs(&["latency-tracking-info-percentiles", "1e1 .5"]))
        .unwrap();
    assert_eq!(get1(&c, "latency-tracking-info-percentiles"), "10 0.5");
    c.set(&pairs(&["list-max-ziplist-size", "5"])).unwrap();
    assert_eq!(get1(&c, "list-max-listpack-size"), "5");
    c.set(&pairs(&["maxmemory", "18446744073709551615"]))
        .unwrap();
    assert_eq!(get1(&c, "maxmemory"), "18446744073709551615");
    // Protected parameters become settable when enabled.
    let mut p = Config::load(
        None,
        &[
            "--enable-protected-configs".to_string(),
            "local".to_string(),
        ],
    )
    .unwrap();
    assert!(p.set(&pairs(&["dbfilename", "x.rdb"])).is_err());
    assert!(p
        .set_from(&pairs(&["dbfilename", "x.rdb"]), true, false)
        .is_ok());
    assert_eq!(p.get_str("dbfilename"), "x.rdb");
    // While loading, `dir` and `appendonly` are refused with -LOADING
    // (after the protected check), other parameters are not.
    let loading = |p: &mut Config, kv: &[&str]| p.set_from(&pairs(kv), true, true);
    assert_eq!(
        loading(&mut p, &["dir", "/tmp"]).unwrap_err(),
        "LOADING Redis is loading the dataset in memory"
    );
    assert_eq!(
        loading(&mut p, &["loglevel", "debug", "appendonly", "yes"]).unwrap_err(),
        "LOADING Redis is loading the dataset in memory"
    );
    assert_eq!(p.get_enum("loglevel"), "notice");
    assert!(loading(&mut p, &["loglevel", "debug"]).is_ok());
    assert!(p
        .set_from(&pairs(&["dir", "/tmp"]), false, true)
        .unwrap_err()
        .contains("can't set protected config"));
}

#[test]
fn rewrite_keeps_layout() {
    let dir = tmpdir();
    let p = dir.join("r.conf");
    std::fs::write(
        &p,
        "port 27319\n# c1\n\nsave 100 1\nsave 200 2 300 3\n\nbind 127.0.0.1\nbind 127.0.0.1 ::1\nslaveof 127.0.0.1 1\n\
         SLAVE-READ-ONLY no\nhash-max-ziplist-entries 7\nrename-command flushall \"\"\nmaxmemory 1000\nhz 10\n",
    )
    .unwrap();
    let mut c = Config::load(Some(&p), &[]).unwrap();
    c.set(&pairs(&[
        "save",
        "5 5",
        "replica-read-only",
        "yes",
        "maxmemory",
        "2gb",
        "dbfilename",
        "x",
    ]))
    .unwrap_err(); // dbfilename is protected: nothing changes
    c.set(&pairs(&[
        "save",
        "5 5",
        "replica-read-only",
        "yes",
        "maxmemory",
        "2gb",
        "appendonly",
        "yes",
        "requirepass",
        "p\"w",
    ]))
    .unwrap();
    c.rewrite(&p).unwrap();
    let cwd = std::env::current_dir().unwrap();
    let want = format!(
        "port 27319\n# c1\n\nsave 5 5\n\nbind 127.0.0.1 ::1\n\nreplicaof 127.0.0.1 1\nreplica-read-only yes\n\
         hash-max-listpack-entries 7\nrename-command flushall \"\"\nmaxmemory 2gb\nhz 10\n\n{REWRITE_SIGNATURE}\n\
         appendonly yes\nlatency-tracking-info-percentiles 50 99 99.9\nrequirepass \"p\\\"w\"\ndir \"{}\"\n",
        cwd.display()
    );
    assert_eq!(std::fs::read_to_string(&p).unwrap(), want);
    // The rewritten file loads back to the same values, and a second
    // rewrite is stable.
    let again = Config::load(Some(&p), &[]).unwrap();
    assert_eq!(again.get(&[b"*"]), c.get(&[b"*"]));
    again.rewrite(&p).unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), want);
    // Without a config file.
    assert_eq!(
        Config::default()
            .rewrite_config_file(UserLines::Keep)
            .unwrap_err(),
        "ERR The server is running without a config file"
    );
    assert!(again.rewrite_config_file(UserLines::Keep).is_ok());
}

#[test]
fn rewrite_replaces_user_lines_in_order_and_appends_the_rest() {
    let dir = tmpdir();
    let p = dir.join("u.conf");
    let text = "user a on\n# c\nuser b off\nport 27320\nuser c on\n";
    std::fs::write(&p, text).unwrap();
    let c = Config::load(Some(&p), &[]).unwrap();
    let users = ["user a off".to_string(), "user d on".to_string()];
    c.rewrite_config_file(UserLines::Replace(&users)).unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        format!(
            "user a off\n# c\nuser d on\nport 27320\n\n{REWRITE_SIGNATURE}\nsave 3600 1\nsave 300 100\nsave 60 10000\nlatency-tracking-info-percentiles 50 99 99.9\ndir \"{}\"\n",
            cwd.display()
        )
    );
    let more = [
        "user a on".to_string(),
        "user b on".to_string(),
        "user x on".to_string(),
    ];
    c.rewrite_config_file(UserLines::Replace(&more)).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("user a on\n# c\nuser b on\n"), "{text}");
    assert!(
        text.ends_with(&format!("dir \"{}\"\nuser x on\n", cwd.display())),
        "{text}"
    );
    c.rewrite_config_file(UserLines::Drop).unwrap();
    assert!(!std::fs::read_to_string(&p).unwrap().contains("user "));
}

#[test]
fn user_lines_are_checked_while_the_file_is_read() {
    fn check(argv: &[String]) -> Result<(), (usize, String)> {
        if argv.iter().any(|a| a == "bad") {
            Err((0, "Syntax error".to_string()))
        } else {
            Ok(())
        }
    }
    let opts = LoadOptions {
        user_check: Some(check),
        ..LoadOptions::default()
    };
    let load = |text: &str| Config::load_with(Some(&file_with(text)), &[], &opts);
    assert!(load("user a on\nuser b on\n").is_ok());
    assert_eq!(
        load("port 1\nuser a on bad\n").unwrap_err().to_string(),
        banner(
            2,
            "user a on bad",
            "Error in user declaration 'user': Syntax error"
        )
    );
    assert_eq!(
        load("user a on\nuser a off\n").unwrap_err().to_string(),
        banner(
            2,
            "user a off",
            "Error in user declaration 'a': Duplicate user found. A user can only be defined once in config files"
        )
    );
}

#[test]
fn rewrite_special_values() {
    let dir = tmpdir();
    let p = dir.join("s.conf");
    let mut c = Config::default();
    c.set(&pairs(&[
        "client-output-buffer-limit",
        "pubsub 4mb 5 6",
        "notify-keyspace-events",
        "Ex",
        "save",
        "",
        "maxmemory-clients",
        "3%",
        "oom-score-adj-values",
        "1 2 3",
    ]))
    .unwrap();
    c.set_replica_of(Some(("10.0.0.1".into(), 6380)));
    c.rewrite(&p).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    for l in [
        "client-output-buffer-limit pubsub 4mb 5 6",
        "notify-keyspace-events \"xE\"",
        "save \"\"",
        "maxmemory-clients 3%",
        "oom-score-adj-values 1 2 3",
        "replicaof 10.0.0.1 6380",
    ] {
        assert!(text.lines().any(|x| x == l), "{l} missing in\n{text}");
    }
    let back = Config::load(Some(&p), &[]).unwrap();
    assert_eq!(back.get(&[b"*"]), c.get(&[b"*"]));
}

#[test]
fn every_default_round_trips_through_set() {
    // Each mutable parameter accepts its own CONFIG GET output.
    let c = Config::default();
    for (name, val) in c.get(&[b"*"]) {
        let def = &TABLE[lookup(&name).unwrap()];
        if def.is(IMMUTABLE) || def.is(PROTECTED) {
            continue;
        }
        let mut d = Config::default();
        d.set(&pairs(&[&name, &val]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(get1(&d, &name), val);
    }
}

#[test]
fn table_is_consistent() {
    for (i, d) in TABLE.iter().enumerate() {
        assert_eq!(lookup(d.name), Some(i));
        for a in d.aliases {
            assert_eq!(lookup(a), Some(i));
        }
    }
    assert!(TABLE.len() >= 170);
}

#[test]
fn reference_edge_cases() {
    // Each expectation was checked against redis-server 7.0.15.
    let mut c = Config::default();
    c.set(&pairs(&["hz", "0"])).unwrap();
    assert_eq!(get1(&c, "hz"), "1");
    c.set(&pairs(&["hz", "501"])).unwrap();
    assert_eq!(get1(&c, "hz"), "500");
    c.set(&pairs(&["client-output-buffer-limit", ""])).unwrap();
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        Config::default()
            .get_value("client-output-buffer-limit")
            .unwrap()
    );
    c.set(&pairs(&["maxmemory", "18446744073709551616"]))
        .unwrap();
    assert_eq!(get1(&c, "maxmemory"), "18446744073709551615");
    assert_eq!(
        load_err("client-output-buffer-limit \"\"\n", &[]),
        banner(
            1,
            "client-output-buffer-limit \"\"",
            "Wrong number of arguments in buffer limit configuration."
        )
    );
    assert_eq!(
        load_err("latency-tracking-info-percentiles nan\n", &[]),
        banner(
            1,
            "latency-tracking-info-percentiles nan",
            "Invalid latency-tracking-info-percentiles parameters"
        )
    );
    assert_eq!(
        load_err("unixsocketperm -1\n", &[]),
        banner(
            1,
            "unixsocketperm -1",
            "argument must be between 0 and 777 inclusive"
        )
    );
    assert_eq!(
        load_err("proc-title-template \"{title} \"\n", &[]),
        banner(
            1,
            "proc-title-template \"{title} \"",
            "template format is invalid or contains unknown variables"
        )
    );
    let ok = |text: &str, cli: &[&str]| -> Config {
        let cli: Vec<String> = cli.iter().map(|s| s.to_string()).collect();
        Config::load(Some(&file_with(text)), &cli).unwrap()
    };
    assert_eq!(
        ok("proc-title-template \"title}\"\nsentinel\n", &[]).get_str("proc-title-template"),
        "title}"
    );
    let c = ok(
        "",
        &[
            "--replicaof",
            "127.0.0.1 1",
            "--bind",
            "127.0.0.1 -::1",
            "--save",
            "60 1",
        ],
    );
    assert_eq!(c.replica_of(), Some(("127.0.0.1".to_string(), 1)));
    assert_eq!(c.bind_addrs(), vec!["127.0.0.1", "-::1"]);
    assert_eq!(c.save_points(), vec![(60, 1)]);
    assert!(ok("bind \"\"\n", &[]).bind_addrs().is_empty());
    assert_eq!(ok("hz 0\n", &[]).get_int("hz"), 1);
    assert_eq!(
        ok("maxmemory 99999999999999999999\n", &[]).get_u64("maxmemory"),
        u64::MAX
    );
}

#[test]
fn rename_command_is_checked_against_the_renamed_table() {
    let opts = LoadOptions {
        commands: Some(vec!["get".into(), "set".into(), "config".into()]),
        ..LoadOptions::default()
    };
    let load = |text: &str, cli: &[&str]| {
        let p = file_with(text);
        let cli: Vec<String> = cli.iter().map(|s| s.to_string()).collect();
        Config::load_with(Some(&p), &cli, &opts)
    };
    let err = |text: &str| load(text, &[]).unwrap_err().to_string();
    assert_eq!(
        err("port 1\nrename-command nosuch foo\n"),
        banner(
            2,
            "rename-command nosuch foo",
            "No such command in rename-command"
        )
    );
    assert_eq!(
        err("rename-command get SET\n"),
        banner(
            1,
            "rename-command get SET",
            "Target command name already exists"
        )
    );
    // A removed or renamed command is gone under its old name.
    assert_eq!(
        err("rename-command get \"\"\nrename-command GET x\n"),
        banner(
            2,
            "rename-command GET x",
            "No such command in rename-command"
        )
    );
    // Subcommands cannot be renamed (upstream asserts on them).
    assert_eq!(
        err("rename-command config|get x\n"),
        banner(
            1,
            "rename-command config|get x",
            "No such command in rename-command"
        )
    );
    // Chains, renaming to itself, and case-insensitive names are fine; the
    // pairs are kept in order for the server.
    let c = load(
        "rename-command get GET2\nrename-command get2 x\nrename-command set set\n",
        &["--rename-command", "CONFIG", ""],
    )
    .unwrap();
    assert_eq!(
        c.rename_commands(),
        vec![
            ("get".to_string(), "GET2".to_string()),
            ("get2".to_string(), "x".to_string()),
            ("set".to_string(), "set".to_string()),
            ("CONFIG".to_string(), String::new()),
        ]
    );
    // The command line is checked too, after the file.
    let e = load(
        "rename-command get \"\"\n",
        &["--rename-command", "get", "y"],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        banner(
            3,
            "rename-command \"get\" \"y\"",
            "No such command in rename-command"
        )
    );
}

#[test]
fn proc_title_expands_like_upstream() {
    let mut c = Config::default();
    c.set(&pairs(&["port", "7001"])).unwrap();
    // The default template: title, first bind address and port; the empty
    // server mode leaves a trailing space that is trimmed.
    assert_eq!(
        c.proc_title("/usr/bin/redis-server", ""),
        "/usr/bin/redis-server *:7001"
    );
    c.set(&pairs(&["bind", "127.0.0.1 -::1"])).unwrap();
    assert_eq!(
        c.proc_title("redis-server", ""),
        "redis-server 127.0.0.1:7001"
    );
    c.set(&pairs(&[
        "proc-title-template",
        "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file}",
    ]))
    .unwrap();
    assert_eq!(
        c.proc_title("src/redis-server", "/etc/redis.conf"),
        "TEST src/redis-server 127.0.0.1:7001 7001 0  /etc/redis.conf"
    );
    c.set(&pairs(&["proc-title-template", "x{port}y title}"]))
        .unwrap();
    assert_eq!(c.proc_title("t", ""), "x7001y title}");
}
