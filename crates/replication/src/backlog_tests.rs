//! Tests of `backlog.rs`.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn concat(v: &[Bytes]) -> Vec<u8> {
    v.iter().flat_map(|b| b.iter().copied()).collect()
}

#[test]
fn inactive_backlog_ignores_feeds_and_serves_nothing() {
    let mut b = Backlog::new(0);
    assert_eq!(b.size(), MIN_BACKLOG_SIZE);
    b.feed(b"abc");
    assert!(!b.active());
    assert_eq!(b.histlen(), 0);
    assert!(b.read_from(0).is_none());
    assert!(b.read_from(1).is_none());
}

#[test]
fn serves_from_first_to_next_offset() {
    let mut b = Backlog::new(1 << 20);
    b.activate(101);
    b.feed(b"hello ");
    b.feed(b"world");
    assert_eq!(b.first_offset(), 101);
    assert_eq!(b.next_offset(), 112);
    assert_eq!(concat(&b.read_from(101).unwrap()), b"hello world");
    assert_eq!(concat(&b.read_from(107).unwrap()), b"world");
    assert_eq!(b.read_from(112).unwrap().len(), 0);
    assert_eq!(b.len_from(107), Some(5));
    assert!(b.read_from(100).is_none());
    assert!(b.read_from(113).is_none());
    b.clear();
    assert_eq!(b.first_offset(), 112);
    assert_eq!(b.histlen(), 0);
    b.deactivate();
    assert!(!b.active());
    assert!(b.read_from(112).is_none());
}

#[test]
fn sealed_blocks_are_shared_not_copied() {
    let mut b = Backlog::with_block(1 << 20, 8);
    b.activate(1);
    b.feed(&[7u8; 100]);
    let a = b.read_from(1).unwrap();
    let c = b.read_from(1).unwrap();
    // Same allocation for a sealed block in two reads.
    assert_eq!(a[0].as_ptr(), c[0].as_ptr());
    assert_eq!(concat(&a).len(), 100);
}

#[test]
fn memory_tracks_the_history() {
    let mut b = Backlog::new(MIN_BACKLOG_SIZE);
    b.activate(1);
    assert_eq!(b.memory(), 0);
    b.feed(&vec![1u8; 100_000]);
    assert_eq!(b.histlen(), MIN_BACKLOG_SIZE);
    assert!(b.memory() >= b.histlen());
    assert!(b.memory() <= b.histlen() + 2 * BLOCK_SIZE + 1024);
}

/// Random feeds, resizes, clears and reads against a plain `Vec<u8>`
/// model of the whole stream.
#[test]
fn matches_a_vec_model() {
    for seed in 0..48u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        // Tiny blocks put a block boundary every few bytes (and make
        // thousands of blocks, so keep them few).
        let block = [5usize, 61, 1000, 4096, BLOCK_SIZE][seed as usize % 5];
        let mut size = MIN_BACKLOG_SIZE + rng.gen_range(0..20_000);
        let mut b = Backlog::with_block(size, block);
        let start = rng.gen_range(1..1000i64);
        b.activate(start);
        // Model: the whole stream since `start`, and where the kept
        // history begins.
        let mut stream: Vec<u8> = Vec::new();
        let mut kept_from = 0usize;
        for step in 0..300 {
            match rng.gen_range(0..100) {
                0..=69 => {
                    let len = match rng.gen_range(0..10) {
                        0 => rng.gen_range(0..3 * size),
                        1..=3 => rng.gen_range(0..2 * block + 2),
                        _ => rng.gen_range(0..2000),
                    };
                    let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                    b.feed(&data);
                    stream.extend_from_slice(&data);
                }
                70..=79 => {
                    size = rng.gen_range(0..3 * MIN_BACKLOG_SIZE);
                    b.resize(size);
                    size = size.max(MIN_BACKLOG_SIZE);
                }
                80..=81 => {
                    b.clear();
                    kept_from = stream.len();
                }
                _ => {}
            }
            kept_from = kept_from.max(stream.len().saturating_sub(size));
            let first = start + kept_from as i64;
            let next = start + stream.len() as i64;
            assert_eq!(b.first_offset(), first, "seed {seed} step {step}");
            assert_eq!(b.next_offset(), next, "seed {seed} step {step}");
            assert_eq!(b.histlen(), stream.len() - kept_from);
            assert!(b.histlen() <= b.size());
            assert!(b.memory() >= b.histlen());
            for _ in 0..3 {
                let off = rng.gen_range(first - 3..=next + 3);
                let got = b.read_from(off);
                if off < first || off > next {
                    assert!(got.is_none(), "seed {seed} step {step} off {off}");
                } else {
                    let want = &stream[(off - start) as usize..];
                    assert_eq!(concat(&got.unwrap()), want, "seed {seed} step {step}");
                    assert_eq!(b.len_from(off), Some(want.len()));
                }
            }
        }
    }
}
