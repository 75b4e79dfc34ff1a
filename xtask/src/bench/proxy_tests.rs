//! Tests of `proxy.rs`.

use super::*;

#[test]
fn targets_and_config() {
    assert_eq!(targets(1, Some(0.97), Some(1.2), Some(40.0)), "met");
    assert_eq!(
        targets(1, Some(0.9), Some(0.8), Some(150.0)),
        "missed <nutcracker <0.95x direct p50>+100us"
    );
    // The 0.95x target is for -P 1 only.
    assert_eq!(targets(16, Some(0.5), Some(1.1), Some(10.0)), "met");
    assert_eq!(targets(16, None, None, None), "-");
    assert_eq!(added_us(Some(0.5), Some(0.4)).map(f64::round), Some(100.0));
    assert!(added_us(None, Some(1.0)).is_none());
    let yml = nutcracker_yml(4000, 5000);
    assert!(yml.contains("listen: 127.0.0.1:4000\n"), "{yml}");
    assert!(yml.contains("- 127.0.0.1:5000:1\n"), "{yml}");
    assert!(yml.contains("redis: true\n"), "{yml}");
}
