//! RDB tests against the reference server: files it SAVEs parse to exactly
//! what it serves; files we write load back to the same DEBUG DIGEST; DUMP
//! payloads go both ways; corrupt files fail cleanly; redis-check-rdb's
//! report matches upstream's.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod fixture;

use std::collections::BTreeMap;

use bytes::Bytes;
use redis_rdb::*;
use redis_testkit::{Conn, TempDir};

use common::{check_rdb, cmd, ok, reference, Reply, CHECK_RDB};
use fixture::{saved_reference, LIB};

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

fn score_of(b: &[u8]) -> f64 {
    numfmt::parse_f64(b).expect("score")
}

fn id_text(id: StreamId) -> Vec<u8> {
    id.to_string().into_bytes()
}

/// Map view of a flat [k, v, k, v] array reply.
fn flat_map(r: &Reply) -> BTreeMap<Vec<u8>, Reply> {
    let a = r.array();
    a.chunks(2).map(|p| (p[0].bytes(), p[1].clone())).collect()
}

/// Checks that `e` is exactly what the reference serves for its key.
fn check_entry(c: &mut Conn, e: &RdbEntry) {
    ok(c, &["SELECT", &e.db.to_string()]);
    let key = &e.key[..];
    let k = String::from_utf8_lossy(key).into_owned();
    let pexp = cmd(c, &[&b"PEXPIRETIME"[..], key]).int();
    assert_eq!(e.expire_ms.unwrap_or(-1), pexp, "expire of {k}");
    match &e.value {
        RdbValue::String(s) => {
            assert_eq!(cmd(c, &[&b"GET"[..], key]).bytes(), s.to_vec(), "{k}")
        }
        RdbValue::List(items) => {
            let got = cmd(c, &[&b"LRANGE"[..], key, b"0", b"-1"]).strings();
            let ours: Vec<Vec<u8>> = items.iter().map(|b| b.to_vec()).collect();
            assert_eq!(got, ours, "{k}");
        }
        RdbValue::Set(m) => {
            let got = sorted(cmd(c, &[&b"SMEMBERS"[..], key]).strings());
            let ours = sorted(m.iter().map(|b| b.to_vec()).collect());
            assert_eq!(got, ours, "{k}");
        }
        RdbValue::ZSet(m) => {
            let got = cmd(c, &[&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"]).strings();
            let mut ours: Vec<(Bytes, f64)> = m.clone();
            ours.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
            assert_eq!(got.len(), ours.len() * 2, "{k}");
            for (pair, (m, s)) in got.chunks(2).zip(&ours) {
                assert_eq!(pair[0], m.to_vec(), "{k}");
                assert_eq!(score_of(&pair[1]), *s, "{k} score of {m:?}");
            }
        }
        RdbValue::Hash(p) => {
            let got: BTreeMap<Vec<u8>, Vec<u8>> = flat_map(&cmd(c, &[&b"HGETALL"[..], key]))
                .into_iter()
                .map(|(k, v)| (k, v.bytes()))
                .collect();
            let ours: BTreeMap<Vec<u8>, Vec<u8>> =
                p.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            assert_eq!(got.len(), p.len(), "{k} has duplicate fields");
            assert_eq!(got, ours, "{k}");
        }
        RdbValue::Stream(s) => check_stream(c, key, s),
        RdbValue::Module { .. } => panic!("no modules in the fixture"),
    }
}

fn check_stream(c: &mut Conn, key: &[u8], s: &StreamValue) {
    let got = cmd(c, &[&b"XRANGE"[..], key, b"-", b"+"]).array();
    assert_eq!(got.len(), s.entries.len());
    for (g, e) in got.iter().zip(&s.entries) {
        let g = g.array();
        assert_eq!(g[0].bytes(), id_text(e.id));
        let fields: Vec<Vec<u8>> = e
            .fields
            .iter()
            .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
            .collect();
        assert_eq!(g[1].strings(), fields);
    }
    let info = flat_map(&cmd(c, &[&b"XINFO"[..], b"STREAM", key]));
    assert_eq!(info[&b"length"[..]].int(), s.entries.len() as i64);
    assert_eq!(info[&b"last-generated-id"[..]].bytes(), id_text(s.last_id));
    assert_eq!(
        info[&b"max-deleted-entry-id"[..]].bytes(),
        id_text(s.max_deleted_id)
    );
    assert_eq!(info[&b"entries-added"[..]].int(), s.entries_added as i64);
    assert_eq!(
        info[&b"recorded-first-entry-id"[..]].bytes(),
        id_text(s.first_id)
    );
    let groups = cmd(c, &[&b"XINFO"[..], b"GROUPS", key]).array();
    assert_eq!(groups.len(), s.groups.len());
    for (g, ours) in groups.iter().zip(&s.groups) {
        let g = flat_map(g);
        assert_eq!(g[&b"name"[..]].bytes(), ours.name.to_vec());
        assert_eq!(g[&b"consumers"[..]].int(), ours.consumers.len() as i64);
        assert_eq!(g[&b"pending"[..]].int(), ours.pel.len() as i64);
        assert_eq!(g[&b"last-delivered-id"[..]].bytes(), id_text(ours.last_id));
        match &g[&b"entries-read"[..]] {
            Reply::Bulk(None) => assert_eq!(ours.entries_read, -1),
            r => assert_eq!(r.int(), ours.entries_read),
        }
        let pending = cmd(c, &[&b"XPENDING"[..], key, &ours.name, b"-", b"+", b"1000"]).array();
        assert_eq!(pending.len(), ours.pel.len());
        for (p, pe) in pending.iter().zip(&ours.pel) {
            let p = p.array();
            assert_eq!(p[0].bytes(), id_text(pe.id));
            let owner = ours
                .consumers
                .iter()
                .find(|cons| cons.pending.contains(&pe.id))
                .expect("owner");
            assert_eq!(p[1].bytes(), owner.name.to_vec());
            assert_eq!(p[3].int(), pe.delivery_count as i64);
        }
    }
}

#[test]
fn reference_file_parses_to_served_content() {
    let (srv, bytes) = saved_reference();
    let file = read_all(&bytes[..]).expect("parse reference dump.rdb");
    assert_eq!(file.version, 10);
    assert_eq!(file.aux("redis-ver").map(|b| &b[..]), Some(&b"7.0.15"[..]));
    assert_eq!(file.aux("redis-bits").map(|b| &b[..]), Some(&b"64"[..]));
    assert!(file.aux("ctime").is_some() && file.aux("used-mem").is_some());
    assert_eq!(file.functions, vec![Bytes::from(LIB)]);
    let mut c = srv.conn();
    let mut per_db: BTreeMap<u32, i64> = BTreeMap::new();
    for e in &file.entries {
        check_entry(&mut c, e);
        *per_db.entry(e.db).or_default() += 1;
    }
    for (db, n) in &per_db {
        ok(&mut c, &["SELECT", &db.to_string()]);
        assert_eq!(cmd(&mut c, &["DBSIZE"]).int(), *n, "keys in db {db}");
    }
    assert_eq!(per_db.keys().copied().collect::<Vec<_>>(), vec![0, 1, 3]);
    // The streaming reader reports items in order with SELECTDB/RESIZEDB.
    let items: Vec<RdbItem> = RdbReader::new(&bytes[..]).map(|i| i.unwrap()).collect();
    assert!(items.contains(&RdbItem::SelectDb(3)));
    assert!(items.iter().any(|i| matches!(i, RdbItem::ResizeDb { .. })));
}

/// Writes `file` with our writer.
fn write_file(file: &RdbFile, opts: WriterOptions) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), opts).unwrap();
    w.standard_aux("7.0.15", 1_700_000_000, 123_456).unwrap();
    w.aux(b"aof-base", b"0").unwrap();
    for f in &file.functions {
        w.function(f).unwrap();
    }
    let mut dbs: BTreeMap<u32, Vec<&RdbEntry>> = BTreeMap::new();
    for e in &file.entries {
        dbs.entry(e.db).or_default().push(e);
    }
    for (db, entries) in dbs {
        let expires = entries.iter().filter(|e| e.expire_ms.is_some()).count() as u64;
        w.select_db(db, entries.len() as u64, expires).unwrap();
        for e in entries {
            w.entry(e).unwrap();
        }
    }
    w.finish().unwrap()
}

fn digest(c: &mut Conn) -> Vec<u8> {
    cmd(c, &["DEBUG", "DIGEST"]).bytes()
}

/// XINFO STREAM FULL minus the radix tree shape (which follows how the
/// entries are split into nodes, a writer choice).
fn stream_full(c: &mut Conn, key: &str) -> Reply {
    let a = cmd(c, &["XINFO", "STREAM", key, "FULL"]).array();
    let kept: Vec<Reply> = a
        .chunks(2)
        .filter(|p| !p[0].bytes().starts_with(b"radix-tree"))
        .flat_map(|p| p.to_vec())
        .collect();
    Reply::Array(Some(kept))
}

#[test]
fn our_files_load_into_reference_with_same_digest() {
    let (srv, bytes) = saved_reference();
    let mut c = srv.conn();
    let want = digest(&mut c);
    let want_streams: Vec<Reply> = ["stream", "stream:empty", "stream:small"]
        .iter()
        .map(|k| stream_full(&mut c, k))
        .collect();
    let want_dbsize: Vec<i64> = (0..4)
        .map(|db| {
            ok(&mut c, &["SELECT", &db.to_string()]);
            cmd(&mut c, &["DBSIZE"]).int()
        })
        .collect();
    let file = read_all(&bytes[..]).unwrap();
    let variants = [
        ("default", WriterOptions::default()),
        (
            "plain",
            WriterOptions {
                compression: false,
                checksum: false,
                hash_max_listpack_entries: 0,
                zset_max_listpack_entries: 0,
                set_max_intset_entries: 0,
                ..WriterOptions::default()
            },
        ),
        (
            "tiny-nodes",
            WriterOptions {
                list_max_listpack_size: 3,
                stream_node_max_entries: 2,
                stream_node_max_bytes: 0,
                ..WriterOptions::default()
            },
        ),
    ];
    for (name, opts) in variants {
        let checksum = opts.checksum;
        let ours = write_file(&file, opts);
        // We read back what we wrote, identically.
        let again = read_all(&ours[..]).unwrap();
        assert_eq!(again.entries.len(), file.entries.len(), "{name}");
        let dir = TempDir::new();
        std::fs::write(dir.path().join("ours.rdb"), &ours).unwrap();
        // Upstream's checker accepts the file.
        let out = check_rdb(CHECK_RDB, &dir.path().join("ours.rdb"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("RDB looks OK"),
            "{name}: {text}"
        );
        assert_eq!(text.contains("Checksum OK"), checksum, "{name}: {text}");
        let loaded = reference(&["--dir", dir.path_str(), "--dbfilename", "ours.rdb"]);
        let mut l = loaded.conn();
        assert_eq!(
            digest(&mut l),
            want,
            "{name}: DEBUG DIGEST after loading our file"
        );
        for (k, w) in ["stream", "stream:empty", "stream:small"]
            .iter()
            .zip(&want_streams)
        {
            assert_eq!(&stream_full(&mut l, k), w, "{name}: XINFO STREAM {k} FULL");
        }
        for (db, n) in want_dbsize.iter().enumerate() {
            ok(&mut l, &["SELECT", &db.to_string()]);
            assert_eq!(cmd(&mut l, &["DBSIZE"]).int(), *n, "{name}: db {db}");
        }
        let libs = l.cmd(&["FUNCTION", "LIST", "WITHCODE"]);
        assert!(
            libs.windows(LIB.len()).any(|w| w == LIB.as_bytes()),
            "{name}: functions not restored"
        );
        drop(l);
        drop(loaded);
    }
}

#[test]
fn dump_payloads_both_ways() {
    let (srv, bytes) = saved_reference();
    let file = read_all(&bytes[..]).unwrap();
    let mut c = srv.conn();
    let mut identical = 0;
    for e in file.entries.iter().filter(|e| e.db == 0) {
        let key = &e.key[..];
        let dumped = cmd(&mut c, &[&b"DUMP"[..], key]).bytes();
        let parsed = parse_payload(&dumped).expect("parse reference DUMP");
        let norm = |v: &RdbValue| match v {
            RdbValue::Set(m) => RdbValue::Set({
                let mut m = m.clone();
                m.sort();
                m
            }),
            RdbValue::ZSet(m) => RdbValue::ZSet({
                let mut m = m.clone();
                m.sort_by(|a, b| a.0.cmp(&b.0));
                m
            }),
            RdbValue::Hash(m) => RdbValue::Hash({
                let mut m = m.clone();
                m.sort();
                m
            }),
            other => other.clone(),
        };
        assert_eq!(norm(&parsed), norm(&e.value), "DUMP of {key:?}");
        let ours = dump_payload(&e.value);
        if ours == dumped {
            identical += 1;
        }
        assert_eq!(
            parse_payload(&ours).map(|v| norm(&v)).unwrap(),
            norm(&e.value)
        );
        let want = cmd(&mut c, &[&b"DEBUG"[..], b"DIGEST-VALUE", key]).array()[0].bytes();
        let mut copy = b"copy:".to_vec();
        copy.extend_from_slice(key);
        // DIGEST-VALUE covers the expire, so restore it too.
        let ttl = e.expire_ms.unwrap_or(0).to_string();
        ok(
            &mut c,
            &[&b"RESTORE"[..], &copy, ttl.as_bytes(), &ours, b"ABSTTL"],
        );
        let got = cmd(&mut c, &[&b"DEBUG"[..], b"DIGEST-VALUE", &copy]).array()[0].bytes();
        assert_eq!(got, want, "RESTORE of our DUMP of {key:?}");
        ok(&mut c, &[&b"DEL"[..], &copy]);
    }
    // Small values use the same encodings as the reference, byte for byte
    // when LZF is off (our compressor's output differs from upstream's).
    ok(&mut c, &["CONFIG", "SET", "rdbcompression", "no"]);
    let plain = WriterOptions {
        compression: false,
        ..WriterOptions::default()
    };
    for k in [
        "str:int",
        "str:short",
        "str:long",
        "list:small",
        "set:int",
        "zset:small",
        "hash:small",
    ] {
        let theirs = cmd(&mut c, &["DUMP", k]).bytes();
        let e = file
            .entries
            .iter()
            .find(|e| &e.key[..] == k.as_bytes())
            .unwrap();
        assert_eq!(
            dump_payload_with(&e.value, &plain),
            theirs,
            "DUMP bytes of {k}"
        );
    }
    assert!(identical >= 3, "{identical}");
    // Error texts match RESTORE's.
    for bad in [
        &b"garbage"[..],
        b"",
        b"\x00\x03abc\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ] {
        let theirs = cmd(&mut c, &[&b"RESTORE"[..], b"k", b"0", bad]);
        let ours = parse_payload(bad).unwrap_err();
        assert_eq!(
            theirs,
            Reply::Error(ours.restore_message().to_string()),
            "{bad:?}"
        );
    }
    // A right checksum on a broken body: "Bad data format".
    let mut body = vec![0u8, 0x3f, b'a'];
    body.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64::crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    let theirs = cmd(&mut c, &[&b"RESTORE"[..], b"k", b"0", &body]);
    assert_eq!(
        theirs,
        Reply::Error(parse_payload(&body).unwrap_err().restore_message().into())
    );
    // A newer RDB version is refused.
    let mut newer = dump_payload(&RdbValue::String(Bytes::from_static(b"x")));
    let n = newer.len();
    newer[n - 10] = 11;
    let crc = crc64::crc64(0, &newer[..n - 8]);
    newer[n - 8..].copy_from_slice(&crc.to_le_bytes());
    let theirs = cmd(&mut c, &[&b"RESTORE"[..], b"k", b"0", &newer]);
    assert_eq!(
        theirs,
        Reply::Error(parse_payload(&newer).unwrap_err().restore_message().into())
    );
}

fn run_check(bin: &str, path: &std::path::Path) -> (String, i32) {
    let out = check_rdb(bin, path);
    let text = String::from_utf8_lossy(&out.stdout)
        .lines()
        // Upstream logs this through its server logger on corruption.
        .filter(|l| !l.contains("Terminating server after rdb file reading failure"))
        .map(|l| format!("{l}\n"))
        .collect();
    (text, out.status.code().unwrap_or(-1))
}

#[test]
fn corrupt_files_fail_cleanly_and_check_rdb_matches_upstream() {
    let (_srv, bytes) = saved_reference();
    let dir = TempDir::new();
    let ours_bin = env!("CARGO_BIN_EXE_redis-check-rdb");
    // Every truncation is an error, never a panic.
    let step = (bytes.len() / 400).max(1);
    for cut in (0..bytes.len())
        .step_by(step)
        .chain([bytes.len() - 1, bytes.len() - 8])
    {
        assert!(read_all(&bytes[..cut]).is_err(), "truncated at {cut}");
    }
    // Any changed byte is caught (by structure or by the CRC).
    let mut seed = 0x1234_5678_9abc_def0u64;
    for _ in 0..400 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pos = (seed % bytes.len() as u64) as usize;
        let mut m = bytes.clone();
        m[pos] ^= ((seed >> 32) as u8) | 1;
        assert!(read_all(&m[..]).is_err(), "flip at {pos}");
    }
    // The checker's report equals upstream's for good, truncated and
    // flipped files (structure errors aside, whose text names a C line).
    let mut cases: Vec<(String, Vec<u8>)> = vec![("dump.rdb".into(), bytes.clone())];
    for cut in [
        0,
        5,
        9,
        20,
        60,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 9,
        bytes.len() - 3,
    ] {
        cases.push((format!("cut{cut}.rdb"), bytes[..cut].to_vec()));
    }
    let mut nocrc = bytes.clone();
    let n = nocrc.len();
    nocrc[n - 8..].fill(0);
    cases.push(("nocrc.rdb".into(), nocrc));
    let mut flipped = bytes.clone();
    flipped[n - 20] ^= 0x40;
    cases.push(("flipped.rdb".into(), flipped));
    let mut sig = bytes.clone();
    sig[1] = b'X';
    cases.push(("sig.rdb".into(), sig));
    let mut ver = bytes.clone();
    ver[8] = b'9';
    ver[7] = b'9';
    cases.push(("ver.rdb".into(), ver));
    for (name, data) in cases {
        let p = dir.path().join(&name);
        std::fs::write(&p, &data).unwrap();
        let theirs = run_check(CHECK_RDB, &p);
        let ours = run_check(ours_bin, &p);
        assert_eq!(ours, theirs, "redis-check-rdb {name}");
    }
    let (_, code) = run_check(ours_bin, &dir.path().join("missing.rdb"));
    assert_eq!(code, 1);
}

#[test]
fn fuzzed_mutations_never_panic() {
    let (_srv, bytes) = saved_reference();
    // Without a checksum the decoders see the damage themselves.
    let mut base = bytes.clone();
    let n = base.len();
    base[n - 8..].fill(0);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..1500 {
        let mut m = base.clone();
        for _ in 0..(1 + rnd() % 4) {
            let pos = (rnd() % m.len() as u64) as usize;
            match rnd() % 4 {
                0 => m[pos] = rnd() as u8,
                1 => m[pos] ^= 1 << (rnd() % 8),
                2 => {
                    m.remove(pos);
                }
                _ => m.insert(pos, rnd() as u8),
            }
        }
        let _ = read_all(&m[..]);
        // DUMP-style payload parsing of a random slice.
        let a = (rnd() % n as u64) as usize;
        let b = (a + (rnd() % 300) as usize).min(m.len());
        if a < b {
            let mut p = m[a..b].to_vec();
            p.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc64::crc64(0, &p);
            p.extend_from_slice(&crc.to_le_bytes());
            let _ = parse_payload(&p);
        }
    }
}

// ------------------------------------------------------------------------
// Encodings 7.0 loads but no longer writes: hand-built, loaded into the
// reference, and compared with what we parse.

fn zl_entry(prev: usize, e: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if prev < 254 {
        out.push(prev as u8);
    } else {
        out.push(254);
        out.extend_from_slice(&(prev as u32).to_le_bytes());
    }
    match numfmt::canonical_i64(e) {
        Some(v @ 0..=12) => out.push(0xf1 + v as u8),
        Some(v) if i8::try_from(v).is_ok() => out.extend_from_slice(&[0xfe, v as u8]),
        Some(v) if i16::try_from(v).is_ok() => {
            out.push(0xc0);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
            out.push(0xf0);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        Some(v) if i32::try_from(v).is_ok() => {
            out.push(0xd0);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        Some(v) => {
            out.push(0xe0);
            out.extend_from_slice(&v.to_le_bytes());
        }
        None if e.len() < 64 => {
            out.push(e.len() as u8);
            out.extend_from_slice(e);
        }
        None if e.len() < 16384 => {
            out.push(0x40 | (e.len() >> 8) as u8);
            out.push(e.len() as u8);
            out.extend_from_slice(e);
        }
        None => {
            out.push(0x80);
            out.extend_from_slice(&(e.len() as u32).to_be_bytes());
            out.extend_from_slice(e);
        }
    }
    out
}

fn ziplist(elems: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0;
    let mut tail = 10;
    for e in elems {
        tail = 10 + body.len();
        let entry = zl_entry(prev, e);
        prev = entry.len();
        body.extend_from_slice(&entry);
    }
    let mut zl = Vec::new();
    zl.extend_from_slice(&((11 + body.len()) as u32).to_le_bytes());
    zl.extend_from_slice(&(tail as u32).to_le_bytes());
    zl.extend_from_slice(&(elems.len() as u16).to_le_bytes());
    zl.extend_from_slice(&body);
    zl.push(0xff);
    zl
}

fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut zm = vec![pairs.len() as u8];
    let len = |zm: &mut Vec<u8>, n: usize| {
        if n < 254 {
            zm.push(n as u8);
        } else {
            zm.push(254);
            zm.extend_from_slice(&(n as u32).to_le_bytes());
        }
    };
    for (k, v) in pairs {
        len(&mut zm, k.len());
        zm.extend_from_slice(k);
        len(&mut zm, v.len());
        zm.push(2);
        zm.extend_from_slice(v);
        zm.extend_from_slice(&[0, 0]);
    }
    zm.push(255);
    zm
}

/// Raw RDB building blocks for the hand-made file.
struct Raw(Vec<u8>);

impl Raw {
    fn len(&mut self, n: u64) {
        if n < 64 {
            self.0.push(n as u8);
        } else if n < 16384 {
            self.0.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
        } else {
            self.0.push(0x80);
            self.0.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    fn s(&mut self, b: &[u8]) {
        self.len(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn key(&mut self, t: u8, k: &str) {
        self.0.push(t);
        self.s(k.as_bytes());
    }
}

fn legacy_file() -> Vec<u8> {
    use redis_rdb::consts::*;
    let mut r = Raw(b"REDIS0009".to_vec());
    r.0.push(OP_AUX);
    r.s(b"redis-ver");
    r.s(b"5.0.0");
    r.0.push(OP_SELECTDB);
    r.len(0);
    // Plain LIST with an expire in seconds, IDLE and FREQ opcodes.
    let secs = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1_000_000) as i32;
    r.0.push(OP_EXPIRETIME);
    r.0.extend_from_slice(&secs.to_le_bytes());
    r.0.push(OP_IDLE);
    r.len(77);
    r.key(TYPE_LIST, "old:list");
    r.len(3);
    for e in ["x", "12", "yy"] {
        r.s(e.as_bytes());
    }
    r.0.push(OP_FREQ);
    r.0.push(5);
    // ZSET with text scores, including the special inf forms.
    r.key(TYPE_ZSET, "old:zset");
    r.len(4);
    for (m, score) in [
        ("a", &b"1.5"[..]),
        ("b", b"-2"),
        ("c", b"\xfe"),
        ("d", b"\xff"),
    ] {
        r.s(m.as_bytes());
        if score.len() == 1 && score[0] >= 253 {
            r.0.push(score[0]);
        } else {
            r.0.push(score.len() as u8);
            r.0.extend_from_slice(score);
        }
    }
    let long = "L".repeat(300);
    r.key(TYPE_HASH_ZIPMAP, "old:zipmap");
    r.s(&zipmap(&[
        (b"f1", b"v1"),
        (b"f2", long.as_bytes()),
        (b"n", b"42"),
    ]));
    let many: Vec<String> = (0..40)
        .map(|i| format!("{}", i * 1_000_003 - 7_000_000))
        .collect();
    let mut list: Vec<&[u8]> = vec![
        b"a",
        b"",
        long.as_bytes(),
        b"-1",
        b"12",
        b"13",
        b"300",
        b"-70000",
    ];
    list.extend(many.iter().map(|s| s.as_bytes()));
    list.push(b"9223372036854775807");
    r.key(TYPE_LIST_ZIPLIST, "old:ziplist");
    r.s(&ziplist(&list));
    r.key(TYPE_ZSET_ZIPLIST, "old:zset-ziplist");
    r.s(&ziplist(&[b"m1", b"1", b"m2", b"2.5", b"m3", b"1e20"]));
    r.key(TYPE_HASH_ZIPLIST, "old:hash-ziplist");
    r.s(&ziplist(&[b"f", b"v", b"num", b"123456"]));
    r.key(TYPE_LIST_QUICKLIST, "old:quicklist");
    r.len(2);
    r.s(&ziplist(&[b"n1a", b"n1b"]));
    r.s(&ziplist(&[b"n2a", b"5", long.as_bytes()]));
    // Stream, RDB 9 layout: one node with a deleted entry, one group.
    let mut lp = compact::ListpackBuilder::new();
    for v in [3i64, 1, 1] {
        lp.push_int(v);
    }
    lp.push(b"a");
    lp.push_int(0);
    let entry = |lp: &mut compact::ListpackBuilder, flags, ms, seq, fields: &[&[u8]], same| {
        lp.push_int(flags);
        lp.push_int(ms);
        lp.push_int(seq);
        if same {
            for v in fields {
                lp.push(v);
            }
            lp.push_int(fields.len() as i64 + 3);
        } else {
            lp.push_int(fields.len() as i64 / 2);
            for v in fields {
                lp.push(v);
            }
            lp.push_int(fields.len() as i64 + 4);
        }
    };
    entry(&mut lp, 2, 0, 0, &[b"1"], true);
    entry(&mut lp, 3, 0, 1, &[b"2"], true);
    entry(&mut lp, 2, 0, 2, &[b"3"], true);
    entry(&mut lp, 0, 1, -1, &[b"b", b"x", b"c", b"y"], false);
    r.key(TYPE_STREAM_LISTPACKS, "old:stream");
    r.len(1);
    r.s(&StreamId::new(1, 1).to_be_bytes());
    r.s(&lp.finish());
    r.len(3);
    r.len(2);
    r.len(0);
    r.len(1);
    r.s(b"g");
    r.len(1);
    r.len(3);
    r.len(1);
    r.0.extend_from_slice(&StreamId::new(1, 1).to_be_bytes());
    r.0.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
    r.len(2);
    r.len(1);
    r.s(b"cons");
    r.0.extend_from_slice(&1_700_000_000_001i64.to_le_bytes());
    r.len(1);
    r.0.extend_from_slice(&StreamId::new(1, 1).to_be_bytes());
    // Strings in every encoding, in a second database.
    r.0.push(OP_SELECTDB);
    r.len(2);
    r.key(TYPE_STRING, "int8");
    r.0.extend_from_slice(&[0xc0, 0x85]);
    r.key(TYPE_STRING, "int16");
    r.0.push(0xc1);
    r.0.extend_from_slice(&(-12345i16).to_le_bytes());
    r.key(TYPE_STRING, "int32");
    r.0.push(0xc2);
    r.0.extend_from_slice(&123_456_789i32.to_le_bytes());
    let text = "compress me ".repeat(40);
    let c = lzf::compress(text.as_bytes(), text.len()).unwrap();
    r.key(TYPE_STRING, "lzf");
    r.0.push(0xc3);
    r.len(c.len() as u64);
    r.len(text.len() as u64);
    r.0.extend_from_slice(&c);
    r.key(TYPE_SET_INTSET, "intset");
    r.s(&compact::intset_encode(&[-5, 3, 100_000]));
    r.0.push(OP_EOF);
    let crc = crc64::crc64(0, &r.0);
    r.0.extend_from_slice(&crc.to_le_bytes());
    r.0
}

#[test]
fn legacy_encodings_match_what_the_reference_loads() {
    let data = legacy_file();
    let file = read_all(&data[..]).expect("parse hand-made legacy file");
    assert_eq!(file.version, 9);
    assert_eq!(file.entries.len(), 13);
    let list = &file.entries[0];
    assert_eq!((list.lru_idle, list.lfu_freq), (Some(77), None));
    assert_eq!(file.entries[1].lfu_freq, Some(5));
    let dir = TempDir::new();
    std::fs::write(dir.path().join("legacy.rdb"), &data).unwrap();
    let srv = reference(&["--dir", dir.path_str(), "--dbfilename", "legacy.rdb"]);
    let mut c = srv.conn();
    for e in &file.entries {
        check_entry(&mut c, e);
    }
    let mut n = 0;
    for db in [0, 2] {
        ok(&mut c, &["SELECT", &db.to_string()]);
        n += cmd(&mut c, &["DBSIZE"]).int();
    }
    assert_eq!(n, 13);
    // Our writer re-encodes all of it into a file the reference loads to
    // the same digest.
    ok(&mut c, &["SELECT", "0"]);
    let want = digest(&mut c);
    let ours = write_file(&file, WriterOptions::default());
    std::fs::write(dir.path().join("ours.rdb"), &ours).unwrap();
    let again = reference(&["--dir", dir.path_str(), "--dbfilename", "ours.rdb"]);
    assert_eq!(digest(&mut again.conn()), want);
}

#[test]
fn module_values_roundtrip_raw() {
    // A MODULE_2 value and a MODULE_AUX record with every module opcode.
    let mut raw = Raw(Vec::new());
    raw.len(1); // SINT
    raw.len(5);
    raw.len(2); // UINT
    raw.len(300);
    raw.len(3); // FLOAT
    raw.0.extend_from_slice(&1.5f32.to_le_bytes());
    raw.len(4); // DOUBLE
    raw.0.extend_from_slice(&2.5f64.to_le_bytes());
    raw.len(5); // STRING
    raw.s(b"payload");
    raw.len(0); // EOF
    let raw = Bytes::from(raw.0);
    let module_id = 0x1234_5678_9abc_d00a;
    let entry = RdbEntry {
        db: 0,
        key: Bytes::from_static(b"m"),
        value: RdbValue::Module {
            module_id,
            raw: raw.clone(),
        },
        expire_ms: None,
        lru_idle: None,
        lfu_freq: None,
    };
    let mut w = RdbWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    w.module_aux(&ModuleAux {
        module_id,
        when: 2,
        raw: raw.clone(),
    })
    .unwrap();
    w.entry(&entry).unwrap();
    let bytes = w.finish().unwrap();
    let file = read_all(&bytes[..]).unwrap();
    assert_eq!(file.entries, vec![entry.clone()]);
    assert_eq!(file.module_aux[0].raw, raw);
    assert_eq!(
        parse_payload(&dump_payload(&entry.value)).unwrap(),
        entry.value
    );
    assert_eq!(module_name(module_id).len(), 9);
}

/// redis-check-rdb's report equals upstream's for truncations every few
/// bytes across the whole fixture, streams included (whose truncated
/// reads upstream reports by loader site). A sweep of every offset found
/// no difference; this keeps a few thousand of them.
#[test]
fn check_rdb_matches_upstream_for_truncations_throughout() {
    let (_srv, bytes) = saved_reference();
    let dir = TempDir::new();
    let ours_bin = env!("CARGO_BIN_EXE_redis-check-rdb");
    let p = dir.path().join("cut.rdb");
    for cut in (0..bytes.len()).step_by(41) {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let theirs = run_check(CHECK_RDB, &p);
        let ours = run_check(ours_bin, &p);
        assert_eq!(ours, theirs, "redis-check-rdb on the first {cut} bytes");
    }
}
