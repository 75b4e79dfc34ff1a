//! Unit tests of `acl.rs`: the dispatcher's permission check over a real
//! command table (its cost: `benches/acl_check.rs`).

use super::*;
use crate::ctx::Ctx;
use crate::error::CmdResult;

fn nop(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    unreachable!("the ACL tests run no command")
}

fn registry() -> &'static Registry {
    static REG: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REG.get_or_init(|| {
        let h: &[(&str, crate::table::Handler)] = &[
            ("set", nop),
            ("get", nop),
            ("mset", nop),
            ("publish", nop),
            ("ping", nop),
        ];
        Registry::build(&[h]).unwrap()
    })
}

fn user(rules: &[&str]) -> User {
    let cat = EngineCatalog::new(registry());
    let mut u = User::new(b"app", PubsubDefault::ResetChannels);
    for r in rules {
        u.apply_rule(r.as_bytes(), &cat, PubsubDefault::ResetChannels)
            .unwrap();
    }
    u
}

fn argv(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn check(u: &User, words: &[&str]) -> Result<(), (Denied, Vec<u8>)> {
    let a = argv(words);
    let cmd = registry()
        .resolve(&a)
        .map_err(|_| (Denied::Command, Vec::new()))?;
    check_user(u, cmd, &a)
}

#[test]
fn a_prefix_user_reaches_its_keys_only() {
    let u = user(&["on", "nopass", "~key:*", "+@all"]);
    assert!(check(&u, &["set", "key:1", "v"]).is_ok());
    assert!(check(&u, &["get", "key:1"]).is_ok());
    assert_eq!(
        check(&u, &["set", "other", "v"]),
        Err((Denied::Key(0), b"other".to_vec()))
    );
    assert_eq!(
        check(&u, &["mset", "key:1", "a", "key:2", "b", "x", "c"]),
        Err((Denied::Key(2), b"x".to_vec()))
    );
    assert_eq!(
        check(&u, &["publish", "ch", "m"]),
        Err((Denied::Channel(0), b"ch".to_vec()))
    );
}

#[test]
fn read_and_write_patterns_follow_the_key_specs() {
    let u = user(&["on", "nopass", "%R~ro:*", "%RW~rw:*", "+@all"]);
    assert!(check(&u, &["get", "ro:1"]).is_ok());
    assert!(check(&u, &["set", "rw:1", "v"]).is_ok());
    assert_eq!(
        check(&u, &["set", "ro:1", "v"]),
        Err((Denied::Key(0), b"ro:1".to_vec()))
    );
    // SET ... GET also reads its key: still a write to a read-only key.
    assert!(check(&u, &["set", "ro:1", "v", "get"]).is_err());
    assert!(check(&u, &["set", "rw:1", "v", "get"]).is_ok());
}

#[test]
fn a_command_outside_the_rules_is_refused() {
    let u = user(&["on", "nopass", "~*", "+get"]);
    assert!(check(&u, &["get", "a"]).is_ok());
    assert_eq!(
        check(&u, &["set", "a", "b"]),
        Err((Denied::Command, b"set".to_vec()))
    );
    // PING is not no-auth: refused like any command.
    assert!(check(&u, &["ping"]).is_err());
}

#[test]
fn the_one_selector_path_agrees_with_the_general_one() {
    let rules = ["on", "nopass", "%R~ro:*", "~key:*", "+@all", "-ping"];
    let single = user(&rules);
    // An extra selector that allows nothing sends every check down the
    // general path without changing any verdict.
    let mut both = rules.to_vec();
    both.push("()");
    let general = user(&both);
    for words in [
        &["get", "key:1"][..],
        &["get", "ro:1"][..],
        &["set", "ro:1", "v"][..],
        &["set", "x", "v"][..],
        &["set", "key:1", "v", "get"][..],
        &["mset", "key:1", "a", "ro:2", "b", "key:3", "c"][..],
        &["mset", "key:1", "a", "x", "b", "y", "c"][..],
        &["ping"][..],
        &["publish", "ch", "m"][..],
    ] {
        assert_eq!(check(&single, words), check(&general, words), "{words:?}");
    }
}
