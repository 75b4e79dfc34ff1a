//! Tests of `report.rs`.

use super::*;

#[test]
fn json_round_trips_through_the_reader() {
    let v = obj(vec![
        ("a", pair(Some(2.0), Some(4.0))),
        ("b", Json::Arr(vec![s("x\"y"), Json::Null])),
        ("c", pair(None, Some(1.0))),
    ]);
    let mut text = String::new();
    to_json(&v, 0, &mut text);
    let back = crate::json::parse(&text).expect("valid JSON");
    assert_eq!(
        back.get("a").and_then(|a| a.get("ratio")),
        Some(&Json::Num("0.5".into()))
    );
    assert_eq!(back.get("b").map(|b| b.as_array().len()), Some(2));
    assert_eq!(
        back.get("c").and_then(|c| c.get("ratio")),
        Some(&Json::Null)
    );
}

#[test]
fn table_and_stats() {
    let mut t = Table::new("T", &["name", "v"]);
    t.row(vec!["long name".into(), "1".into()]);
    let r = t.render();
    assert!(r.contains("name       v\n"), "{r}");
    assert!(r.contains("long name  1\n"), "{r}");
    assert!(median(&[]).is_none());
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(fmt(ratio(Some(1.0), Some(0.0)), 2), "-");
}
