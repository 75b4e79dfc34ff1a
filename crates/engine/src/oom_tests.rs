//! Tests of `oom.rs`.

use super::*;

#[test]
fn wanted_values_per_setting_and_role() {
    let v = [0, 200, 800];
    assert_eq!(wanted("no", v, false, 5), None);
    assert_eq!(wanted("yes", v, false, 5), Some(5));
    assert_eq!(wanted("relative", v, true, 5), Some(205));
    assert_eq!(wanted("absolute", v, true, 5), Some(200));
    assert_eq!(wanted("relative", [0, 2000, 0], true, 100), Some(1000));
}
