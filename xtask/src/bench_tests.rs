//! Unit tests of `bench.rs` (kept apart so the module holds only
//! library code).

use super::*;

#[test]
fn options() {
    let o = parse_options(&["--quick".into()]).unwrap();
    assert_eq!((o.requests, o.rounds, o.keys()), (5_000, 1, 100_000));
    assert_eq!(o.sections.len(), SECTIONS.len());
    assert!(!o.sections.iter().any(|s| s == "sentinel"));
    assert_eq!(o.sentinel_rounds, 2);
    let o = parse_options(&["sentinel".into()]).unwrap();
    assert_eq!((o.sections.len(), o.sentinel_rounds), (1, 5));
    assert!(!parse_options(&[])
        .unwrap()
        .sections
        .iter()
        .any(|s| s == "cluster"));
    assert!(!parse_options(&["all".into()])
        .unwrap()
        .sections
        .iter()
        .any(|s| s == "proxy"));
    let o = parse_options(&["proxy".into(), "--quick".into()]).unwrap();
    assert_eq!((o.sections.len(), o.rounds), (1, 1));
    let o = parse_options(&["cluster".into(), "--rounds".into(), "2".into()]).unwrap();
    assert_eq!((o.sections.len(), o.rounds, o.sentinel_rounds), (1, 2, 2));
    let o = parse_options(&[
        "types".into(),
        "--requests".into(),
        "5".into(),
        "--rounds".into(),
        "2".into(),
        "memory".into(),
    ])
    .unwrap();
    assert_eq!((o.requests, o.rounds), (5, 2));
    assert_eq!(o.sections, vec!["types".to_string(), "memory".to_string()]);
    assert!(parse_options(&["--bogus".into()]).is_err());
    assert!(parse_options(&["nosuchsection".into()]).is_err());
}
