//! Tests of `segvec.rs`.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn check<T: PartialEq + std::fmt::Debug>(s: &SegVec<T>, model: &[T]) {
    assert_eq!(s.len(), model.len());
    assert_eq!(s.iter().len(), model.len());
    assert!(s.iter().eq(model.iter()));
    for (i, v) in model.iter().enumerate() {
        assert_eq!(s.get(i), Some(v));
        assert_eq!(&s[i], v);
    }
    assert_eq!(s.get(model.len()), None);
    // Every segment before the last element's is full, no segment is
    // over-full, and at most one empty segment trails.
    let used = s.len.div_ceil(SEG_LEN);
    assert!(s.segs.len() <= used + 1);
    for (k, seg) in s.segs.iter().enumerate() {
        assert!(seg.capacity() <= SEG_LEN);
        if k + 1 < used {
            assert_eq!(seg.len(), SEG_LEN);
        }
        if k >= used {
            assert!(seg.is_empty());
        }
    }
}

#[test]
fn model_random_ops_against_vec() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut s = SegVec::new();
    let mut model: Vec<u64> = Vec::new();
    for round in 0..40_000u64 {
        // Drift up then down across several segment boundaries.
        let grow = if round < 20_000 { 70 } else { 30 };
        if rng.gen_range(0..100) < grow {
            assert_eq!(s.push(round), model.len());
            model.push(round);
        } else if !model.is_empty() {
            let i = rng.gen_range(0..model.len());
            assert_eq!(s.swap_remove(i), Some(model.swap_remove(i)));
        } else {
            assert_eq!(s.swap_remove(0), None);
        }
        if round % 997 == 0 {
            check(&s, &model);
            s.shrink();
            check(&s, &model);
        }
    }
    check(&s, &model);
    for v in s.iter_mut() {
        *v += 1;
    }
    let c = s.clone();
    let all: Vec<u64> = s.take_all().collect();
    assert!(s.is_empty() && s.capacity() == 0);
    assert_eq!(all, model.iter().map(|v| v + 1).collect::<Vec<_>>());
    assert!(c.iter().copied().eq(all.iter().copied()));
}

#[test]
fn clone_grows_without_overfilling_a_segment() {
    let mut s = SegVec::new();
    for i in 0..SEG_LEN + 10 {
        s.push(i);
    }
    let mut c = s.clone();
    for i in 0..2 * SEG_LEN {
        c.push(i);
    }
    let model: Vec<usize> = (0..SEG_LEN + 10).chain(0..2 * SEG_LEN).collect();
    check(&c, &model);
}

#[test]
fn boundary_push_pop_keeps_the_spare_segment() {
    let mut s = SegVec::new();
    for i in 0..SEG_LEN {
        s.push(i);
    }
    s.push(SEG_LEN);
    s.pop();
    assert_eq!(s.segs.len(), 2);
    let cap = s.capacity();
    s.push(SEG_LEN);
    assert_eq!(s.capacity(), cap);
    s.pop();
    s.pop();
    assert_eq!(s.segs.len(), 2);
    s.shrink();
    assert_eq!(s.segs.len(), 2);
    for _ in 0..SEG_LEN - 2 {
        s.pop();
    }
    s.shrink();
    assert_eq!(s.segs.len(), 1);
    assert!(s.capacity() < 64);
}

#[test]
fn with_capacity_and_shrink() {
    let mut s: SegVec<u8> = SegVec::with_capacity(10);
    assert_eq!(s.capacity(), 10);
    let mut big: SegVec<u8> = SegVec::with_capacity(5 * SEG_LEN);
    assert_eq!(big.capacity(), SEG_LEN);
    for _ in 0..1000 {
        s.push(1);
    }
    for _ in 0..990 {
        s.pop();
    }
    s.shrink();
    assert_eq!(s.capacity(), 20);
    big.shrink();
    assert_eq!(big.len(), 0);
}
