//! Reassembling the replies of a command the proxy split per slot or ran
//! on every primary into the one reply the client expects.

use bytes::{Bytes, BytesMut};
use redis_resp::{Frame, Protocol};

use crate::command::FanOut;
use crate::resp::{decode, error_reply};

/// How the parts' replies combine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Merge {
    /// One part: its reply as is.
    One,
    /// `MGET` split per slot: `positions[p]` are the positions in the
    /// client's key list of the keys part `p` asked for.
    Mget {
        positions: Vec<Vec<usize>>,
        total: usize,
    },
    /// `MSET`: `+OK` when every part said so.
    AllOk,
    /// `DEL`, `UNLINK`, `EXISTS`, `TOUCH`, `DBSIZE`: the sum.
    Sum,
    /// A keyless command run on every primary.
    FanOut(FanOut),
    /// `SCAN` on primary `node` of `nodes`.
    Scan { node: u64, nodes: u64 },
}

fn first_error(replies: &[Bytes]) -> Option<Bytes> {
    replies.iter().find(|r| r.first() == Some(&b'-')).cloned()
}

fn is_null(r: &[u8]) -> bool {
    r == b"$-1\r\n" || r == b"*-1\r\n" || r == b"_\r\n"
}

fn encode(f: &Frame, proto: Protocol) -> Bytes {
    let mut out = BytesMut::new();
    f.encode(proto, &mut out);
    out.freeze()
}

fn items(r: &Bytes) -> Option<Vec<Frame>> {
    match decode(r)? {
        Frame::Array(v) | Frame::Set(v) => Some(v),
        _ => None,
    }
}

/// The client's reply from the parts' replies (all present, in part order).
pub fn merge(how: &Merge, replies: Vec<Bytes>, proto: Protocol) -> Bytes {
    let bad = || error_reply("ERR redis-proxy: unexpected reply from a backend");
    if let [only] = replies.as_slice() {
        if !matches!(how, Merge::Mget { .. } | Merge::Scan { .. }) {
            return only.clone();
        }
    }
    match how {
        Merge::One => replies.into_iter().next().unwrap_or_else(bad),
        Merge::Mget { positions, total } => {
            if let Some(e) = first_error(&replies) {
                return e;
            }
            let mut out = vec![Frame::Null; *total];
            for (r, pos) in replies.iter().zip(positions) {
                let Some(vals) = items(r) else {
                    return bad();
                };
                for (v, &p) in vals.into_iter().zip(pos) {
                    if let Some(slot) = out.get_mut(p) {
                        *slot = v;
                    }
                }
            }
            encode(&Frame::Array(out), proto)
        }
        Merge::AllOk => first_error(&replies)
            .or_else(|| replies.iter().find(|r| r.as_ref() != b"+OK\r\n").cloned())
            .unwrap_or_else(|| Bytes::from_static(b"+OK\r\n")),
        Merge::Sum | Merge::FanOut(FanOut::Sum) => {
            if let Some(e) = first_error(&replies) {
                return e;
            }
            let mut sum: i64 = 0;
            for r in &replies {
                match decode(r) {
                    Some(Frame::Integer(n)) => sum = sum.saturating_add(n),
                    _ => return bad(),
                }
            }
            encode(&Frame::Integer(sum), proto)
        }
        Merge::FanOut(FanOut::Concat) => {
            if let Some(e) = first_error(&replies) {
                return e;
            }
            let mut all = Vec::new();
            for r in &replies {
                match items(r) {
                    Some(v) => all.extend(v),
                    None => return bad(),
                }
            }
            encode(&Frame::Array(all), proto)
        }
        Merge::FanOut(FanOut::Same) => first_error(&replies)
            .or_else(|| replies.first().cloned())
            .unwrap_or_else(bad),
        Merge::FanOut(FanOut::AnyNonNull) => {
            if let Some(e) = first_error(&replies) {
                return e;
            }
            replies
                .iter()
                .find(|r| !is_null(r))
                .or(replies.first())
                .cloned()
                .unwrap_or_else(bad)
        }
        Merge::FanOut(FanOut::Scan) | Merge::Scan { .. } => {
            let (node, nodes) = match how {
                Merge::Scan { node, nodes } => (*node, *nodes),
                _ => (0, 1),
            };
            let Some(r) = replies.first() else {
                return bad();
            };
            if r.first() == Some(&b'-') {
                return r.clone();
            }
            let Some(mut v) = items(r) else {
                return bad();
            };
            let cursor = match v.first() {
                Some(Frame::Bulk(c)) => std::str::from_utf8(c).ok().and_then(|s| s.parse().ok()),
                _ => None,
            };
            let Some(cursor) = cursor else {
                return bad();
            };
            let next = if cursor == 0 {
                if node + 1 < nodes {
                    Some(node + 1)
                } else {
                    Some(0)
                }
            } else {
                compose_cursor(cursor, node, nodes)
            };
            let Some(next) = next else {
                return error_reply("ERR redis-proxy: backend cursor too large to compose");
            };
            if let Some(c) = v.first_mut() {
                *c = Frame::Bulk(Bytes::from(next.to_string()));
            }
            encode(&Frame::Array(v), proto)
        }
    }
}

/// A client-visible cursor: the node's cursor and the node index.
pub fn compose_cursor(cursor: u64, node: u64, nodes: u64) -> Option<u64> {
    cursor.checked_mul(nodes)?.checked_add(node)
}

/// The node index and that node's cursor of a client-visible cursor.
pub fn split_cursor(composite: u64, nodes: u64) -> (u64, u64) {
    let nodes = nodes.max(1);
    (composite % nodes, composite / nodes)
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
