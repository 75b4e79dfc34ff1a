//! Unit tests of `inactive.rs` (kept apart so the module holds only
//! library code).

use super::*;

#[test]
fn every_inactive_name_is_a_directive_and_listed_once() {
    let mut seen = std::collections::HashSet::new();
    for (name, why) in INACTIVE {
        assert!(lookup(name).is_some(), "{name}");
        assert!(!why.is_empty());
        assert!(seen.insert(*name), "{name} twice");
    }
}

#[test]
fn the_compatibility_doc_lists_every_inactive_directive() {
    let doc = include_str!("../../../docs/compatibility.md");
    let table = doc
        .split("## Accepted but inactive")
        .nth(1)
        .unwrap_or_default();
    for (name, _) in INACTIVE {
        assert!(table.contains(&format!("| `{name}` |")), "{name}");
    }
    assert_eq!(table.matches("\n| `").count(), INACTIVE.len());
}

#[test]
fn only_non_default_values_warn() {
    let c = Config::default();
    assert!(startup_warnings(&c).is_empty());
    let args: Vec<String> = [
        "--cluster-announce-tls-port",
        "7000",
        "--tls-key-file-pass",
        "secret",
        "--activedefrag",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let c = Config::load(None, &args).unwrap();
    let w = startup_warnings(&c);
    assert_eq!(
            w,
            vec![
                "WARNING: 'cluster-announce-tls-port 7000' is accepted but has no effect in this version (see docs/compatibility.md)".to_string(),
                "WARNING: 'tls-key-file-pass (redacted)' is accepted but has no effect in this version (see docs/compatibility.md)".to_string(),
            ]
        );
}
