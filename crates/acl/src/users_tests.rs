//! Tests for `users`: `ACL SETUSER` atomicity and error texts (captured
//! from a 7.0.15 reference server), `ACL LIST` descriptions, deletion,
//! authentication, `requirepass` and `ACL GENPASS`.

use super::*;
use crate::catalog::StaticCatalog;

fn setuser(users: &mut Users, name: &str, rules: &[&str]) -> Result<(), String> {
    let cat = StaticCatalog::sample();
    users
        .set_user(name.as_bytes(), rules, &cat)
        .map_err(|e| format!("ERR {e}"))
}

/// The `ACL LIST` line of `name` after `ACL SETUSER name rules...`.
fn list_after(rules: &[&str]) -> String {
    let cat = StaticCatalog::sample();
    let mut users = Users::new();
    setuser(&mut users, "u", rules).unwrap();
    String::from_utf8(users.get(b"u").unwrap().acl_list_line(&cat)).unwrap()
}

fn err_of(rules: &[&str]) -> String {
    let mut users = Users::new();
    setuser(&mut users, "e", rules).unwrap_err()
}

#[test]
fn default_user_and_new_user() {
    let cat = StaticCatalog::sample();
    let users = Users::new();
    assert_eq!(
        users.list(&cat),
        vec![b"user default on nopass ~* &* +@all".to_vec()]
    );
    assert_eq!(list_after(&[]), "user u off resetchannels -@all");
}

#[test]
fn command_rule_descriptions_match_reference() {
    let cases: &[(&[&str], &str)] = &[
        (&["on", ">pw", "+@all", "-get"], "user u on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 resetchannels +@all -get"),
        (&["-@all", "+get", "+set"], "user u off resetchannels -@all +get +set"),
        (&["+@read", "-@write", "+set"], "user u off resetchannels -@all +@read +set"),
        (&["+config|get"], "user u off resetchannels -@all +config|get"),
        (&["+@all", "-config|set"], "user u off resetchannels +@all -config|set"),
        (&["-config|set"], "user u off resetchannels -@all"),
        (&["+@all", "-config", "+config|get"], "user u off resetchannels +@all -config +config|get"),
        (&["allcommands", "nocommands", "+get", "-get", "+@hash"], "user u off resetchannels -@all +@hash"),
        (&["-@all", "+get", "+@read"], "user u off resetchannels -@all +@read"),
        (&["-@all", "+@read", "+@write"], "user u off resetchannels -@all +@write +@read"),
        (&["+@all", "-@write", "+@write"], "user u off resetchannels +@all"),
        (&["-@all", "+@read", "-get", "+get"], "user u off resetchannels -@all +@read"),
        (&["-@all", "+select|0", "+select|1"], "user u off resetchannels -@all +select|0 +select|1"),
        (&["-@all", "+config|get", "+config|set"], "user u off resetchannels -@all +config|get +config|set"),
        (&["-@all", "+config"], "user u off resetchannels -@all +config"),
        (&["+@all", "-@dangerous"], "user u off resetchannels +@all -@dangerous"),
        (&["-@all", "+@all", "-@keyspace"], "user u off resetchannels +@all -@keyspace"),
        (&["-@all", "+client|list", "+@connection"], "user u off resetchannels -@all +@connection"),
        (&["-@all", "+select|0", "+select|0", "+select|1", "+select"], "user u off resetchannels -@all +select"),
        (&["-@all", "+select|0", "+select|1", "-select"], "user u off resetchannels -@all"),
        (&["-@all", "+select|0", "+@all"], "user u off resetchannels +@all"),
        (&["+@all", "+select|0"], "user u off resetchannels +@all"),
        (&["+@all", "-select", "+select|0", "+SELECT|Ab"], "user u off resetchannels +@all -select +select|0 +select|Ab"),
        (&["+@all", "-@keyspace", "+select|0", "+@connection"], "user u off resetchannels +@all -@keyspace"),
        (&["+GET", "+Config|GET"], "user u off resetchannels -@all +get +config|get"),
        (&["+@READ"], "user u off resetchannels -@all +@read"),
    ];
    for (rules, want) in cases {
        assert_eq!(list_after(rules), *want, "rules {rules:?}");
    }
}

#[test]
fn flag_password_key_channel_descriptions_match_reference() {
    let cases: &[(&[&str], &str)] = &[
        (&["~"], "user u off ~ resetchannels -@all"),
        (&["&"], "user u off resetchannels & -@all"),
        (&["%R"], "user u off %R~ resetchannels -@all"),
        (&["%R~"], "user u off %R~ resetchannels -@all"),
        (&["~a", "%R~a"], "user u off ~a resetchannels -@all"),
        (&["%W~a", "~a"], "user u off ~a resetchannels -@all"),
        (&["%R~a", "%W~a"], "user u off ~a resetchannels -@all"),
        (&["~a", "~a", "&b", "&b", "%R~a"], "user u off ~a resetchannels &b -@all"),
        (&["%rw~a", "%W~b", "%R~c", "~d"], "user u off ~a %W~b %R~c ~d resetchannels -@all"),
        (&[">p1", ">p2", ">p1", "nopass"], "user u off nopass resetchannels -@all"),
        (&["nopass", ">p2"], "user u off #3946ca64ff78d93ca61090a437cbb6b3d2ca0d488f5f9ccf3059608368b27693 resetchannels -@all"),
        (&[">p1", "resetpass"], "user u off resetchannels -@all"),
        (&["on", ">p", "allkeys", "+@all", "reset"], "user u off sanitize-payload resetchannels -@all"),
        (&["allkeys", "resetkeys", "~x", "allchannels", "resetchannels", "&y"], "user u off ~x resetchannels &y -@all"),
        (&["%R~*", "~x"], "user u off %R~* ~x resetchannels -@all"),
        (&["%RW~*", "~x"], "user u off ~* ~x resetchannels -@all"),
        (&["~x", "%RW~*"], "user u off ~x ~* resetchannels -@all"),
        (&["~x", "~*"], "user u off ~* resetchannels -@all"),
        (&["&x", "&*"], "user u off &* -@all"),
        (&["&a", "allchannels", "resetchannels"], "user u off resetchannels -@all"),
        (&["skip-sanitize-payload"], "user u off skip-sanitize-payload resetchannels -@all"),
        (&["sanitize-payload"], "user u off sanitize-payload resetchannels -@all"),
        (&["on", "off", "skip-sanitize-payload"], "user u off skip-sanitize-payload resetchannels -@all"),
        (&["ON", "OFF", "NOPASS", "ALLKEYS", "ALLCHANNELS", "ALLCOMMANDS"], "user u off nopass ~* &* +@all"),
        (&[">"], "user u off #e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 resetchannels -@all"),
        (&[">a", "<a", ">b", ">a"], "user u off #3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d #ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb resetchannels -@all"),
        (&[""], "user u off resetchannels -@all"),
    ];
    for (rules, want) in cases {
        assert_eq!(list_after(rules), *want, "rules {rules:?}");
    }
}

#[test]
fn selector_descriptions_match_reference() {
    let cases: &[(&[&str], &str)] = &[
        (&["(+get", "~x)", "(", "+set", ")"], "user u off resetchannels -@all (~x resetchannels -@all +get) (resetchannels -@all +set)"),
        (&["(+get ~x &y %R~z)", "clearselectors", "(-@all)"], "user u off resetchannels -@all (resetchannels -@all)"),
        (&["(~a)", "(~b)", "(~a)"], "user u off resetchannels -@all (~a resetchannels -@all) (~b resetchannels -@all) (~a resetchannels -@all)"),
        (&["(~\"a)"], "user u off resetchannels -@all (resetchannels -@all)"),
        (&["(~a\\x41)"], "user u off resetchannels -@all (~a\\x41 resetchannels -@all)"),
        (&["(~\"a\\x41\")"], "user u off resetchannels -@all (~aA resetchannels -@all)"),
        (&["(&x )"], "user u off resetchannels -@all (resetchannels &x -@all)"),
        (&["()"], "user u off resetchannels -@all (resetchannels -@all)"),
        (&["+@all", "~*", "&*", "(+get ~x)", "reset"], "user u off sanitize-payload resetchannels -@all"),
    ];
    for (rules, want) in cases {
        assert_eq!(list_after(rules), *want, "rules {rules:?}");
    }
}

#[test]
fn setuser_errors_match_reference() {
    let unknown = "Unknown command or category name in ACL";
    let cases: &[(&[&str], String)] = &[
        (&["+nosuch"], format!("ERR Error in ACL SETUSER modifier '+nosuch': {unknown}")),
        (&["-nosuch"], format!("ERR Error in ACL SETUSER modifier '-nosuch': {unknown}")),
        (&["+@nosuch"], format!("ERR Error in ACL SETUSER modifier '+@nosuch': {unknown}")),
        (&["-@nosuch"], format!("ERR Error in ACL SETUSER modifier '-@nosuch': {unknown}")),
        (&["+config|nosuch"], format!("ERR Error in ACL SETUSER modifier '+config|nosuch': {unknown}")),
        (&["-config|nosuch"], format!("ERR Error in ACL SETUSER modifier '-config|nosuch': {unknown}")),
        (&["-select|0"], format!("ERR Error in ACL SETUSER modifier '-select|0': {unknown}")),
        (&["+|"], format!("ERR Error in ACL SETUSER modifier '+|': {unknown}")),
        (&["+"], format!("ERR Error in ACL SETUSER modifier '+': {unknown}")),
        (&["-"], format!("ERR Error in ACL SETUSER modifier '-': {unknown}")),
        (&["+@all|x"], format!("ERR Error in ACL SETUSER modifier '+@all|x': {unknown}")),
        (&["+select|"], "ERR Error in ACL SETUSER modifier '+select|': Syntax error".into()),
        (&["+config|"], "ERR Error in ACL SETUSER modifier '+config|': Syntax error".into()),
        (&["+config|get|x"], "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported".into()),
        (&["bogus"], "ERR Error in ACL SETUSER modifier 'bogus': Syntax error".into()),
        (&["on", ">a", "off", "bogus"], "ERR Error in ACL SETUSER modifier 'bogus': Syntax error".into()),
        (&["<nopw"], "ERR Error in ACL SETUSER modifier '<nopw': The password you are trying to remove from the user does not exist".into()),
        (&["<"], "ERR Error in ACL SETUSER modifier '<': The password you are trying to remove from the user does not exist".into()),
        (&["!30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"], "ERR Error in ACL SETUSER modifier '!30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4': The password you are trying to remove from the user does not exist".into()),
        (&["#abc"], "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into()),
        (&["!abc"], "ERR Error in ACL SETUSER modifier '!abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into()),
        (&["#"], "ERR Error in ACL SETUSER modifier '#': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into()),
        (&["#30C952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"], "ERR Error in ACL SETUSER modifier '#30C952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into()),
        (&["(+get"], "ERR Unmatched parenthesis in acl selector starting at '(+get'.".into()),
        (&["(+get ~x)", "bogus"], "ERR Error in ACL SETUSER modifier 'bogus': Syntax error".into()),
        (&["(+get bogus)"], "ERR Error in ACL SETUSER modifier '(+get bogus)': Syntax error".into()),
        (&["(bogus)"], "ERR Error in ACL SETUSER modifier '(bogus)': Syntax error".into()),
        (&["(on)"], "ERR Error in ACL SETUSER modifier '(on)': Syntax error".into()),
        (&["(>pass)"], "ERR Error in ACL SETUSER modifier '(>pass)': Syntax error".into()),
        (&["(~\"a b\")"], "ERR Error in ACL SETUSER modifier '(~\"a b\")': Syntax error".into()),
        (&["%X~a"], "ERR Error in ACL SETUSER modifier '%X~a': Syntax error".into()),
        (&["%~a"], "ERR Error in ACL SETUSER modifier '%~a': Syntax error".into()),
        (&["%RWR~a"], "ERR Error in ACL SETUSER modifier '%RWR~a': Syntax error".into()),
        (&["~a b"], "ERR Error in ACL SETUSER modifier '~a b': Syntax error".into()),
        (&["allkeys", "~foo"], "ERR Error in ACL SETUSER modifier '~foo': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns".into()),
        (&["~*", "~x"], "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns".into()),
        (&["allchannels", "&foo"], "ERR Error in ACL SETUSER modifier '&foo': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels".into()),
        (&["&*", "&x"], "ERR Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels".into()),
    ];
    for (rules, want) in cases {
        assert_eq!(&err_of(rules), want, "rules {rules:?}");
    }
    let mut users = Users::new();
    assert_eq!(
        setuser(&mut users, "bad name", &["on"]).unwrap_err(),
        "ERR Usernames can't contain spaces or null characters"
    );
    assert!(setuser(&mut users, "", &["on"]).is_ok());
}

#[test]
fn setuser_is_atomic() {
    let cat = StaticCatalog::sample();
    let mut users = Users::new();
    setuser(&mut users, "a", &["on", ">x", "~k"]).unwrap();
    let before = users.clone();
    assert!(setuser(&mut users, "a", &["off", "resetpass", "+nosuch"]).is_err());
    assert_eq!(users, before);
    // A failed SETUSER of a new user does not create it.
    assert!(setuser(&mut users, "b", &["on", "bogus"]).is_err());
    assert!(users.get(b"b").is_none());
    assert_eq!(
        users.get(b"a").unwrap().acl_list_line(&cat),
        b"user a on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~k resetchannels -@all".to_vec()
    );
}

#[test]
fn error_bytes_keep_binary_modifiers() {
    let cat = StaticCatalog::sample();
    let mut users = Users::new();
    let err = users.set_user(b"u", &[&b"x\xff"[..]], &cat).unwrap_err();
    assert_eq!(
        err.to_bytes(),
        b"Error in ACL SETUSER modifier 'x\xff': Syntax error".to_vec()
    );
}

#[test]
fn pubsub_default_allchannels() {
    let cat = StaticCatalog::sample();
    let mut users = Users::new();
    users.set_pubsub_default(PubsubDefault::AllChannels);
    setuser(&mut users, "pc1", &[]).unwrap();
    setuser(&mut users, "pc2", &["reset", "(~x)"]).unwrap();
    assert_eq!(
        users.get(b"pc1").unwrap().acl_list_line(&cat),
        b"user pc1 off &* -@all".to_vec()
    );
    assert_eq!(
        users.get(b"pc2").unwrap().acl_list_line(&cat),
        b"user pc2 off sanitize-payload &* -@all (~x &* -@all)".to_vec()
    );
}

#[test]
fn users_order_and_delete() {
    let mut users = Users::new();
    for n in ["b", "a10", "a", "é", "a:b", "", "z", "a2"] {
        setuser(&mut users, n, &[]).unwrap();
    }
    let names: Vec<&[u8]> = users.names();
    let want: Vec<&[u8]> = vec![
        b"",
        b"a",
        b"a10",
        b"a2",
        b"a:b",
        b"b",
        b"default",
        b"z",
        "é".as_bytes(),
    ];
    assert_eq!(names, want);
    let before = users.clone();
    assert_eq!(
        users.delete(&["a", "default"]).unwrap_err().to_string(),
        "The 'default' user cannot be removed"
    );
    assert_eq!(users, before);
    assert_eq!(
        users.delete(&["a", "b", "nosuch"]).unwrap(),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    assert!(users.get(b"a").is_none());
}

#[test]
fn authentication_and_requirepass() {
    let cat = StaticCatalog::sample();
    let mut users = Users::new();
    assert!(users.authenticate(b"default", b"anything"));
    users.set_requirepass(Some(b"secret"), &cat);
    assert!(!users.authenticate(b"default", b"anything"));
    assert!(users.authenticate(b"default", b"secret"));
    assert_eq!(
        users.list(&cat)[0],
        format!(
            "user default on #{} ~* &* +@all",
            redis_common::sha256::sha256_hex(b"secret")
        )
        .into_bytes()
    );
    users.set_requirepass(Some(b""), &cat);
    assert_eq!(
        users.list(&cat)[0],
        b"user default on nopass ~* &* +@all".to_vec()
    );
    users.set_requirepass(None, &cat);
    assert!(users.authenticate(b"default", b"x"));

    setuser(&mut users, "alice", &[">pw", ">pw2"]).unwrap();
    assert!(
        !users.authenticate(b"alice", b"pw"),
        "off users never log in"
    );
    setuser(&mut users, "alice", &["on"]).unwrap();
    assert!(users.authenticate(b"alice", b"pw"));
    assert!(users.authenticate(b"alice", b"pw2"));
    assert!(!users.authenticate(b"alice", b"pw3"));
    assert!(!users.authenticate(b"nobody", b"pw"));
    setuser(&mut users, "bob", &["on"]).unwrap();
    assert!(
        !users.authenticate(b"bob", b""),
        "no password and no nopass"
    );
}

#[test]
fn genpass_sizes_and_errors() {
    assert_eq!(genpass(None).unwrap().len(), 64);
    assert_eq!(genpass(Some(5)).unwrap().len(), 2);
    assert_eq!(genpass(Some(1)).unwrap().len(), 1);
    assert_eq!(genpass(Some(4096)).unwrap().len(), 1024);
    let p = genpass(Some(128)).unwrap();
    assert!(p
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_ne!(genpass(None).unwrap(), genpass(None).unwrap());
    for bad in [0, -1, 4097] {
        assert_eq!(
            genpass(Some(bad)).unwrap_err().to_string(),
            "ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"
        );
    }
}

#[test]
fn merge_selector_arguments() {
    assert_eq!(
        merge_selector_args(&["on", "(+get", "~x", "&y)", "(~z)"]).unwrap(),
        vec![b"on".to_vec(), b"(+get ~x &y)".to_vec(), b"(~z)".to_vec()]
    );
    assert_eq!(merge_selector_args(&["on", "(+get", "~x"]).unwrap_err(), 1);
}

/// Describing a user and feeding the description back (as an ACL file
/// does: split on spaces) gives the same user.
#[test]
fn describe_round_trips() {
    let cat = StaticCatalog::sample();
    let rule_sets: &[&[&str]] = &[
        &[],
        &[
            "on", ">a", ">b", "~k*", "%R~r*", "%W~w*", "&ch*", "+@all", "-get",
        ],
        &[
            "on",
            "nopass",
            "skip-sanitize-payload",
            "allkeys",
            "allchannels",
            "+@all",
            "-@dangerous",
            "+keys",
        ],
        &[
            "-@all",
            "+@read",
            "-@keyspace",
            "+del",
            "+config|get",
            "-config|set",
            "+select|1",
        ],
        &[
            "+@all",
            "-config",
            "+config|get",
            "(+get ~x &y)",
            "(%R~z +@read -strlen)",
        ],
        &["reset", "-@all", "+@write", "+@read", "-flushall"],
        &["+client", "-client|kill", "+@pubsub", "&a", "&b"],
    ];
    for rules in rule_sets {
        let mut users = Users::new();
        setuser(&mut users, "rt", rules).unwrap();
        let user = users.get(b"rt").unwrap().clone();
        let text = String::from_utf8(user.describe(&cat)).unwrap();
        let args: Vec<&str> = text.split(' ').collect();
        let mut again = Users::new();
        setuser(&mut again, "rt", &args).unwrap();
        let user2 = again.get(b"rt").unwrap();
        assert_eq!(&user, user2, "rules {rules:?} described as {text}");
        assert_eq!(user2.describe(&cat), user.describe(&cat));
    }
}
