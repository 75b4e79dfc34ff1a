//! Tests of `psync.rs`.

use super::*;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

/// A primary at `A` that was `B` up to offset 1000 (second offset
/// 1001), now at offset 1500 with a backlog holding 1201..=1500.
fn primary() -> (ReplIds, Backlog) {
    let mut ids = ReplIds::new(B.to_string());
    let mut backlog = Backlog::new(0);
    backlog.activate(1);
    let feed = |ids: &mut ReplIds, backlog: &mut Backlog, n: usize| {
        backlog.feed(&vec![b'x'; n]);
        ids.advance(n);
    };
    feed(&mut ids, &mut backlog, 1000);
    ids.shift(A.to_string());
    feed(&mut ids, &mut backlog, 500);
    backlog.clear();
    // Keep 300 bytes: 1201..=1500.
    backlog.activate(1201);
    backlog.feed(&[b'y'; 300]);
    assert_eq!(backlog.next_offset(), ids.master_repl_offset + 1);
    (ids, backlog)
}

fn ask(replid: &str, offset: i64) -> PsyncDecision {
    let (ids, backlog) = primary();
    decide(&PsyncRequest { replid, offset }, &ids, &backlog)
}

#[test]
fn table() {
    use FullResyncReason::*;
    use PsyncDecision::*;
    let cases: Vec<(&str, i64, PsyncDecision)> = vec![
        // Same ID, inside the backlog (both ends included).
        (
            A,
            1201,
            Continue {
                offset: 1201,
                len: 300,
            },
        ),
        (
            A,
            1400,
            Continue {
                offset: 1400,
                len: 101,
            },
        ),
        (
            A,
            1501,
            Continue {
                offset: 1501,
                len: 0,
            },
        ),
        // Case does not matter.
        (
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            1501,
            Continue {
                offset: 1501,
                len: 0,
            },
        ),
        // Same ID, before the backlog.
        (
            A,
            1200,
            FullResync(LackOfBacklog {
                requested: 1200,
                ahead: false,
            }),
        ),
        // Same ID, ahead of the primary.
        (
            A,
            1502,
            FullResync(LackOfBacklog {
                requested: 1502,
                ahead: true,
            }),
        ),
        // Second ID up to second_repl_offset, but the backlog decides.
        (
            B,
            1001,
            FullResync(LackOfBacklog {
                requested: 1001,
                ahead: false,
            }),
        ),
        // Second ID above second_repl_offset.
        (
            B,
            1002,
            FullResync(SecondIdOffset {
                requested: 1002,
                limit: 1001,
            }),
        ),
        // Unknown ID.
        (
            C,
            1300,
            FullResync(IdMismatch {
                asked: C.into(),
                replid: A.into(),
                replid2: B.into(),
            }),
        ),
        // Forced full sync.
        ("?", -1, FullResync(Requested)),
    ];
    for (id, off, want) in cases {
        assert_eq!(ask(id, off), want, "PSYNC {id} {off}");
    }
}

#[test]
fn second_id_inside_the_backlog_continues() {
    let mut ids = ReplIds::new(B.to_string());
    let mut backlog = Backlog::new(0);
    backlog.activate(1);
    backlog.feed(&[1; 100]);
    ids.advance(100);
    ids.shift(A.to_string());
    backlog.feed(&[2; 50]);
    ids.advance(50);
    let d = decide(
        &PsyncRequest {
            replid: B,
            offset: 101,
        },
        &ids,
        &backlog,
    );
    assert_eq!(
        d,
        PsyncDecision::Continue {
            offset: 101,
            len: 50
        }
    );
    let d = decide(
        &PsyncRequest {
            replid: B,
            offset: 102,
        },
        &ids,
        &backlog,
    );
    assert_eq!(
        d,
        PsyncDecision::FullResync(FullResyncReason::SecondIdOffset {
            requested: 102,
            limit: 101
        })
    );
}

#[test]
fn inactive_backlog_means_lack_of_backlog() {
    let ids = ReplIds::new(A.to_string());
    let backlog = Backlog::new(0);
    let d = decide(
        &PsyncRequest {
            replid: A,
            offset: 1,
        },
        &ids,
        &backlog,
    );
    assert_eq!(
        d,
        PsyncDecision::FullResync(FullResyncReason::LackOfBacklog {
            requested: 1,
            ahead: true
        })
    );
}

#[test]
fn log_lines_and_counters() {
    let name = "127.0.0.1:6380";
    let lines = |id: &str, off: i64| -> Vec<String> {
        ask(id, off)
            .log_lines(name)
            .into_iter()
            .map(|(_, l)| l)
            .collect()
    };
    assert_eq!(
        lines(A, 1400),
        ["Partial resynchronization request from 127.0.0.1:6380 accepted. Sending 101 bytes of backlog starting from offset 1400."]
    );
    assert_eq!(
        lines("?", -1),
        ["Full resync requested by replica 127.0.0.1:6380"]
    );
    assert_eq!(
        lines(A, 1200),
        ["Unable to partial resync with replica 127.0.0.1:6380 for lack of backlog (Replica request was: 1200)."]
    );
    let ahead = ask(A, 9999).log_lines(name);
    assert_eq!(ahead.len(), 2);
    assert_eq!(ahead[1].0, LogLevel::Warning);
    assert_eq!(
        ahead[1].1,
        "Warning: replica 127.0.0.1:6380 tried to PSYNC with an offset that is greater than the master replication offset."
    );
    assert_eq!(
        lines(B, 5000),
        ["Partial resynchronization not accepted: Requested offset for second ID was 5000, but I can reply up to 1001"]
    );
    assert_eq!(
        lines(C, 1),
        [format!("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{C}', my replication IDs are '{A}' and '{B}')")]
    );

    let err = |id: &str, off: i64| match ask(id, off) {
        PsyncDecision::FullResync(r) => r.counts_as_partial_err(),
        PsyncDecision::Continue { .. } => panic!("continued"),
    };
    assert!(!err("?", -1));
    assert!(err(A, 1));
    assert!(err(B, 5000));
    assert!(err(C, 1));
}

#[test]
fn replies() {
    assert_eq!(continue_reply(Some(A)), format!("+CONTINUE {A}\r\n"));
    assert_eq!(continue_reply(None), "+CONTINUE\r\n");
    assert_eq!(fullresync_reply(A, 42), format!("+FULLRESYNC {A} 42\r\n"));
    assert_eq!(
        sync_request_line("1.2.3.4:5"),
        "Replica 1.2.3.4:5 asks for synchronization"
    );
    let ids = ReplIds::new(A.to_string());
    assert_eq!(
        backlog_created_line(&ids),
        format!("Replication backlog created, my new replication IDs are '{A}' and '0000000000000000000000000000000000000000'")
    );
}
