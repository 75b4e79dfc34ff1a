//! Tests of `resp.rs`.

use super::*;

fn full(s: &[u8]) {
    assert_eq!(reply_len(s), Ok(Some(s.len())), "{}", escape(s));
    for cut in 0..s.len() {
        assert_eq!(
            reply_len(&s[..cut]),
            Ok(None),
            "prefix {cut} of {}",
            escape(s)
        );
    }
}

#[test]
fn simple_types() {
    for s in [
        &b"+OK\r\n"[..],
        b"-ERR x\r\n",
        b":-12\r\n",
        b"_\r\n",
        b",3.14\r\n",
        b"#t\r\n",
        b"(123456789012345678901234567890\r\n",
    ] {
        full(s);
    }
}

#[test]
fn bulk_types_and_nulls() {
    full(b"$3\r\nfoo\r\n");
    full(b"$0\r\n\r\n");
    full(b"$-1\r\n");
    full(b"$4\r\na\r\nb\r\n");
    full(b"=15\r\ntxt:Some string\r\n");
    full(b"!10\r\nERR oops!!\r\n");
}

#[test]
fn aggregates_nested_and_null() {
    full(b"*-1\r\n");
    full(b"*0\r\n");
    full(b"*2\r\n$1\r\na\r\n*2\r\n:1\r\n*0\r\n");
    full(b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n_\r\n");
    full(b"~2\r\n+a\r\n+b\r\n");
    full(b">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n");
    full(b"|1\r\n+ttl\r\n:3\r\n$1\r\nx\r\n");
}

#[test]
fn stops_after_first_reply() {
    assert_eq!(reply_len(b"+OK\r\n+OK\r\n"), Ok(Some(5)));
    assert_eq!(reply_len(b"*1\r\n:1\r\n:2\r\n"), Ok(Some(8)));
}

#[test]
fn framing_errors() {
    assert!(matches!(
        reply_len(b"?x\r\n"),
        Err(ScanError::BadType { .. })
    ));
    assert!(matches!(
        reply_len(b"$x\r\n"),
        Err(ScanError::BadLength { .. })
    ));
    assert!(matches!(
        reply_len(b"*-2\r\n"),
        Err(ScanError::BadLength { .. })
    ));
    assert!(matches!(
        reply_len(b"$1\r\nab\r\n"),
        Err(ScanError::MissingCrlf { .. })
    ));
}

#[test]
fn escape_shows_framing() {
    assert_eq!(escape(b"+OK\r\n\x00\\"), "+OK\\r\\n\\x00\\\\");
}

#[test]
fn normalize_sorts_arrays_and_map_pairs() {
    let a = normalize_unordered(b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n");
    let b = normalize_unordered(b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n");
    assert_eq!(a, b);
    let m1 = normalize_unordered(b"%2\r\n+b\r\n:2\r\n+a\r\n:1\r\n");
    assert_eq!(m1, b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n");
    // Different members must still differ after normalizing.
    assert_ne!(
        normalize_unordered(b"*1\r\n+a\r\n"),
        normalize_unordered(b"*1\r\n+b\r\n")
    );
    // Garbage passes through untouched.
    assert_eq!(normalize_unordered(b"*2\r\n+a\r\n"), b"*2\r\n+a\r\n");
}
