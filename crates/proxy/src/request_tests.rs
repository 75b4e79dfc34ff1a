//! Tests of the in-place request scanner.

use super::*;

fn scan_all(b: &[u8]) -> (Scan, Vec<(usize, usize)>) {
    let mut r = Vec::new();
    let s = scan(b, &mut r, 512 << 20);
    (s, r)
}

#[test]
fn complete_requests_and_ranges() {
    let raw = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
    let (s, r) = scan_all(raw);
    assert_eq!(s, Scan::Complete(20));
    let args = Args { raw, ranges: &r };
    assert_eq!(args.get(0), Some(&b"GET"[..]));
    assert_eq!(args.get(1), Some(&b"k"[..]));
    assert_eq!(args.get(2), None);
    let (s, r) = scan_all(&raw[20..]);
    assert_eq!(s, Scan::Complete(14));
    assert_eq!(r, vec![(8, 12)]);
    // An empty bulk.
    assert_eq!(
        scan_all(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n").0,
        Scan::Complete(19)
    );
}

#[test]
fn incomplete_requests_wait() {
    let raw = b"*2\r\n$3\r\nGET\r\n$10\r\nabc";
    for cut in 0..raw.len() {
        let (s, _) = scan_all(&raw[..cut]);
        assert!(matches!(s, Scan::Incomplete(_)), "cut {cut}: {s:?}");
    }
    assert_eq!(scan_all(raw).0, Scan::Incomplete(Some(30)));
}

#[test]
fn anything_unusual_goes_slow() {
    for bad in [
        &b"PING\r\n"[..],
        b"*0\r\n",
        b"*-1\r\n",
        b"*1\r\n$abc\r\n",
        b"*01\r\n$4\r\nPING\r\n",
        b"*1\r\n+4\r\nPING\r\n",
        b"*1\r\n$4\rxPING\r\n",
        b"*+1\r\n",
        b"*1\x00\r\n",
        b"*99999999999999999999\r\n",
    ] {
        assert_eq!(
            scan_all(bad).0,
            Scan::Slow,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // A bulk over the limit.
    let mut r = Vec::new();
    assert_eq!(scan(b"*1\r\n$100\r\n", &mut r, 10), Scan::Slow);
    // A header that never ends.
    let long = [b'1'; 40];
    let mut b = b"*".to_vec();
    b.extend_from_slice(&long);
    assert_eq!(scan_all(&b).0, Scan::Slow);
}

#[test]
fn arg_lists() {
    let v = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
    assert_eq!(v.count(), 2);
    assert_eq!(v.arg(1), Some(&b"b"[..]));
    assert_eq!(v.as_slice().arg(2), None);
    let raw = b"*1\r\n$1\r\nx\r\n";
    let (_, r) = scan_all(raw);
    let a = Args { raw, ranges: &r };
    assert_eq!(a.to_vec(), vec![Bytes::from_static(b"x")]);
    assert!(!a.is_empty());
}
