//! Tests of the raw reply scanner.

use super::*;

fn lens(wire: &[u8]) -> Vec<usize> {
    let mut s = RawScanner::default();
    let mut out = Vec::new();
    let mut rest = wire;
    while let Some(n) = s.next_len(rest).unwrap() {
        out.push(n);
        rest = &rest[n..];
    }
    assert!(rest.is_empty(), "left over: {rest:?}");
    out
}

#[test]
fn every_type_is_framed() {
    let wire: &[u8] = b"+OK\r\n-ERR x\r\n:1\r\n$3\r\nfoo\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n:2\r\n\
        %1\r\n+k\r\n*1\r\n_\r\n|1\r\n+a\r\n:1\r\n:5\r\n>2\r\n+m\r\n,1.5\r\n=7\r\ntxt:abc\r\n*0\r\n";
    assert_eq!(lens(wire), vec![5, 8, 4, 9, 5, 5, 15, 15, 16, 14, 13, 4]);
}

#[test]
fn split_input_resumes() {
    let wire: &[u8] = b"*3\r\n$5\r\nhello\r\n*1\r\n:7\r\n$-1\r\n";
    let mut s = RawScanner::default();
    for cut in 0..wire.len() {
        assert_eq!(s.next_len(&wire[..cut]).unwrap(), None, "cut {cut}");
    }
    assert_eq!(s.next_len(wire).unwrap(), Some(wire.len()));
}

#[test]
fn garbage_is_refused() {
    let mut s = RawScanner::default();
    assert!(s.next_len(b"?x\r\n").is_err());
    let mut s = RawScanner::default();
    assert!(s.next_len(b"*abc\r\n").is_err());
    let mut s = RawScanner::default();
    assert!(s
        .next_len(b"*2147483647\r\n*2147483647\r\n*2147483647\r\n")
        .is_ok());
}

#[test]
fn error_text_and_decode() {
    assert_eq!(error_text(b"-MOVED 1 a:1\r\n"), Some(&b"MOVED 1 a:1"[..]));
    assert_eq!(error_text(b"+OK\r\n"), None);
    let f = decode(&Bytes::from_static(b"*1\r\n:3\r\n")).unwrap();
    assert_eq!(f, Frame::Array(vec![Frame::Integer(3)]));
    assert_eq!(&error_reply("ERR x")[..], b"-ERR x\r\n");
}
