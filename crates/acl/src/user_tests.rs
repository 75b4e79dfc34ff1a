//! Tests for `user`: checks across selectors (cases from `ACL DRYRUN` on a
//! 7.0.15 reference), reply texts and the `ACL GETUSER` tree.

use super::*;
use crate::catalog::StaticCatalog;

fn user(rules: &[&str]) -> (User, StaticCatalog) {
    let cat = StaticCatalog::sample();
    let mut users = crate::Users::new();
    users.set_user(b"u", rules, &cat).unwrap();
    (users.get(b"u").unwrap().clone(), cat)
}

fn check(
    u: &User,
    cat: &StaticCatalog,
    cmd: &str,
    keys: &[(&[u8], KeyAccess)],
    channels: &[ChannelRef<'_>],
) -> Result<(), Denied> {
    let req = CheckRequest {
        cmd: cat.lookup_full(cmd).unwrap(),
        no_auth: cmd == "auth" || cmd == "hello",
        first_arg: None,
        keys,
        channels,
    };
    u.check(&req)
}

const RW: KeyAccess = KeyAccess::READ_WRITE;

#[test]
fn dryrun_cases_single_selector() {
    let (u, cat) = user(&["on", "nopass", "~k*", "%R~r*", "&ch*", "+@all", "-get"]);
    assert_eq!(
        check(&u, &cat, "get", &[(b"k1", KeyAccess::READ)], &[]),
        Err(Denied::Command)
    );
    assert_eq!(
        check(&u, &cat, "set", &[(b"k1", KeyAccess::WRITE)], &[]),
        Ok(())
    );
    assert_eq!(
        check(&u, &cat, "set", &[(b"x1", KeyAccess::WRITE)], &[]),
        Err(Denied::Key(0))
    );
    assert_eq!(
        check(&u, &cat, "set", &[(b"r1", KeyAccess::WRITE)], &[]),
        Err(Denied::Key(0))
    );
    assert_eq!(
        check(&u, &cat, "strlen", &[(b"r1", KeyAccess::READ)], &[]),
        Ok(())
    );
    let pubch = |name: &'static [u8], is_pattern| [ChannelRef { name, is_pattern }];
    assert_eq!(
        check(&u, &cat, "publish", &[], &pubch(b"ch1", false)),
        Ok(())
    );
    assert_eq!(
        check(&u, &cat, "publish", &[], &pubch(b"zz", false)),
        Err(Denied::Channel(0))
    );
    assert_eq!(
        check(&u, &cat, "psubscribe", &[], &pubch(b"ch*", true)),
        Ok(())
    );
    assert_eq!(
        check(&u, &cat, "psubscribe", &[], &pubch(b"ch1*", true)),
        Err(Denied::Channel(0))
    );
    assert_eq!(check(&u, &cat, "config|get", &[], &[]), Ok(()));
    // MSET k1 v x1 v x2 v: the first refused key is reported.
    let keys: [(&[u8], KeyAccess); 3] = [(b"k1", RW), (b"x1", RW), (b"x2", RW)];
    assert_eq!(check(&u, &cat, "mset", &keys, &[]), Err(Denied::Key(1)));
}

#[test]
fn dryrun_cases_with_selectors() {
    let (u, cat) = user(&["on", "nopass", "~k*", "+@all", "(~x* +get)"]);
    let keys: [(&[u8], KeyAccess); 2] = [(b"x1", RW), (b"k1", RW)];
    assert_eq!(check(&u, &cat, "mset", &keys, &[]), Err(Denied::Key(0)));
    assert_eq!(
        check(&u, &cat, "get", &[(b"x1", KeyAccess::READ)], &[]),
        Ok(())
    );
    assert_eq!(
        check(&u, &cat, "get", &[(b"zz", KeyAccess::READ)], &[]),
        Err(Denied::Key(0))
    );
    assert_eq!(
        check(&u, &cat, "exists", &[(b"r1", KeyAccess::NONE)], &[]),
        Err(Denied::Key(0))
    );
    // Channel beats key beats command; among equals the highest index.
    let (u, cat) = user(&["~a", "+@all", "(~b -@all +mset)", "(allkeys +@all)"]);
    assert_eq!(
        check(&u, &cat, "mset", &[(b"a", RW), (b"b", RW)], &[]),
        Ok(())
    );
    let (u, cat) = user(&["~a", "+@all", "(~b +@all)"]);
    assert_eq!(
        check(&u, &cat, "mset", &[(b"a", RW), (b"b", RW)], &[]),
        Err(Denied::Key(1))
    );
    let (u, cat) = user(&["~a", "+@all", "(allkeys -@all)"]);
    assert_eq!(
        check(&u, &cat, "mset", &[(b"b", RW)], &[]),
        Err(Denied::Key(0))
    );
}

#[test]
fn key_access_kinds_and_no_auth() {
    let (u, cat) = user(&["on", "nopass", "%W~w*", "+@all"]);
    assert_eq!(
        check(&u, &cat, "exists", &[(b"w1", KeyAccess::NONE)], &[]),
        Ok(())
    );
    assert_eq!(
        check(&u, &cat, "del", &[(b"w1", KeyAccess::WRITE)], &[]),
        Ok(())
    );
    assert_eq!(
        check(&u, &cat, "get", &[(b"w1", KeyAccess::READ)], &[]),
        Err(Denied::Key(0))
    );
    let (u, cat) = user(&["on", "nopass", "-@all", "+select|0"]);
    assert_eq!(check(&u, &cat, "auth", &[], &[]), Ok(()));
    assert_eq!(check(&u, &cat, "hello", &[], &[]), Ok(()));
    let select = cat.lookup("select").unwrap();
    let req = |arg: &'static [u8]| CheckRequest {
        cmd: select,
        no_auth: false,
        first_arg: Some(arg),
        keys: &[],
        channels: &[],
    };
    assert_eq!(u.check(&req(b"0")), Ok(()));
    assert_eq!(u.check(&req(b"1")), Err(Denied::Command));
}

#[test]
fn reply_texts_match_reference() {
    assert_eq!(
        Denied::Command.noperm_message("get"),
        "NOPERM this user has no permissions to run the 'get' command"
    );
    assert_eq!(
        Denied::Key(0).noperm_message("set"),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    assert_eq!(
        Denied::Channel(0).noperm_message("publish"),
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    );
    assert_eq!(
        Denied::Command.dryrun_message("get", b""),
        b"This user has no permissions to run the 'get' command".to_vec()
    );
    assert_eq!(
        Denied::Key(1).dryrun_message("set", b"x1"),
        b"This user has no permissions to access the 'x1' key".to_vec()
    );
    assert_eq!(
        Denied::Channel(0).dryrun_message("publish", b"zz"),
        b"This user has no permissions to access the 'zz' channel".to_vec()
    );
}

#[test]
fn getuser_reply() {
    let (u, cat) = user(&["on", "nopass", "~k*", "+@all", "(~x* +get)"]);
    let b = Value::bulk;
    let want = Value::map(vec![
        ("flags", Value::Set(vec![b("on"), b("nopass")])),
        ("passwords", Value::Array(vec![])),
        ("commands", b("+@all")),
        ("keys", b("~k*")),
        ("channels", b("")),
        (
            "selectors",
            Value::Array(vec![Value::map(vec![
                ("commands", b("-@all +get")),
                ("keys", b("~x*")),
                ("channels", b("")),
            ])]),
        ),
    ]);
    assert_eq!(u.getuser(&cat), want);
    let (u, cat) = user(&["skip-sanitize-payload", ">a"]);
    let Value::Map(fields) = u.getuser(&cat) else {
        panic!("not a map")
    };
    assert_eq!(
        fields[0].1,
        Value::Set(vec![b("off"), b("skip-sanitize-payload")])
    );
    assert_eq!(
        fields[1].1,
        Value::Array(vec![b(
            "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
        )])
    );
}

#[test]
fn user_level_key_and_channel_access() {
    let (u, _) = user(&["%R~a*", "&c", "(~b* &d*)"]);
    assert!(u.can_access_key(b"a1", KeyAccess::READ));
    assert!(!u.can_access_key(b"a1", KeyAccess::WRITE));
    assert!(u.can_access_key(b"b1", KeyAccess::WRITE));
    assert!(u.can_access_channel(ChannelRef {
        name: b"d1",
        is_pattern: false
    }));
    assert!(!u.can_access_channel(ChannelRef {
        name: b"e",
        is_pattern: false
    }));
}
