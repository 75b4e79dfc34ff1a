//! Tests for `aclfile`: `ACL LOAD` error texts captured from a 7.0.15
//! reference server, atomicity and `ACL SAVE` output.

use super::*;
use crate::catalog::StaticCatalog;

const F: &str = "/tmp/acltest/users.acl";

fn load(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let cat = StaticCatalog::sample();
    let mut users = Users::new();
    users
        .load_acl_file(F, text.as_bytes(), &cat)
        .map(|()| users.list(&cat))
        .map_err(|e| format!("ERR {e}"))
}

fn suffix(s: &str) -> String {
    format!("ERR {s}{LOAD_FAILED_SUFFIX}")
}

#[test]
fn load_errors_match_reference() {
    let cases: &[(&str, String)] = &[
        ("user default on nopass ~* &* +@all\nuser bob bogus\n", suffix(&format!("{F}:2: Syntax error. "))),
        ("user default on nopass ~* &* +@all\n\n   \n# comment\nuser bob on\n", suffix(&format!("{F}:4 should start with user keyword followed by the username. "))),
        (
            "user default on nopass ~* &* +@all\nuser bob +nosuch +nosuch2 bogus >x bogus2 -nosuch3\n",
            suffix(&format!(
                "{F}:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. \
                 {F}:2: Error in applying operation '+nosuch2': Unknown command or category name in ACL. \
                 {F}:2: Syntax error. \
                 {F}:2: Error in applying operation '-nosuch3': Unknown command or category name in ACL. "
            )),
        ),
        ("User bob on\n", suffix(&format!("{F}:1 should start with user keyword followed by the username. "))),
        ("user\n", suffix(&format!("{F}:1 should start with user keyword followed by the username. "))),
        ("user bob on\nuser bob off\n", suffix("WARNING: Duplicate user 'bob' found on line 2. ")),
        ("user bob   on  \"+get\"  \n", suffix(&format!("{F}:1: Syntax error. "))),
        (
            "  user   bob on  \t \nuser carol\tx\n",
            suffix(&format!("{F}:1: Syntax error. '{F}:2: username 'carol\tx' contains invalid characters. ")),
        ),
        ("user bob on\nuser bob on\nuser x bogus\n", suffix(&format!("WARNING: Duplicate user 'bob' found on line 2. {F}:3: Syntax error. "))),
        ("user bob on #abc >x <y\n", suffix(&format!("{F}:1: The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters. "))),
        ("user bob on %X~a bogus\n", suffix(&format!("{F}:1: Syntax error. "))),
        ("user bob on (+get ~x\n", suffix(&format!("{F}:1: Unmatched parenthesis in selector definition."))),
    ];
    for (text, want) in cases {
        assert_eq!(&load(text).unwrap_err(), want, "file {text:?}");
    }
}

#[test]
fn load_successes_match_reference() {
    let lines = |v: Vec<Vec<u8>>| {
        v.into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        lines(load("user bob on (+get ~x) (~y  &z)\n").unwrap()),
        [
            "user bob on resetchannels -@all (~x resetchannels -@all +get) (~y resetchannels &z -@all)",
            "user default on nopass ~* &* +@all",
        ]
    );
    assert_eq!(
        lines(load("user bob on\r\nuser carol on +get\r\n").unwrap()),
        [
            "user bob on resetchannels -@all",
            "user carol on resetchannels -@all +get",
            "user default on nopass ~* &* +@all",
        ]
    );
    assert_eq!(
        lines(load("user default off\n").unwrap()),
        ["user default off resetchannels -@all"]
    );
    assert_eq!(
        lines(load("").unwrap()),
        ["user default on nopass ~* &* +@all"]
    );
}

#[test]
fn failed_load_changes_nothing_and_save_round_trips() {
    let cat = StaticCatalog::sample();
    let mut users = Users::new();
    users
        .set_user(
            b"alice",
            &["on", ">pw", "~a*", "+get", "(%R~b* +@read)"],
            &cat,
        )
        .unwrap();
    let before = users.clone();
    assert!(users
        .load_acl_file(F, b"user x on\nuser y bogus\n", &cat)
        .is_err());
    assert_eq!(users, before);
    let saved = users.to_acl_file(&cat);
    assert_eq!(
        String::from_utf8(saved.clone()).unwrap(),
        "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* \
         resetchannels -@all +get (%R~b* resetchannels -@all +@read)\n\
         user default on nopass ~* &* +@all\n"
    );
    let mut again = Users::new();
    again.set_user(b"zed", &["on"], &cat).unwrap();
    again.load_acl_file(F, &saved, &cat).unwrap();
    assert_eq!(again, users);
}
