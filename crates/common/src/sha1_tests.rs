//! Tests of `sha1.rs`.

use super::sha1_hex;

#[test]
fn known_vectors() {
    assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(
        sha1_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
    );
    let million = vec![b'a'; 1_000_000];
    assert_eq!(
        sha1_hex(&million),
        "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
    );
    // Script ids as the reference server reports them.
    assert_eq!(sha1_hex(b"1"), "356a192b7913b04c54574d18c28d46e6395428ab");
    assert_eq!(
        sha1_hex(b"return 1"),
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
    );
}
