//! Tests of `digest.rs`.

use super::*;

fn hex(d: [u8; DIGEST_LEN]) -> String {
    Digest20(d).to_hex()
}

#[test]
fn sha1_known_vectors() {
    assert_eq!(hex(sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_eq!(
        hex(sha1(b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hex(sha1(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
    );
    assert_eq!(
        hex(sha1(b"The quick brown fox jumps over the lazy dog")),
        "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
    );
    let million_a = vec![b'a'; 1_000_000];
    assert_eq!(
        hex(sha1(&million_a)),
        "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
    );
}

#[test]
fn sha1_block_boundaries_and_streaming() {
    // Lengths around the 55/56/64 padding edges, recorded with an
    // independent SHA-1 (Python hashlib) over bytes i % 251.
    let expected = [
        (55usize, "8ae2d46729cfe68ff927af5eec9c7d1b66d65ac2"),
        (56, "636e2ec698dac903498e648bd2f3af641d3c88cb"),
        (63, "6d942da0c4392b123528f2905c713a3ce28364bd"),
        (64, "c6138d514ffa2135bfce0ed0b8fac65669917ec7"),
        (65, "69bd728ad6e13cd76ff19751fde427b00e395746"),
        (1000, "c9c960a0b925474fab83942cc27d504fc24ac37b"),
    ];
    for (len, want) in expected {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        assert_eq!(hex(sha1(&data)), want, "len {len}");
        // Any split into update() calls must give the same result.
        for split in [0, 1, 7, 63, 64, len / 2, len] {
            let split = split.min(len);
            let mut h = Sha1::new();
            h.update(&data[..split]);
            h.update(&data[split..]);
            assert_eq!(hex(h.finalize()), want, "len {len} split {split}");
        }
    }
}

#[test]
fn hex_and_zero() {
    assert_eq!(Digest20::ZERO.to_hex(), "0".repeat(40));
    assert!(DatasetDigest::new().finish().is_zero());
    let mut d = [0u8; 20];
    d[0] = 0xab;
    d[19] = 0x01;
    assert_eq!(
        Digest20(d).to_hex(),
        "ab00000000000000000000000000000000000001"
    );
}

#[test]
fn mix_is_order_dependent_xor_is_not() {
    let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
    mix_digest(&mut a, b"x");
    mix_digest(&mut a, b"y");
    mix_digest(&mut b, b"y");
    mix_digest(&mut b, b"x");
    assert_ne!(a, b);
    let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
    xor_digest(&mut a, b"x");
    xor_digest(&mut a, b"y");
    xor_digest(&mut b, b"y");
    xor_digest(&mut b, b"x");
    assert_eq!(a, b);
}

// The vectors below were recorded from redis-server 7.0.15.

#[test]
fn reference_single_string() {
    // SET foo bar ; DEBUG DIGEST
    let mut ds = DatasetDigest::new();
    ds.begin_db(0);
    ds.add_key(&string_key_digest(b"foo", b"bar", None));
    assert_eq!(
        ds.finish().to_hex(),
        "d2ab4820c1be0580ea28efbfe8bfa1dc05bb802a"
    );
    // DEBUG DIGEST-VALUE foo
    assert_eq!(
        hex(string_value_digest(b"bar", false)),
        "68467c70ae30376e7ce005bcc8827f5ba7fd67dc"
    );
    // SET counter 12345 (int encoded) ; DEBUG DIGEST-VALUE counter
    assert_eq!(
        hex(string_value_digest(b"12345", false)),
        "e1cf90774e995ae03de66e8109dc5cb9d9c2dc83"
    );
}

#[test]
fn reference_two_dbs_with_and_without_ttl() {
    // db0: foo=bar ; db3: k3=12345
    let mut ds = DatasetDigest::new();
    ds.begin_db(0);
    ds.add_key(&string_key_digest(b"foo", b"bar", None));
    ds.begin_db(3);
    ds.add_key(&string_key_digest(b"k3", b"12345", None));
    assert_eq!(
        ds.finish().to_hex(),
        "36123a08013d3a3d9e565906220f1394af8fb71f"
    );
    // EXPIRE foo 100 / 100000 / PEXPIREAT far future: all the same.
    for deadline in [1_700_000_100_000i64, 1_700_100_000_000, 99_999_999_999_999] {
        let mut ds = DatasetDigest::new();
        ds.begin_db(0);
        ds.add_key(&string_key_digest(b"foo", b"bar", Some(deadline)));
        ds.begin_db(3);
        ds.add_key(&string_key_digest(b"k3", b"12345", None));
        assert_eq!(
            ds.finish().to_hex(),
            "eebd602407329695f3921b45539fce2e2d74a50d"
        );
    }
}

#[test]
fn reference_multi_db_fixture() {
    // db0: foo=bar, counter=12345, empty=""
    // db1: foo=bar, ttlkey=v1 EX 1000
    // db15: key "bin" = value "a<TAB>b" PX 999999
    let mut ds = DatasetDigest::new();
    ds.begin_db(0);
    // Key order inside a db must not matter.
    ds.add_key(&string_key_digest(b"empty", b"", None));
    ds.add_key(&string_key_digest(b"foo", b"bar", None));
    ds.add_key(&string_key_digest(b"counter", b"12345", None));
    ds.begin_db(1);
    ds.add_key(&string_key_digest(b"ttlkey", b"v1", Some(1)));
    ds.add_key(&string_key_digest(b"foo", b"bar", None));
    ds.begin_db(15);
    ds.add_key(&string_key_digest(b"bin", b"a\tb", Some(2)));
    assert_eq!(
        ds.finish().to_hex(),
        "6b2ab14c226a5a81ea23f2b4ea87f28676dd02e1"
    );
    assert_eq!(
        hex(string_value_digest(b"v1", true)),
        "fdbc08132c3516bc3b402f3e692addfa7876397d"
    );
}

fn list_value(elems: &[&[u8]]) -> [u8; 20] {
    let mut d = [0u8; 20];
    begin_object(&mut d, ObjType::List);
    for e in elems {
        mix_digest(&mut d, e);
    }
    finish_object(&mut d, false);
    d
}

fn hash_value(pairs: &[(&[u8], &[u8])]) -> [u8; 20] {
    let mut d = [0u8; 20];
    begin_object(&mut d, ObjType::Hash);
    for (f, v) in pairs {
        xor_digest(&mut d, &pair_digest(f, v));
    }
    finish_object(&mut d, false);
    d
}

#[test]
fn reference_collection_values() {
    // RPUSH l a b 123
    assert_eq!(
        hex(list_value(&[b"a", b"b", b"123"])),
        "89c604f28d33238a0c4a93e676d3be6fbcda6c71"
    );
    // HSET h f1 v1 f2 v2 (order-independent)
    assert_eq!(
        hex(hash_value(&[(b"f2", b"v2"), (b"f1", b"v1")])),
        "047cc60ea73a34cde6d08a2721a4a26d19ee6570"
    );
    // SADD s x y 7
    let mut d = [0u8; 20];
    begin_object(&mut d, ObjType::Set);
    for m in [&b"7"[..], b"x", b"y"] {
        xor_digest(&mut d, m);
    }
    assert_eq!(hex(d), "a6afcc473373536adb071da403abcb70a693d104");
    // ZADD z 1.1 m1 2 m2
    let mut d = [0u8; 20];
    begin_object(&mut d, ObjType::ZSet);
    for (m, s) in [(&b"m1"[..], 1.1), (b"m2", 2.0)] {
        xor_digest(&mut d, &pair_digest(m, format_score_g17(s).as_bytes()));
    }
    assert_eq!(hex(d), "3f34ba66e9d1d6e57a1b3acf41eb067a21d1ab02");
    // XADD st 1-1 a 1 b 2 ; XADD st 5-0 c 3
    let mut d = [0u8; 20];
    begin_object(&mut d, ObjType::Stream);
    for part in [&b"1.1"[..], b"a", b"1", b"b", b"2", b"5.0", b"c", b"3"] {
        mix_digest(&mut d, part);
    }
    assert_eq!(hex(d), "399e4603d6d46a82ff4ae306ca4f286e5db30ed5");
}

#[test]
fn reference_full_dataset_with_collections() {
    // The multi-db fixture plus db2 holding l, h, s, z, st above.
    let mut ds = DatasetDigest::new();
    ds.begin_db(0);
    ds.add_key(&string_key_digest(b"foo", b"bar", None));
    ds.add_key(&string_key_digest(b"counter", b"12345", None));
    ds.add_key(&string_key_digest(b"empty", b"", None));
    ds.begin_db(1);
    ds.add_key(&string_key_digest(b"foo", b"bar", None));
    ds.add_key(&string_key_digest(b"ttlkey", b"v1", Some(5)));
    ds.begin_db(2);
    let mut l = key_seed(b"l");
    begin_object(&mut l, ObjType::List);
    for e in [&b"a"[..], b"b", b"123"] {
        mix_digest(&mut l, e);
    }
    finish_object(&mut l, false);
    ds.add_key(&l);
    let mut h = key_seed(b"h");
    begin_object(&mut h, ObjType::Hash);
    xor_digest(&mut h, &pair_digest(b"f1", b"v1"));
    xor_digest(&mut h, &pair_digest(b"f2", b"v2"));
    finish_object(&mut h, false);
    ds.add_key(&h);
    let mut s = key_seed(b"s");
    begin_object(&mut s, ObjType::Set);
    for m in [&b"x"[..], b"y", b"7"] {
        xor_digest(&mut s, m);
    }
    ds.add_key(&s);
    let mut z = key_seed(b"z");
    begin_object(&mut z, ObjType::ZSet);
    xor_digest(&mut z, &pair_digest(b"m1", b"1.1000000000000001"));
    xor_digest(&mut z, &pair_digest(b"m2", b"2"));
    ds.add_key(&z);
    let mut st = key_seed(b"st");
    begin_object(&mut st, ObjType::Stream);
    for part in [&b"1.1"[..], b"a", b"1", b"b", b"2", b"5.0", b"c", b"3"] {
        mix_digest(&mut st, part);
    }
    ds.add_key(&st);
    ds.begin_db(15);
    ds.add_key(&string_key_digest(b"bin", b"a\tb", Some(9)));
    assert_eq!(
        ds.finish().to_hex(),
        "0d984e57b8241ede0d63f5673bb670b3379b97ee"
    );
}

#[test]
fn score_formatting_matches_printf_g17() {
    // Expected strings from C/Python "%.17g".
    let cases = [
        (1.1, "1.1000000000000001"),
        (2.0, "2"),
        (0.1, "0.10000000000000001"),
        (-3.0, "-3"),
        (1e300, "1.0000000000000001e+300"),
        (1e-5, "1.0000000000000001e-05"),
        (0.0001, "0.0001"),
        (1e16, "10000000000000000"),
        (1e17, "1e+17"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (5e-324, "4.9406564584124654e-324"),
        (2.5, "2.5"),
        (-0.0, "-0"),
        (0.0, "0"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (1.0 / 3.0, "0.33333333333333331"),
        (1e23, "9.9999999999999992e+22"),
    ];
    for (x, want) in cases {
        assert_eq!(format_score_g17(x), want, "{x:e}");
    }
}
