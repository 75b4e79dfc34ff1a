//! Tests of `args.rs`.

use super::split_args;

fn s(line: &str) -> Option<Vec<String>> {
    split_args(line.as_bytes()).map(|v| {
        v.into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect()
    })
}

#[test]
fn plain_and_quoted() {
    assert_eq!(
        s("set a b"),
        Some(vec!["set".into(), "a".into(), "b".into()])
    );
    assert_eq!(s("  "), Some(vec![]));
    assert_eq!(
        s(r#"set "a b" 'c d'"#),
        Some(vec!["set".into(), "a b".into(), "c d".into()])
    );
    assert_eq!(s(r#""\x41\n""#), Some(vec!["A\n".into()]));
    assert_eq!(s(r#""\xZZ""#), Some(vec!["xZZ".into()]));
    assert_eq!(s(r#"'it\'s'"#), Some(vec!["it's".into()]));
    assert_eq!(s(r#"a"b c""#), Some(vec!["ab c".into()]));
    assert_eq!(s(r#""""#), Some(vec!["".into()]));
}

#[test]
fn errors() {
    assert_eq!(s(r#""abc"#), None);
    assert_eq!(s(r#"'abc"#), None);
    assert_eq!(s(r#""a"b"#), None);
    assert_eq!(s(r#"'a'b"#), None);
}
