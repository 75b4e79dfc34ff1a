//! Unit tests of `meta.rs` (kept apart so the module holds only
//! library code).

use super::*;
use bytes::BytesMut;
use redis_resp::Protocol;

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/data/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Independent RESP encoder for the types these replies use, so the
/// frames are checked even while the crate's encoder is in progress.
fn enc(f: &Frame, resp3: bool, out: &mut Vec<u8>) {
    match f {
        Frame::Simple(s) => {
            out.push(b'+');
            out.extend_from_slice(s);
            out.extend_from_slice(b"\r\n");
        }
        Frame::Bulk(b) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Frame::Integer(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Frame::Null => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
        Frame::Array(v) | Frame::Set(v) => {
            let t = if resp3 && matches!(f, Frame::Set(_)) {
                '~'
            } else {
                '*'
            };
            out.extend_from_slice(format!("{t}{}\r\n", v.len()).as_bytes());
            v.iter().for_each(|x| enc(x, resp3, out));
        }
        Frame::Map(m) => {
            let head = if resp3 {
                format!("%{}\r\n", m.len())
            } else {
                format!("*{}\r\n", m.len() * 2)
            };
            out.extend_from_slice(head.as_bytes());
            for (k, v) in m {
                enc(k, resp3, out);
                enc(v, resp3, out);
            }
        }
        other => panic!("unexpected frame in metadata: {other:?}"),
    }
}

/// The replies to `COMMAND INFO name` and `COMMAND DOCS name`.
fn replies(m: &CommandMeta) -> (Frame, Frame) {
    (
        Frame::Array(vec![info_frame(m)]),
        Frame::Map(vec![(bulk(&m.name), docs_frame(m))]),
    )
}

const RECORDED: &[&str] = &[
    "get",
    "set",
    "config",
    "georadius",
    "xread",
    "sort",
    "zunionstore",
    "eval",
    "migrate",
    "memory",
    "client",
    "object",
    "bitfield_ro",
    "keys",
    "xreadgroup",
    "lmpop",
    "blmpop",
    "zadd",
    "ping",
    "geosearchstore",
];

#[test]
fn table_loads() {
    assert_eq!(check(), Ok(240));
    let names: Vec<&str> = all().iter().map(|c| c.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert!(all().iter().all(|c| c.name == c.name.to_ascii_lowercase()));
}

#[test]
fn lookups() {
    let get = find(b"GeT").expect("get exists");
    assert_eq!(get.name, "get");
    assert_eq!(get.arity, 2);
    assert!(get.has_flag("readonly") && get.has_flag("fast"));
    assert!(!get.has_flag("write"));
    assert_eq!(get.group, "string");
    assert_eq!(get.since, "1.0.0");
    assert!(get.in_category("read"));
    assert!(find(b"nosuchcommand").is_none());
    assert!(find(&[b'x'; 100]).is_none());
    let config = find(b"config").expect("config exists");
    let cget = find_sub(config, b"GET").expect("config|get exists");
    assert_eq!(cget.name, "config|get");
    assert_eq!(cget.arity, -3);
    assert!(cget.has_flag("admin"));
    assert!(find_sub(config, b"nope").is_none());
    assert!(find_sub(config, &[0xff, 0xfe]).is_none());
    assert!(find(b"sort").expect("sort").has_flag("movablekeys"));
    assert!(find(b"eval").expect("eval").has_flag("no_mandatory_keys"));
    let spec = &find(b"xread").expect("xread").key_specs[0];
    assert_eq!(
        spec.begin_search,
        BeginSearch::Keyword {
            keyword: "STREAMS".into(),
            startfrom: 1
        }
    );
    assert_eq!(
        spec.find_keys,
        FindKeys::Range {
            lastkey: -1,
            keystep: 1,
            limit: 2
        }
    );
}

/// The frames re-encode to the reference's recorded bytes in both
/// protocols (proves types, order and content of INFO and DOCS).
#[test]
fn frames_match_reference_bytes() {
    for name in RECORDED {
        let m = find(name.as_bytes()).expect("recorded command exists");
        let (info, docs) = replies(m);
        for (proto, resp3) in [(2, false), (3, true)] {
            for (what, frame) in [("info", &info), ("docs", &docs)] {
                let mut out = Vec::new();
                enc(frame, resp3, &mut out);
                let want = testdata(&format!("{what}_{name}.resp{proto}"));
                assert!(
                    out == want,
                    "{what} {name} resp{proto}:\n got {:?}\nwant {:?}",
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&want)
                );
            }
        }
    }
}

/// Same check through the crate's own encoder: these are the bytes the
/// server will actually send.
#[test]
fn frames_match_reference_bytes_with_resp_encoder() {
    for name in RECORDED {
        let m = find(name.as_bytes()).expect("recorded command exists");
        let (info, docs) = replies(m);
        for (proto, p) in [(2, Protocol::Resp2), (3, Protocol::Resp3)] {
            for (what, frame) in [("info", &info), ("docs", &docs)] {
                let mut out = BytesMut::new();
                frame.encode(p, &mut out);
                let want = testdata(&format!("{what}_{name}.resp{proto}"));
                assert!(out[..] == want[..], "{what} {name} resp{proto}");
            }
        }
    }
}

/// Every command's INFO and DOCS frame is well formed and lossless: the
/// parsed form re-serializes to the exact JSON that was embedded.
#[test]
fn json_round_trip_is_lossless() {
    fn back(v: &MetaValue) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        match v {
            MetaValue::Bulk(s) => Value::String(s.clone()),
            MetaValue::Integer(n) => json!(n),
            MetaValue::Array(a) => Value::Array(a.iter().map(back).collect()),
            MetaValue::Set(a) => json!({"~": a.iter().map(back).collect::<Vec<_>>()}),
            MetaValue::Simple(s) => json!({"+": s}),
            MetaValue::Null => json!({"_": null}),
            MetaValue::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), back(v)))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
    fn cmd(c: &CommandMeta) -> serde_json::Value {
        serde_json::json!({
            "name": c.name, "arity": c.arity, "flags": c.flags,
            "first_key": c.first_key, "last_key": c.last_key, "step": c.step,
            "acl_categories": c.acl_categories, "tips": c.tips,
            "key_specs": c.raw_key_specs.iter().map(back).collect::<Vec<_>>(),
            "subcommands": c.subcommands.iter().map(cmd).collect::<Vec<_>>(),
            "docs": back(&MetaValue::Map(c.docs())),
        })
    }
    let want: serde_json::Value = serde_json::from_str(COMMANDS_JSON).expect("valid JSON");
    // The extensions come on top of the recorded table.
    let extra: Vec<serde_json::Value> = serde_json::from_str(EXTENSIONS_JSON).expect("valid JSON");
    let extra: Vec<&str> = extra
        .iter()
        .filter_map(|e| e["command"]["name"].as_str())
        .collect();
    let recorded = |c: &CommandMeta| {
        let mut v = cmd(c);
        if let Some(subs) = v["subcommands"].as_array_mut() {
            subs.retain(|s| !extra.contains(&s["name"].as_str().unwrap_or("")));
        }
        v
    };
    let got = serde_json::Value::Array(all().iter().map(recorded).collect());
    assert_eq!(got, want);
    // And every key spec parsed into a known shape except SORT's
    // deliberately "unknown" ones.
    for c in all() {
        for s in &c.key_specs {
            let unknown = s.begin_search == BeginSearch::Unknown;
            assert!(!unknown || c.name.starts_with("sort"), "{}", c.name);
        }
    }
}

fn argv(words: &[String]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

/// Key positions and errors agree with the reference's COMMAND GETKEYS
/// for every recorded case.
#[test]
fn getkeys_matches_reference() {
    #[derive(Deserialize)]
    struct Case {
        argv: Vec<String>,
        keys: Option<Vec<String>>,
        error: Option<String>,
    }
    let cases: Vec<Case> = serde_json::from_slice(&testdata("getkeys.json")).expect("valid JSON");
    let mut checked = 0;
    for c in &cases {
        let a = argv(&c.argv);
        let got = command_getkeys(&a).map(|pos| {
            pos.iter()
                .map(|&p| String::from_utf8_lossy(&a[p]).into_owned())
                .collect::<Vec<_>>()
        });
        match (&c.keys, &c.error) {
            (Some(keys), _) => assert_eq!(got.as_ref(), Ok(keys), "{:?}", c.argv),
            (None, Some(e)) if e.starts_with("ERR wrong number") => continue,
            (None, Some(e)) => {
                let want = e.strip_prefix("ERR ").unwrap_or(e);
                assert_eq!(got, Err(want), "{:?}", c.argv);
            }
            (None, None) => panic!("bad case {:?}", c.argv),
        }
        checked += 1;
    }
    assert!(checked > 100);
}

/// Hostile argument vectors never panic and only yield in-range indices.
#[test]
fn getkeys_never_panics() {
    let words = [
        "",
        "0",
        "1",
        "-1",
        "2",
        "3",
        "-0",
        "+1",
        " 2",
        "99999999999999999999",
        "-9223372036854775808",
        "9223372036854775807",
        "streams",
        "STORE",
        "storedist",
        "keys",
        "auth",
        "auth2",
        "by",
        "get",
        "limit",
        "weights",
        "a",
        "\u{00ff}",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    fn visit(c: &'static CommandMeta, out: &mut Vec<&'static CommandMeta>) {
        out.push(c);
        c.subcommands.iter().for_each(|s| visit(s, out));
    }
    let mut every = Vec::new();
    all().iter().for_each(|c| visit(c, &mut every));
    for m in every {
        for len in 0..12 {
            for _ in 0..20 {
                let mut a: Vec<Bytes> = vec![Bytes::copy_from_slice(m.name.as_bytes())];
                for _ in 0..len {
                    let w = words[(next() % words.len() as u64) as usize];
                    a.push(Bytes::copy_from_slice(w.as_bytes()));
                }
                if let Ok(keys) = get_keys(m, &a) {
                    assert!(keys.iter().all(|&k| k >= 1 && k < a.len()), "{}", m.name);
                }
                let _ = command_getkeys(&a);
            }
        }
    }
    assert_eq!(command_getkeys(&[]), Err(ERR_INVALID_COMMAND));
}

#[test]
fn integer_parsers() {
    assert_eq!(parse_strict(b"12"), Some(12));
    assert_eq!(parse_strict(b"-3"), Some(-3));
    for bad in [
        &b""[..],
        b"+1",
        b" 1",
        b"1a",
        b"01",
        b"-",
        b"99999999999999999999",
    ] {
        assert_eq!(parse_strict(bad), None, "{bad:?}");
    }
    assert_eq!(parse_lenient(b" 2"), 2);
    assert_eq!(parse_lenient(b"2abc"), 2);
    assert_eq!(parse_lenient(b"+1"), 1);
    assert_eq!(parse_lenient(b"x"), 0);
    assert_eq!(parse_lenient(b"-7"), -7);
    assert_eq!(parse_lenient(b"99999999999999999999"), i64::MAX);
}
