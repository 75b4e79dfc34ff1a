//! Differential tests: our `redis-check-aof` against `/usr/bin/redis-check-aof`
//! (Redis 7.0) on the same inputs — AOF directories written by the
//! reference server (with and without RDB preamble, with timestamps, after
//! BGREWRITEAOF), truncated and bit-flipped files at every offset, broken
//! manifests, `--fix` answered yes and no, `--truncate-to-timestamp`.
//! Stdout, exit status and the resulting file bytes must be identical.
//! The tests fail (never skip) when the reference tools are missing.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use redis_testkit::{require_tool, run_bounded_with_input, ServerKind, TempDir, TestServer};

const REFERENCE_TOOL: &str = "/usr/bin/redis-check-aof";

fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_redis-check-aof"))
}

fn reference() -> PathBuf {
    require_tool(
        REFERENCE_TOOL,
        "install redis-tools (the reference is required)",
    )
}

/// Named file contents making up one test input.
type Files<'a> = Vec<(&'a str, Vec<u8>)>;

/// Upstream log lines carry a pid and a timestamp: keep only the message.
fn normalize(out: &[u8]) -> Vec<u8> {
    let mut res = Vec::new();
    for line in out.split_inclusive(|&c| c == b'\n') {
        let is_log = line.windows(3).position(|w| w == b":C ").is_some_and(|p| {
            line[..p].iter().all(|c| c.is_ascii_digit()) && p > 0 && line.len() > p + 27
        });
        if is_log {
            let p = line.windows(3).position(|w| w == b" # ").unwrap_or(0);
            res.extend_from_slice(b"<log>");
            res.extend_from_slice(&line[p..]);
        } else {
            res.extend_from_slice(line);
        }
    }
    res
}

/// Runs a tool in `cwd` with `args`, feeding `stdin`; returns normalized
/// stdout and the exit code. Bounded by a timeout.
fn run(tool: &Path, cwd: &Path, args: &[&str], stdin: &[u8]) -> (Vec<u8>, i32) {
    let out = run_bounded_with_input(
        Command::new(tool).args(args).current_dir(cwd),
        stdin,
        Duration::from_secs(20),
    );
    (normalize(&out.stdout), out.status.code().unwrap_or(-1))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn dir_contents(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Runs both tools on their own copy of `files` (name → bytes) with
/// `args` (the target file is named inside args) and compares output,
/// exit code and the files afterwards.
fn compare(files: &[(&str, Vec<u8>)], args: &[&str], stdin: &[u8], what: &str) {
    compare_with(files, args, stdin, what, false)
}

const STALE_NEEDLE: &str = "Expected \\r\\n, got: 00";

/// Replaces the byte upstream shows after a NUL in "Expected \r\n, got:"
/// (stack garbage left by whatever ran before, e.g. the RDB checker).
fn loosen_stale(out: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(out).into_owned();
    s.lines()
        .map(|l| match l.find(STALE_NEEDLE) {
            Some(p) => format!("{}<stale>", &l[..p + STALE_NEEDLE.len()]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

/// [`compare`], optionally ignoring stale stack bytes in error texts: an
/// argc line cut right after its digits shows a byte of upstream's stack,
/// which after an RDB preamble check is garbage from the RDB checker
/// (elsewhere we model it exactly).
fn compare_with(
    files: &[(&str, Vec<u8>)],
    args: &[&str],
    stdin: &[u8],
    what: &str,
    loose_stale: bool,
) {
    let s = TempDir::new();
    let a = s.path().join("ref");
    let b = s.path().join("ours");
    for d in [&a, &b] {
        std::fs::create_dir_all(d).unwrap();
        for (n, data) in files {
            std::fs::write(d.join(n), data).unwrap();
        }
    }
    let (ra, ca) = run(&reference(), &a, args, stdin);
    let (rb, cb) = run(&ours(), &b, args, stdin);
    let (ra, rb) = if loose_stale {
        (loosen_stale(&ra), loosen_stale(&rb))
    } else {
        (ra, rb)
    };
    assert_eq!(
        String::from_utf8_lossy(&rb),
        String::from_utf8_lossy(&ra),
        "output differs for {what} (args {args:?})"
    );
    assert_eq!(cb, ca, "exit code differs for {what}");
    assert_eq!(
        dir_contents(&b),
        dir_contents(&a),
        "files differ after {what}"
    );
}

/// Compares both tools on a copy of a whole directory.
fn compare_dir(dir: &Path, args: &[&str], stdin: &[u8], what: &str) {
    let files: Vec<(String, Vec<u8>)> = dir_contents(dir);
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    compare(&refs, args, stdin, what);
}

fn resp(argv: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// A small AOF with a transaction and annotations.
fn sample_aof() -> Vec<u8> {
    let mut v = b"#TS:1700000000\r\n".to_vec();
    v.extend(resp(&["SELECT", "0"]));
    v.extend(resp(&["set", "a", "1"]));
    v.extend(resp(&["MULTI"]));
    v.extend(resp(&["incr", "a"]));
    v.extend(resp(&["EXEC"]));
    v.extend_from_slice(b"#TS:1700000005\r\n");
    v.extend(resp(&["rpush", "l", "x", "yz"]));
    v
}

fn wait_for(cond: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn manifest_has(dir: &Path, needle: &str) -> bool {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .map(|m| m.contains(needle))
        .unwrap_or(false)
}

#[test]
fn usage_and_arguments() {
    let s = TempDir::new();
    std::fs::write(s.path().join("x.aof"), sample_aof()).unwrap();
    for args in [
        vec![],
        vec!["a", "b", "c", "d", "e"],
        vec!["--fix"],
        vec!["--bogus", "x.aof"],
        vec!["--truncate-to-timestamp", "12x", "x.aof"],
        vec!["--truncate-to-timestamp", "99999999999999999999", "x.aof"],
        vec!["--truncate-to-timestamp", "1", "--fix", "x.aof"],
        vec!["missing.aof"],
        vec!["."],
    ] {
        let (ra, ca) = run(&reference(), s.path(), &args, b"");
        let (rb, cb) = run(&ours(), s.path(), &args, b"");
        // The usage line names argv[0], which differs: compare the rest.
        let strip = |o: Vec<u8>| {
            String::from_utf8_lossy(&o)
                .replace(REFERENCE_TOOL, "TOOL")
                .replace(&ours().display().to_string(), "TOOL")
        };
        assert_eq!(strip(rb), strip(ra), "{args:?}");
        assert_eq!(cb, ca, "{args:?}");
    }
}

#[test]
fn reference_written_directories() {
    let srv = TestServer::start(
        ServerKind::Reference,
        &["--appendonly", "yes", "--aof-timestamp-enabled", "yes"],
    );
    let dir = srv.dir().to_path_buf();
    let mut c = srv.conn();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["RPUSH", "l", "x", "y", "z"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "n"]);
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["SET", "e", "v", "EX", "1000"]);
    let s = TempDir::new();
    copy_dir(&dir.join("appendonlydir"), &s.path().join("initial"));

    c.cmd(&["BGREWRITEAOF"]);
    wait_for(
        || manifest_has(&dir, "seq 2 type b"),
        "rewrite with preamble",
    );
    c.cmd(&["SADD", "s", "m1", "m2"]);
    copy_dir(&dir.join("appendonlydir"), &s.path().join("preamble"));

    c.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", "no"]);
    c.cmd(&["BGREWRITEAOF"]);
    wait_for(
        || manifest_has(&dir, "seq 3 type b"),
        "rewrite without preamble",
    );
    c.cmd(&["ZADD", "z", "1.5", "m"]);
    copy_dir(&dir.join("appendonlydir"), &s.path().join("resp"));
    drop(c);
    drop(srv);

    for snap in ["initial", "preamble", "resp"] {
        let d = s.path().join(snap);
        compare_dir(
            &d,
            &["appendonly.aof.manifest"],
            b"",
            &format!("{snap} manifest"),
        );
        for (name, data) in dir_contents(&d) {
            if name.ends_with(".manifest") {
                continue;
            }
            compare_dir(&d, &[&name], b"", &format!("{snap}/{name}"));
            // Truncated copies of each file, checked alone and through
            // the manifest (where only the last file may be cut).
            let step = (data.len() / 9).max(1);
            for cut in (1..data.len()).step_by(step) {
                let mut files = dir_contents(&d);
                for f in files.iter_mut() {
                    if f.0 == name {
                        f.1.truncate(cut);
                    }
                }
                let refs: Vec<(&str, Vec<u8>)> =
                    files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
                compare(&refs, &[&name], b"", &format!("{snap}/{name} cut {cut}"));
                compare_with(
                    &refs,
                    &["--fix", "appendonly.aof.manifest"],
                    b"y\n",
                    &format!("{snap}/{name} cut {cut} --fix manifest"),
                    true,
                );
            }
        }
    }
}

#[test]
fn truncated_at_every_offset() {
    let data = sample_aof();
    for cut in 0..data.len() {
        let f = [("t.aof", data[..cut].to_vec())];
        compare(&f, &["t.aof"], b"", &format!("cut {cut}"));
        if cut % 5 == 0 {
            compare(&f, &["--fix", "t.aof"], b"y\n", &format!("cut {cut} fix y"));
            compare(&f, &["--fix", "t.aof"], b"n\n", &format!("cut {cut} fix n"));
        }
    }
}

#[test]
fn bit_flips_at_every_offset() {
    let data = sample_aof();
    for i in 0..data.len() {
        for bit in [0u8, 5, 7] {
            let mut d = data.clone();
            d[i] ^= 1 << bit;
            compare(&[("t.aof", d)], &["t.aof"], b"", &format!("flip {i}/{bit}"));
        }
    }
}

#[test]
fn rdb_preamble_old_style_file() {
    // Get a real RDB preamble from the reference.
    let srv = TestServer::start(ServerKind::Reference, &["--appendonly", "yes"]);
    let dir = srv.dir().to_path_buf();
    let mut c = srv.conn();
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    c.cmd(&["BGREWRITEAOF"]);
    wait_for(|| manifest_has(&dir, "seq 2 type b"), "rewrite");
    drop(c);
    let rdb = std::fs::read(dir.join("appendonlydir/appendonly.aof.2.base.rdb")).unwrap();
    drop(srv);
    let mut file = rdb.clone();
    file.extend(sample_aof());
    compare(
        &[("p.aof", file.clone())],
        &["p.aof"],
        b"",
        "preamble + tail",
    );
    for cut in [rdb.len() - 1, rdb.len() + 3, file.len() - 2] {
        compare(
            &[("p.aof", file[..cut].to_vec())],
            &["p.aof"],
            b"",
            &format!("preamble cut {cut}"),
        );
        compare(
            &[("p.aof", file[..cut].to_vec())],
            &["--fix", "p.aof"],
            b"y",
            &format!("preamble cut {cut} fix"),
        );
    }
    let mut bad = file.clone();
    bad[rdb.len() / 2] ^= 0x40;
    compare(&[("p.aof", bad)], &["p.aof"], b"", "corrupt preamble");
}

#[test]
fn manifests() {
    let good = resp(&["set", "a", "1"]);
    let cases: Vec<(&str, Files)> = vec![
        ("unknown type", vec![("m.manifest", b"file a seq 1 type x\n".to_vec())]),
        (
            "non-monotonic",
            vec![("m.manifest", b"file a seq 2 type i\nfile b seq 2 type i\n".to_vec())],
        ),
        ("path", vec![("m.manifest", b"file ../a seq 1 type i\n".to_vec())]),
        ("no newline", vec![("m.manifest", b"file a seq 1 type i".to_vec())]),
        ("blank line", vec![("m.manifest", b"file a seq 1 type i\n\n".to_vec())]),
        ("odd args", vec![("m.manifest", b"file a seq 1 type i x\n".to_vec())]),
        ("seq 0", vec![("m.manifest", b"file a seq 0 type i\n".to_vec())]),
        (
            "dup base",
            vec![("m.manifest", b"file a seq 1 type b\nfile b seq 2 type b\n".to_vec())],
        ),
        ("unbalanced quote", vec![("m.manifest", b"file \"a seq 1 type i\n".to_vec())]),
        ("missing incr", vec![("m.manifest", b"file a seq 1 type i\n".to_vec())]),
        ("missing base", vec![("m.manifest", b"file a seq 1 type b\n".to_vec())]),
        (
            "quoted name, history, empty incr",
            vec![
                (
                    "m.manifest",
                    b"file \"b a\" seq 1 type b\nfile old seq 1 type h\nfile i1 seq 1 type i\nfile i2 seq 2 type i\n"
                        .to_vec(),
                ),
                ("b a", good.clone()),
                ("i1", Vec::new()),
                ("i2", good.clone()),
            ],
        ),
        (
            "truncated non-last",
            vec![
                ("m.manifest", b"# comment\nfile i1 seq 1 type i\nfile i2 seq 2 type i\n".to_vec()),
                ("i1", good[..good.len() - 3].to_vec()),
                ("i2", good.clone()),
            ],
        ),
        (
            "empty base",
            vec![("m.manifest", b"file b seq 1 type b\n".to_vec()), ("b", Vec::new())],
        ),
    ];
    for (what, files) in &cases {
        compare(files, &["m.manifest"], b"", what);
        compare(
            files,
            &["--fix", "m.manifest"],
            b"y\n",
            &format!("{what} --fix"),
        );
    }
}

#[test]
fn truncate_to_timestamp() {
    let data = sample_aof();
    for ts in [
        "1",
        "1699999999",
        "1700000000",
        "1700000004",
        "1700000005",
        "1800000000",
    ] {
        compare(
            &[("t.aof", data.clone())],
            &["--truncate-to-timestamp", ts, "t.aof"],
            b"",
            &format!("ts {ts}"),
        );
    }
    // Through a manifest: allowed on the last file only.
    let m = b"file i1 seq 1 type i\nfile i2 seq 2 type i\n".to_vec();
    let files = vec![
        ("m.manifest", m),
        ("i1", data.clone()),
        ("i2", data.clone()),
    ];
    for ts in ["1700000000", "1700000003"] {
        compare(
            &files,
            &["--truncate-to-timestamp", ts, "m.manifest"],
            b"",
            ts,
        );
    }
    let mut bad = data.clone();
    bad.extend_from_slice(b"#TS:12a\r\n");
    compare(
        &[("t.aof", bad)],
        &["--truncate-to-timestamp", "5", "t.aof"],
        b"",
        "bad ts",
    );
}
