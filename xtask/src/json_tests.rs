//! Tests of `json.rs`.

use super::*;

#[test]
fn parses_nested_documents() {
    let v =
        parse(r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "x\"y\u0041\n"}, "d": []} "#)
            .unwrap();
    assert_eq!(v.get("a").unwrap().as_array().len(), 5);
    assert_eq!(
        v.get("a").unwrap().as_array()[1],
        Json::Num("-2.5e3".into())
    );
    assert_eq!(
        v.get("b").unwrap().get("c").unwrap().as_str(),
        Some("x\"yA\n")
    );
    assert_eq!(v.get("d"), Some(&Json::Arr(vec![])));
    assert_eq!(v.get("zz"), None);
}

#[test]
fn rejects_malformed_documents() {
    for bad in [
        "",
        "{",
        "[1,]",
        "{\"a\" 1}",
        "\"abc",
        "nul",
        "[1] x",
        "{\"a\":1,}",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should fail");
    }
}
