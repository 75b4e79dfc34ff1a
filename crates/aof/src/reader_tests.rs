//! Tests of `reader.rs`.

use super::*;

fn all(data: &[u8]) -> (Vec<Command>, End) {
    let mut r = AofReader::new(data);
    let mut cmds = Vec::new();
    loop {
        match r.next_event() {
            Event::Command(c) => cmds.push(c),
            Event::End(e) => return (cmds, e),
        }
    }
}

#[test]
fn reads_and_skips_annotations() {
    let d = b"#TS:5\r\n*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n";
    let (c, e) = all(d);
    assert!(matches!(e, End::Clean));
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].offset, 7);
    assert_eq!(c[1].argv[1].len(), 0);
    assert_eq!(c[1].end, d.len() as u64);
}

#[test]
fn every_prefix_is_classified() {
    let d = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n";
    let first_end = 23u64;
    for cut in 0..=d.len() {
        let (c, e) = all(&d[..cut]);
        match e {
            End::Clean => assert!(cut == 0 || cut == 23 || cut == d.len(), "{cut}"),
            End::Truncated { valid_up_to, .. } => {
                assert_eq!(valid_up_to, if cut > 23 { first_end } else { 0 });
                assert_eq!(c.len(), usize::from(cut > 23));
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn bit_flips_never_panic() {
    let d = b"#TS:1\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n";
    for i in 0..d.len() {
        for bit in 0..8 {
            let mut v = d.to_vec();
            v[i] ^= 1 << bit;
            let (cmds, e) = all(&v);
            match e {
                End::Truncated { valid_up_to, .. } => assert!(valid_up_to <= v.len() as u64),
                End::Corrupt { offset, .. } => assert!(offset < v.len() as u64),
                End::Clean => assert!(cmds.iter().all(|c| c.end <= v.len() as u64)),
                End::Io(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn dangling_multi_is_truncated_before_it() {
    let d = b"*1\r\n$4\r\nPING\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n";
    let (_, e) = all(d);
    assert!(
        matches!(
            e,
            End::Truncated {
                valid_up_to: 14,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn huge_lengths_do_not_allocate() {
    let (_, e) = all(b"*2147483647\r\n$9223372036854775807\r\nab");
    assert!(matches!(e, End::Truncated { .. }));
    let (_, e) = all(b"*1\r\n$-5\r\n");
    assert!(matches!(e, End::Corrupt { offset: 4, .. }));
    let (_, e) = all(b"x");
    assert!(matches!(e, End::Corrupt { offset: 0, .. }));
}
