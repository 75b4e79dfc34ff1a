//! Tests of `list.rs`.

use super::*;

fn argv(s: &str) -> Vec<Bytes> {
    s.split_whitespace()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect()
}

#[test]
fn range_normalisation() {
    assert_eq!(normalize_range(0, -1, 5), Some((0, 4)));
    assert_eq!(normalize_range(-100, 100, 5), Some((0, 4)));
    assert_eq!(normalize_range(3, 1, 5), None);
    assert_eq!(normalize_range(5, 10, 5), None);
    assert_eq!(normalize_range(-2, -1, 5), Some((3, 4)));
    assert_eq!(normalize_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
    assert_eq!(normalize_range(0, i64::MIN, 5), None);
    assert_eq!(normalize_range(0, 0, 0), None);
}

#[test]
fn mpop_parsing() {
    use crate::args::{MPOP_COUNT, MPOP_NUMKEYS};
    let mp = |s: &str, from: usize| {
        let v = argv(s);
        parse_mpop(Args::new(&v[from..])).map(|(m, e)| (m.keys.len(), e, m.count))
    };
    assert_eq!(mp("lmpop 2 a b left count 3", 1), Ok((2, End::Left, 3)));
    assert_eq!(mp("blmpop 0 1 a RIGHT", 2), Ok((1, End::Right, 1)));
    assert_eq!(mp("lmpop 0 a left", 1), Err(MPOP_NUMKEYS));
    assert_eq!(mp("lmpop x a left", 1), Err(MPOP_NUMKEYS));
    assert_eq!(mp("lmpop 2 a left", 1), Err(SYNTAX));
    assert_eq!(mp("lmpop 9223372036854775807 a left", 1), Err(SYNTAX));
    assert_eq!(mp("lmpop 1 a up", 1), Err(SYNTAX));
    assert_eq!(mp("lmpop 1 a left count 0", 1), Err(MPOP_COUNT));
    assert_eq!(mp("lmpop 1 a left count 1 count 1", 1), Err(SYNTAX));
    assert_eq!(mp("lmpop 1 a left count", 1), Err(SYNTAX));
}

/// A state, a client and a way to run either a whole command (through
/// the dispatcher) or one of the service functions on a raw context,
/// returning the reply bytes and what would be propagated.
struct Harness {
    st: redis_engine::state::State,
    client: redis_engine::client::Client,
}

type Outcome = (
    Result<bool, CmdError>,
    Vec<u8>,
    Option<Vec<Vec<Bytes>>>,
    u64,
);

impl Harness {
    fn new() -> Harness {
        Harness {
            st: redis_engine::state::State::new(
                redis_config::Config::default(),
                NOW,
                crate::registry(),
            ),
            client: redis_engine::client::Client::detached(1),
        }
    }

    fn run(&mut self, line: &str) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.st.call(
            redis_engine::dispatch::Caller::Client,
            &mut self.client,
            argv(line),
            &mut out,
            NOW,
        );
        out.to_vec()
    }

    fn serve(&mut self, f: impl FnOnce(&mut Ctx) -> Result<bool, CmdError>) -> Outcome {
        let mut out = BytesMut::new();
        let mut ctx = Ctx {
            st: &mut self.st,
            client: &mut self.client,
            out: &mut out,
            now: NOW,
            caller: redis_engine::dispatch::Caller::Client,
            rewrite: None,
            dirty: 0,
            force_repl: false,
            push_reply: false,
            redact: Vec::new(),
        };
        let r = f(&mut ctx);
        let (rewrite, dirty) = (ctx.rewrite.take(), ctx.dirty);
        (r, out.to_vec(), rewrite, dirty)
    }
}

const NOW: i64 = 1_700_000_000_000;

fn rw(line: &str) -> Option<Vec<Vec<Bytes>>> {
    Some(vec![argv(line)])
}

#[test]
fn blocked_pop_service() {
    let mut h = Harness::new();
    h.run("RPUSH b x y");
    h.run("SET s v");
    let keys = argv("none b s");
    let (r, out, prop, dirty) = h.serve(|c| serve_blocked_pop(c, &keys, End::Right));
    assert_eq!(r, Ok(true));
    assert_eq!(out, b"*2\r\n$1\r\nb\r\n$1\r\ny\r\n");
    assert_eq!(prop, rw("RPOP b"));
    assert_eq!(dirty, 1);
    let (r, _, prop, _) = h.serve(|c| serve_blocked_pop(c, &keys, End::Left));
    assert_eq!(r, Ok(true));
    assert_eq!(prop, rw("LPOP b"));
    assert_eq!(h.run("EXISTS b"), b":0\r\n");
    // Only the string is left: WRONGTYPE once the scan reaches it.
    let (r, out, prop, _) = h.serve(|c| serve_blocked_pop(c, &keys, End::Left));
    assert_eq!(r, Err(WRONGTYPE));
    assert!(out.is_empty() && prop.is_none());
    let keys = argv("none other");
    let (r, out, prop, dirty) = h.serve(|c| serve_blocked_pop(c, &keys, End::Left));
    assert_eq!((r, out.len(), prop, dirty), (Ok(false), 0, None, 0));
}

#[test]
fn blocked_mpop_service() {
    let mut h = Harness::new();
    h.run("RPUSH m a b c");
    let keys = argv("none m");
    let (r, out, prop, dirty) = h.serve(|c| serve_blocked_mpop(c, &keys, End::Left, 2));
    assert_eq!(r, Ok(true));
    assert_eq!(
        out,
        b"*2\r\n$1\r\nm\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n".to_vec()
    );
    assert_eq!(prop, rw("LPOP m 2"));
    assert_eq!(dirty, 2);
    // The propagated count is what was popped, not what was asked.
    let (r, _, prop, _) = h.serve(|c| serve_blocked_mpop(c, &keys, End::Right, 100));
    assert_eq!(r, Ok(true));
    assert_eq!(prop, rw("RPOP m 1"));
    let (r, out, _, _) = h.serve(|c| serve_blocked_mpop(c, &keys, End::Right, 1));
    assert_eq!((r, out.len()), (Ok(false), 0));
}

#[test]
fn blocked_move_service() {
    let mut h = Harness::new();
    h.run("RPUSH src a b c");
    h.run("SET str v");
    let blmove = argv("BLMOVE src dst left RIGHT 0");
    let (r, out, prop, _) = h.serve(|c| serve_blocked_move(c, &blmove));
    assert_eq!(r, Ok(true));
    assert_eq!(out, b"$1\r\na\r\n");
    assert_eq!(prop, rw("LMOVE src dst left RIGHT"));
    let brpoplpush = argv("BRPOPLPUSH src dst 0");
    let (r, out, prop, _) = h.serve(|c| serve_blocked_move(c, &brpoplpush));
    assert_eq!(r, Ok(true));
    assert_eq!(out, b"$1\r\nc\r\n");
    assert_eq!(prop, rw("RPOPLPUSH src dst"));
    assert_eq!(
        h.run("LRANGE dst 0 -1"),
        b"*2\r\n$1\r\nc\r\n$1\r\na\r\n".to_vec()
    );
    // Destination of the wrong type: nothing moves.
    let to_str = argv("BRPOPLPUSH src str 0");
    let (r, _, prop, _) = h.serve(|c| serve_blocked_move(c, &to_str));
    assert_eq!((r, prop), (Err(WRONGTYPE), None));
    assert_eq!(h.run("LLEN src"), b":1\r\n");
    let bad = argv("BLMOVE src dst up left 0");
    let (r, _, _, _) = h.serve(|c| serve_blocked_move(c, &bad));
    assert_eq!(r, Err(SYNTAX));
    let missing = argv("BLMOVE nokey dst left left 0");
    let (r, out, prop, _) = h.serve(|c| serve_blocked_move(c, &missing));
    assert_eq!((r, out.len(), prop), (Ok(false), 0, None));
}

#[test]
fn command_propagation() {
    let mut h = Harness::new();
    h.run("RPUSH l a b c d");
    let (r, _, prop, _) = h.serve(|c| {
        lmpop(c, &argv("LMPOP 2 nokey l RIGHT COUNT 9"))?;
        Ok(true)
    });
    assert_eq!(r, Ok(true));
    assert_eq!(prop, rw("RPOP l 4"));
    // Plain pops and moves are deterministic: propagated verbatim.
    h.run("RPUSH l a b");
    let (_, _, prop, dirty) = h.serve(|c| {
        lpop(c, &argv("LPOP l 1"))?;
        Ok(true)
    });
    assert_eq!((prop, dirty), (None, 1));
    let (_, _, prop, dirty) = h.serve(|c| {
        lmove(c, &argv("LMOVE l l LEFT RIGHT"))?;
        Ok(true)
    });
    assert_eq!((prop, dirty), (None, 1));
    // No-ops change nothing (so nothing is propagated).
    for line in [
        "LPOP l 0",
        "LTRIM l 0 -1",
        "LREM l 0 zz",
        "LINSERT l BEFORE zz x",
    ] {
        let (_, _, _, dirty) = h.serve(|c| {
            let a = argv(line);
            let f = match line.split(' ').next() {
                Some("LPOP") => lpop,
                Some("LTRIM") => ltrim,
                Some("LREM") => lrem,
                _ => linsert,
            };
            f(c, &a)?;
            Ok(true)
        });
        assert_eq!(dirty, 0, "{line}");
    }
}
