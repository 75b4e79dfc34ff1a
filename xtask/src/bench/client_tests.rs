//! Tests of `client.rs`.

use super::*;

#[test]
fn commands_and_info() {
    let mut out = Vec::new();
    Dataset::Strings.command(7, &mut out);
    assert_eq!(
        out,
        b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000007\r\n$10\r\nv000000007\r\n"
    );
    let mut out = Vec::new();
    Dataset::ZSets.command(1, &mut out);
    assert!(out.starts_with(b"*22\r\n$4\r\nZADD\r\n$17\r\nzset:000000000001\r\n$1\r\n0\r\n"));
    let info = "# Memory\r\nused_memory:123\r\nused_memory_rss:456\r\n";
    assert_eq!(info_field(info, "used_memory"), Some("123"));
    assert_eq!(info_field(info, "used_memory_rss"), Some("456"));
    assert_eq!(info_field(info, "used"), None);
}
