//! Reading what the reference server (Redis 7.0) writes: its manifests
//! round-trip through our parser and writer, its incr files decode into
//! the commands we sent and re-encode to the same bytes (including the
//! SELECTs our `Feeder` inserts), RDB-preamble and RESP base files after
//! BGREWRITEAOF, and `#TS:` annotations. The reference is required: the
//! test fails when `/usr/bin/redis-server` is missing.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis_aof::command::write_command;
use redis_aof::reader::file_has_rdb_preamble;
use redis_aof::{AofDir, AofReader, Command, End, Event, Feeder, FileType, Manifest};
use redis_testkit::{ServerKind, TestServer};

fn read_all(path: &Path) -> (Vec<Command>, Option<i64>) {
    let f = std::fs::File::open(path).unwrap();
    let mut r = AofReader::new(f);
    let mut cmds = Vec::new();
    loop {
        match r.next_event() {
            Event::Command(c) => cmds.push(c),
            Event::End(End::Clean) => break,
            Event::End(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    (cmds, r.last_timestamp())
}

fn names(cmds: &[Command]) -> Vec<String> {
    cmds.iter()
        .map(|c| {
            c.argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn wait_manifest(dir: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
            .unwrap_or_default();
        if m.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "manifest never got {needle:?}: {m}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reference_directories() {
    let srv = TestServer::start(ServerKind::Reference, &["--appendonly", "yes"]);
    let dir = srv.dir().to_path_buf();
    let mut c = srv.conn();
    // (db, argv) of what the server propagates, to feed our encoder.
    let mut expect: Vec<(u32, Vec<&str>)> = Vec::new();
    c.cmd(&["SET", "a", "1"]);
    expect.push((0, vec!["SET", "a", "1"]));
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["RPUSH", "l", "x", "", "z z"]);
    expect.push((3, vec!["RPUSH", "l", "x", "", "z z"]));
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "n"]);
    c.cmd(&["INCR", "n"]);
    c.cmd(&["EXEC"]);
    // Two writes in a transaction are wrapped in multi/exec (one would
    // be propagated alone).
    expect.push((3, vec!["MULTI"]));
    expect.push((3, vec!["INCR", "n"]));
    expect.push((3, vec!["INCR", "n"]));
    expect.push((3, vec!["EXEC"]));
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["DEL", "a"]);
    expect.push((0, vec!["DEL", "a"]));

    let mut ad = AofDir::open(&dir, "appendonlydir", "appendonly.aof").unwrap();
    let base = ad.manifest.base.clone().unwrap();
    assert_eq!(base.file_name, "appendonly.aof.1.base.rdb");
    assert!(file_has_rdb_preamble(&ad.path_of(&base.file_name)).unwrap());
    assert_eq!(ad.manifest.incr.len(), 1);
    let incr = ad.manifest.incr[0].clone();
    assert_eq!((incr.file_seq, incr.file_type), (1, FileType::Incr));
    let raw_manifest = std::fs::read(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(ad.manifest.to_bytes(), raw_manifest);

    // The incr file: our Feeder produces the very same bytes.
    let incr_bytes = std::fs::read(ad.path_of(&incr.file_name)).unwrap();
    let mut feeder = Feeder::new(false);
    let mut ours = Vec::new();
    for (db, argv) in &expect {
        feeder.feed(&mut ours, *db, argv, 0);
    }
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&incr_bytes)
    );
    let (cmds, ts) = read_all(&ad.path_of(&incr.file_name));
    assert_eq!(ts, None);
    assert_eq!(names(&cmds)[1], "SET a 1");
    for c in &cmds {
        let mut enc = Vec::new();
        write_command(&mut enc, &c.argv);
        assert_eq!(&incr_bytes[c.offset as usize..c.end as usize], &enc[..]);
    }

    // Rewrite with the RDB preamble, then without.
    c.cmd(&["BGREWRITEAOF"]);
    wait_manifest(&dir, "seq 2 type b");
    c.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", "no"]);
    c.cmd(&["CONFIG", "SET", "aof-timestamp-enabled", "yes"]);
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["BGREWRITEAOF"]);
    wait_manifest(&dir, "seq 3 type b");
    c.cmd(&["SADD", "s", "m"]);
    ad = AofDir::open(&dir, "appendonlydir", "appendonly.aof").unwrap();
    let m = &ad.manifest;
    assert_eq!(
        m.base.as_ref().map(|b| b.file_name.as_str()),
        Some("appendonly.aof.3.base.aof")
    );
    assert!(m.history.is_empty());
    assert_eq!(m.incr.len(), 1);
    assert_eq!(m.incr[0].file_name, "appendonly.aof.3.incr.aof");
    let base_path = ad.path_of("appendonly.aof.3.base.aof");
    assert!(!file_has_rdb_preamble(&base_path).unwrap());
    let (base_cmds, base_ts) = read_all(&base_path);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let bts = base_ts.expect("a RESP base starts with #TS when timestamps are on");
    assert!((now - bts).abs() < 60);
    let bn = names(&base_cmds);
    assert!(bn.contains(&"SELECT 3".to_string()), "{bn:?}");
    assert!(bn.contains(&"RPUSH l x  z z".to_string()), "{bn:?}");
    assert!(bn.contains(&"SET n 2".to_string()), "{bn:?}");
    assert!(bn.contains(&"HMSET h f v".to_string()), "{bn:?}");
    // (An incr file only gets a #TS when the second changed since the
    // last annotation, so whether this one has one depends on timing.)
    let (incr_cmds, _) = read_all(&ad.path_of("appendonly.aof.3.incr.aof"));
    assert_eq!(names(&incr_cmds), vec!["SELECT 0", "SADD s m"]);
    drop(c);
    drop(srv);

    // Manifest round trip of what the reference wrote.
    let raw = std::fs::read(dir.join("appendonlydir/appendonly.aof.manifest"));
    if let Ok(raw) = raw {
        assert_eq!(Manifest::parse(&raw).unwrap().to_bytes(), raw);
    }
}

#[test]
fn dir_operations_match_reference_layout() {
    let root = std::env::temp_dir().join(format!("aof-dirops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let mut ad = AofDir::open(&root, "appendonlydir", "appendonly.aof").unwrap();
    // Start with an empty dataset: base 1 (written by the caller), incr 1.
    ad.create_dir().unwrap();
    let base = ad.manifest.new_base_file("appendonly.aof", true);
    std::fs::write(ad.path_of(&base), b"REDIS0010").unwrap();
    let (name, _f, size) = ad.open_incr_on_start().unwrap();
    assert_eq!((name.as_str(), size), ("appendonly.aof.1.incr.aof", 0));
    let text = std::fs::read_to_string(ad.dir.join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        text,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    // A rewrite: new incr first, then the new base; old files become
    // history and are deleted, like the reference's log shows.
    let (n2, _f2) = ad.open_new_incr().unwrap();
    assert_eq!(n2, "appendonly.aof.2.incr.aof");
    let tmp = ad.path_of(&redis_aof::manifest::temp_rewrite_name(7));
    std::fs::write(&tmp, b"REDIS0010").unwrap();
    let b2 = ad.install_rewritten_base(&tmp, true, true).unwrap();
    assert_eq!(b2, "appendonly.aof.2.base.rdb");
    let text = std::fs::read_to_string(ad.dir.join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        text,
        "file appendonly.aof.2.base.rdb seq 2 type b\n\
         file appendonly.aof.1.incr.aof seq 1 type h\n\
         file appendonly.aof.1.base.rdb seq 1 type h\n\
         file appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let removed = ad.delete_history().unwrap();
    assert_eq!(
        removed,
        vec!["appendonly.aof.1.incr.aof", "appendonly.aof.1.base.rdb"]
    );
    let mut left: Vec<String> = std::fs::read_dir(&ad.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    std::fs::remove_dir_all(&root).unwrap();
}
