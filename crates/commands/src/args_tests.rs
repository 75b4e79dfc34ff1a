//! The cursor's contract: what each method takes and which error it
//! answers, and the SCAN option parser's error order.

use super::*;

fn argv(s: &[&str]) -> Vec<Bytes> {
    s.iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}

#[test]
fn typed_takes() {
    let v = argv(&["k", "12", "1.5", "COUNT", "3", "x"]);
    let mut a = Args::new(&v);
    assert_eq!(a.key().unwrap().as_ref(), b"k");
    assert_eq!(a.int().unwrap(), 12);
    assert_eq!(a.float().unwrap(), 1.5);
    assert!(!a.eat("match"));
    assert_eq!(
        a.eat_with_value("count").map(|b| b.as_ref()),
        Some(&b"3"[..])
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a.finish(), Err(SYNTAX));
    assert_eq!(a.keyword(&["y", "X"]), Some(1));
    assert!(a.is_empty());
    assert_eq!(a.finish(), Ok(()));
    assert_eq!(a.bytes(), Err(SYNTAX));
    assert_eq!(a.int(), Err(SYNTAX));
}

#[test]
fn parse_errors() {
    let v = argv(&["x", "nan", "", "-9223372036854775809"]);
    let mut a = Args::new(&v);
    assert_eq!(a.int(), Err(NOT_INTEGER));
    assert_eq!(a.float(), Err(NOT_FLOAT));
    assert_eq!(a.float_or(SYNTAX), Err(SYNTAX));
    assert_eq!(a.int(), Err(NOT_INTEGER));
    let v = argv(&["count"]);
    let mut a = Args::new(&v);
    assert_eq!(a.eat_with_value("count"), None);
    assert_eq!(a.take(2), Err(SYNTAX));
    assert_eq!(a.take(usize::MAX), Err(SYNTAX));
    assert_eq!(a.take(1).map(<[Bytes]>::len), Ok(1));
}

#[test]
fn scan_options() {
    let parse = |s: &[&str], t: bool| {
        let v = argv(s);
        ScanOpts::parse(Args::new(&v), t).map(|o| (o.count, o.pattern.map(<[u8]>::to_vec)))
    };
    assert_eq!(parse(&[], false), Ok((10, None)));
    assert_eq!(parse(&["match", "*", "COUNT", "5"], false), Ok((5, None)));
    assert_eq!(
        parse(&["match", "a*"], false),
        Ok((10, Some(b"a*".to_vec())))
    );
    assert_eq!(parse(&["count", "0"], false), Err(SYNTAX));
    assert_eq!(parse(&["count", "x", "bogus"], false), Err(NOT_INTEGER));
    assert_eq!(parse(&["bogus", "1", "count", "x"], false), Err(SYNTAX));
    assert_eq!(parse(&["count"], false), Err(SYNTAX));
    assert_eq!(parse(&["type", "string"], false), Err(SYNTAX));
    assert!(parse(&["type", "string"], true).is_ok());
    assert_eq!(scan_cursor(b""), Ok(0));
    assert_eq!(scan_cursor(b"-1"), Ok(u64::MAX));
    assert!(scan_cursor(b"18446744073709551616").is_err());
    assert!(scan_cursor(b" 1").is_err());
    assert!(scan_cursor(b"+").is_err());
}
