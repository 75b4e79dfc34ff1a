//! Tests of `server.rs`.

use super::*;

#[test]
fn own_proc_figures_are_readable() {
    let me = std::process::id();
    assert!(rss(me, page_size()).is_some_and(|r| r > 0));
    assert!(pss(me).is_some_and(|p| p > 0));
    let t = cpu_ticks(me).expect("own stat");
    let mut x = 0u64;
    for i in 0..2_000_000u64 {
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    std::hint::black_box(x);
    assert!(cpu_ticks(me).expect("again") >= t);
    assert!(Side::order(0) != Side::order(1));
}
