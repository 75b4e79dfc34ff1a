//! Tests of `units.rs`.

use super::*;

#[test]
fn memory() {
    assert_eq!(parse_memory("0"), Some(0));
    assert_eq!(parse_memory("123"), Some(123));
    assert_eq!(parse_memory("10b"), Some(10));
    assert_eq!(parse_memory("1k"), Some(1000));
    assert_eq!(parse_memory("1K"), Some(1000));
    assert_eq!(parse_memory("1kb"), Some(1024));
    assert_eq!(parse_memory("1kB"), Some(1024));
    assert_eq!(parse_memory("2m"), Some(2_000_000));
    assert_eq!(parse_memory("2mb"), Some(2 * 1024 * 1024));
    assert_eq!(parse_memory("1g"), Some(1_000_000_000));
    assert_eq!(parse_memory("1GB"), Some(1 << 30));
    for bad in [
        "",
        "k",
        "-1",
        "+1",
        "1.5k",
        "1 k",
        " 1",
        "1t",
        "1kbb",
        "abc",
        "9223372036854775808",
    ] {
        assert_eq!(parse_memory(bad), None, "{bad}");
    }
    assert_eq!(parse_memory_u64("18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_memory_u64("18446744073709551616"), Some(u64::MAX));
    assert_eq!(
        parse_memory_u64("18446744073709551615kb"),
        Some(u64::MAX.wrapping_mul(1024))
    );
}

#[test]
fn booleans() {
    assert_eq!(parse_bool("yes"), Some(true));
    assert_eq!(parse_bool("YES"), Some(true));
    assert_eq!(parse_bool("No"), Some(false));
    assert_eq!(parse_bool("1"), None);
    assert_eq!(parse_bool("true"), None);
    assert_eq!(format_bool(true), "yes");
}
