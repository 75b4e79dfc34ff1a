//! Tests of `lazyfree.rs`.

use super::*;
use crate::set::SetValue;

fn big_set(n: usize) -> Value {
    let mut s = SetValue::default();
    for i in 0..n {
        s.add(format!("member:{i}").as_bytes(), usize::MAX);
    }
    Value::Set(s)
}

#[test]
fn small_values_are_freed_in_place_big_ones_by_the_thread() {
    let lf = LazyFree::new();
    assert!(!lf.free_value(big_set(10)));
    assert_eq!(lf.freed(), 0);
    assert!(lf.free_value(big_set(1000)));
    assert!(lf.wait_idle(std::time::Duration::from_secs(10)));
    assert_eq!(lf.freed(), 1);
    lf.free(Box::new(vec![big_set(100), big_set(100)]), 2);
    assert!(lf.wait_idle(std::time::Duration::from_secs(10)));
    assert_eq!(lf.freed(), 3);
    lf.reset_stats();
    assert_eq!(lf.freed(), 0);
}
