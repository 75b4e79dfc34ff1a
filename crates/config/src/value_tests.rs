//! Tests of `value.rs`.

use super::*;

#[test]
fn strict_integers() {
    assert_eq!(parse_strict_i64("10"), Some(10));
    assert_eq!(parse_strict_i64("-1"), Some(-1));
    assert_eq!(parse_strict_i64("0"), Some(0));
    for bad in [
        "010",
        "+5",
        " 5",
        "5 ",
        "-0",
        "0x10",
        "",
        "-",
        "99999999999999999999",
    ] {
        assert_eq!(parse_strict_i64(bad), None, "{bad}");
    }
}

#[test]
fn notify_formatting_matches_reference() {
    // Pairs recorded from redis-server 7.0.15 (CONFIG SET then GET).
    let cases = [
        ("ndmtexzhsl$gEK", "AKEm"),
        ("A", "A"),
        ("Am", "Am"),
        ("An", "A"),
        ("g$lshzxet", "g$lshzxet"),
        ("dmtgKE", "gtdKEm"),
        ("mn", "nm"),
        ("En", "nE"),
        ("xemKt", "xetKm"),
        ("KEA", "AKE"),
        ("", ""),
    ];
    let def = &crate::table::TABLE[crate::table::lookup("notify-keyspace-events").unwrap()];
    for (input, out) in cases {
        let v = parse(def, &[input.to_string()], &Value::Notify(0)).unwrap();
        assert_eq!(format_get(def, &v), out, "{input}");
    }
}

#[test]
fn memory_and_repr() {
    assert_eq!(format_memory(256 << 20), "256mb");
    assert_eq!(format_memory(1 << 30), "1gb");
    assert_eq!(format_memory(3072), "3kb");
    assert_eq!(format_memory(1000), "1000");
    assert_eq!(repr("a \"b\"\n\\\x01"), "\"a \\\"b\\\"\\n\\\\\\x01\"");
}
