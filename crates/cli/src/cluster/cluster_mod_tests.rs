//! Tests of `mod.rs`.

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn host_arguments() {
    assert_eq!(
        host_from_args(&s(&["127.0.0.1:7000"])),
        Some(("127.0.0.1".into(), 7000))
    );
    assert_eq!(
        host_from_args(&s(&["127.0.0.1:7000@17000"])),
        Some(("127.0.0.1".into(), 7000))
    );
    assert_eq!(
        host_from_args(&s(&["127.0.0.1", "7000", "x"])),
        Some(("127.0.0.1".into(), 7000))
    );
    assert_eq!(host_from_args(&s(&["127.0.0.1"])), None);
    assert_eq!(host_from_args(&s(&["a", "b"])), None);
}
