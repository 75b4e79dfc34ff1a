//! Tests of `compact.rs`.

use super::*;

#[test]
fn listpack_roundtrip_all_encodings() {
    let long = vec![b'x'; 5000];
    let mid = vec![b'y'; 300];
    let ints = [
        0i64,
        127,
        128,
        -1,
        -4096,
        4095,
        4096,
        -4097,
        32767,
        -32768,
        32768,
        8388607,
        -8388608,
        8388608,
        2147483647,
        -2147483648,
        2147483648,
        i64::MAX,
        i64::MIN,
    ];
    let mut b = ListpackBuilder::new();
    for v in ints {
        b.push(v.to_string().as_bytes());
    }
    b.push(b"hello");
    b.push(&mid);
    b.push(&long);
    b.push(b"007");
    let lp = b.finish();
    let got = listpack_entries(&lp).unwrap();
    assert_eq!(got.len(), ints.len() + 4);
    for (i, v) in ints.iter().enumerate() {
        assert_eq!(got[i], Elem::Int(*v));
    }
    assert_eq!(got[ints.len()], Elem::Str(b"hello"));
    assert_eq!(got[ints.len() + 1], Elem::Str(&mid));
    assert_eq!(got[ints.len() + 2], Elem::Str(&long));
    assert_eq!(got[ints.len() + 3], Elem::Str(b"007"));
}

/// Bytes of a 3-element listpack written by the reference (RPUSH l a b c).
#[test]
fn listpack_reference_bytes() {
    let lp = [
        0x10, 0, 0, 0, 3, 0, 0x81, b'a', 2, 0x81, b'b', 2, 0x81, b'c', 2, 0xff,
    ];
    let got = listpack_entries(&lp).unwrap();
    assert_eq!(got, vec![Elem::Str(b"a"), Elem::Str(b"b"), Elem::Str(b"c")]);
    let mut b = ListpackBuilder::new();
    for s in [b"a", b"b", b"c"] {
        b.push(s);
    }
    assert_eq!(b.finish(), lp);
}

#[test]
fn listpack_rejects_corruption_without_panic() {
    let mut b = ListpackBuilder::new();
    b.push(b"abc");
    b.push(b"12345");
    b.push(&[b'z'; 200]);
    let lp = b.finish();
    for i in 0..lp.len() {
        for flip in [1u8, 0x80, 0xff] {
            let mut c = lp.clone();
            c[i] ^= flip;
            let _ = listpack_entries(&c);
        }
        let _ = listpack_entries(&lp[..i]);
    }
    let mut bad = lp.clone();
    bad[4] = 7;
    assert!(listpack_entries(&bad).is_err());
}

fn ziplist_of(entries: &[Vec<u8>]) -> Vec<u8> {
    // Builds a ziplist from pre-encoded entry bodies (encoding + data).
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut tail = 10usize;
    for e in entries {
        tail = 10 + body.len();
        let start = body.len();
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(254);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        body.extend_from_slice(e);
        prev = body.len() - start;
    }
    let mut zl = Vec::new();
    zl.extend_from_slice(&((11 + body.len()) as u32).to_le_bytes());
    zl.extend_from_slice(&(tail as u32).to_le_bytes());
    zl.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    zl.extend_from_slice(&body);
    zl.push(0xff);
    zl
}

#[test]
fn ziplist_all_encodings() {
    let mut long = vec![0x40 | 1, 44];
    long.extend_from_slice(&[b'q'; 300]);
    let mut huge = vec![0x80, 0, 0, 0x40, 0];
    huge.extend_from_slice(&[b'h'; 16384]);
    let entries = vec![
        vec![0x03, b'f', b'o', b'o'],
        long,
        huge,
        vec![0xc0, 0x39, 0x30],
        vec![0xd0, 0xff, 0xff, 0xff, 0x7f],
        vec![0xe0, 0, 0, 0, 0, 0, 0, 0, 0x80],
        vec![0xf0, 0xff, 0xff, 0xff],
        vec![0xfe, 0x80],
        vec![0xf1],
        vec![0xfd],
    ];
    let zl = ziplist_of(&entries);
    let got = ziplist_entries(&zl).unwrap();
    assert_eq!(got[0], Elem::Str(b"foo"));
    assert_eq!(got[1], Elem::Str(&[b'q'; 300]));
    assert_eq!(got[2], Elem::Str(&[b'h'; 16384]));
    assert_eq!(got[3], Elem::Int(12345));
    assert_eq!(got[4], Elem::Int(i32::MAX as i64));
    assert_eq!(got[5], Elem::Int(i64::MIN));
    assert_eq!(got[6], Elem::Int(-1));
    assert_eq!(got[7], Elem::Int(-128));
    assert_eq!(got[8], Elem::Int(0));
    assert_eq!(got[9], Elem::Int(12));
    for i in 0..zl.len() {
        let mut c = zl.clone();
        c[i] ^= 0x55;
        let _ = ziplist_entries(&c);
        let _ = ziplist_entries(&zl[..i]);
    }
    let mut bad = zl.clone();
    bad[10] = 9;
    assert!(ziplist_entries(&bad).is_err());
}

#[test]
fn intset_roundtrip_and_errors() {
    for set in [
        vec![1i64, 2, 3],
        vec![-40000, 5, 70000],
        vec![i64::MIN, 0, i64::MAX],
    ] {
        let enc = intset_encode(&set);
        assert_eq!(intset_entries(&enc).unwrap(), set);
    }
    assert_eq!(intset_encode(&[1, 2])[0], 2);
    assert_eq!(intset_encode(&[1, 70000])[0], 4);
    let enc = intset_encode(&[1, 2, 3]);
    assert!(intset_entries(&enc[..enc.len() - 1]).is_err());
    let mut unsorted = enc.clone();
    unsorted[8] = 9;
    assert!(intset_entries(&unsorted).is_err());
    let mut badenc = enc;
    badenc[0] = 3;
    assert!(intset_entries(&badenc).is_err());
}

#[test]
fn zipmap_decode() {
    // {"a": "xyz", "long": 300 x 'v'} with one free byte after "xyz".
    let mut zm = vec![2u8, 1, b'a', 3, 1, b'x', b'y', b'z', 0];
    zm.extend_from_slice(&[4, b'l', b'o', b'n', b'g', 254]);
    zm.extend_from_slice(&300u32.to_le_bytes());
    zm.push(0);
    zm.extend_from_slice(&[b'v'; 300]);
    zm.push(255);
    let got = zipmap_pairs(&zm).unwrap();
    assert_eq!(got[0], (&b"a"[..], &b"xyz"[..]));
    assert_eq!(got[1].0, b"long");
    assert_eq!(got[1].1.len(), 300);
    for i in 0..zm.len() {
        let _ = zipmap_pairs(&zm[..i]);
        let mut c = zm.clone();
        c[i] ^= 0xfe;
        let _ = zipmap_pairs(&c);
    }
}
