//! Tests for `selector`: key, channel and command checks of one selector.

use super::*;
use crate::catalog::StaticCatalog;

fn selector(rules: &[&str]) -> (Selector, StaticCatalog) {
    let cat = StaticCatalog::sample();
    let mut s = Selector::new(PubsubDefault::ResetChannels);
    for r in rules {
        s.apply_rule(r.as_bytes(), &cat).unwrap();
    }
    (s, cat)
}

#[test]
fn key_permissions() {
    let (s, _) = selector(&["~k*", "%R~r*", "%W~w*"]);
    assert!(s.allows_key(b"k1", KeyAccess::READ_WRITE));
    assert!(s.allows_key(b"r1", KeyAccess::READ));
    assert!(!s.allows_key(b"r1", KeyAccess::WRITE));
    assert!(s.allows_key(b"w1", KeyAccess::WRITE));
    assert!(!s.allows_key(b"w1", KeyAccess::READ));
    assert!(
        s.allows_key(b"w1", KeyAccess::NONE),
        "EXISTS-like access needs any match"
    );
    assert!(!s.allows_key(b"x", KeyAccess::NONE));
    let (all, _) = selector(&["allkeys"]);
    assert!(all.allows_key(b"", KeyAccess::READ_WRITE));
    let (star, _) = selector(&["%RW~*"]);
    assert!(!star.all_keys());
    assert!(
        !star.allows_key(b"", KeyAccess::READ),
        "glob * never matches the empty key"
    );
}

#[test]
fn channel_permissions() {
    let (s, _) = selector(&["&ch*"]);
    let ch = |name: &'static [u8], is_pattern| ChannelRef { name, is_pattern };
    assert!(s.allows_channel(ch(b"ch1", false)));
    assert!(!s.allows_channel(ch(b"zz", false)));
    assert!(
        s.allows_channel(ch(b"ch*", true)),
        "a pattern equal to the ACL pattern"
    );
    assert!(
        !s.allows_channel(ch(b"ch1*", true)),
        "patterns are compared literally"
    );
    let (all, _) = selector(&["allchannels"]);
    assert!(all.allows_channel(ch(b"anything*", true)));
}

#[test]
fn command_permissions_and_first_args() {
    let (s, cat) = selector(&["-@all", "+select|0", "+get", "+config|get"]);
    let id = |n: &str| cat.lookup_full(n).unwrap();
    assert!(s.allows_command(id("select"), Some(b"0")));
    assert!(!s.allows_command(id("select"), Some(b"1")));
    assert!(!s.allows_command(id("select"), None));
    assert!(s.allows_command(id("get"), None));
    assert!(s.allows_command(id("config|get"), None));
    assert!(!s.allows_command(id("config|set"), None));
    let (s, _) = selector(&["-@all", "+select|Ab"]);
    assert!(
        s.allows_command(id("select"), Some(b"aB")),
        "first-args ignore case"
    );
    let (s, _) = selector(&["+@all", "-get"]);
    assert!(!s.all_commands());
    assert!(!s.allows_command(id("get"), None));
    assert!(s.allows_command(id("set"), None));
    let (s, _) = selector(&["+@all"]);
    assert!(s.all_commands());
    assert!(
        s.allows_command(CmdId(9999), None),
        "allcommands covers future commands"
    );
}

#[test]
fn getuser_field_texts() {
    let (s, cat) = selector(&["~a", "%R~b", "&x", "&y", "+get"]);
    assert_eq!(s.describe_keys(), b"~a %R~b".to_vec());
    assert_eq!(s.describe_channels(), b"&x &y".to_vec());
    assert_eq!(s.describe_commands(&cat), "-@all +get");
    let (s, _) = selector(&[]);
    assert_eq!(s.describe_keys(), b"".to_vec());
    assert_eq!(s.describe_channels(), b"".to_vec());
}

#[test]
fn prefix_patterns_match_like_the_glob() {
    let keys: [&[u8]; 7] = [b"", b"k", b"key", b"key:", b"key:1", b"kex:1", b"*"];
    for pat in [
        &b"*"[..],
        b"key:*",
        b"key*",
        b"k\\*",
        b"k?y:*",
        b"",
        b"key:1",
        b"[k]ey:*",
    ] {
        let p = KeyPattern::new(pat, true, true);
        for key in keys {
            assert_eq!(
                p.matches(key),
                string_match(pat, key, false),
                "{:?} {:?}",
                String::from_utf8_lossy(pat),
                String::from_utf8_lossy(key)
            );
        }
    }
}
