//! Blocking commands (`BLPOP`, `BZPOPMIN`, `BLMOVE`, …): registration of
//! waiting clients, FIFO service when a key becomes ready, timeouts and
//! `CLIENT UNBLOCK`.
//!
//! A blocked client's command is re-executed on its behalf, under the server
//! lock, right after the command that made one of its keys ready (upstream
//! serves blocked clients at the same point). The reply travels through the
//! client's push channel; its connection task then resumes reading the
//! commands it had pipelined behind the blocking one.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use redis_resp::Protocol;

use crate::client::{Client, ClientSignal};
use crate::ctx::Ctx;
use crate::error::CmdError;
use crate::state::State;

/// What a timed-out blocking command replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// `*-1` / `_` (BLPOP, BZPOPMIN, BLMPOP, XREAD, …).
    NullArray,
    /// `$-1` / `_` (BLMOVE, BRPOPLPUSH).
    Null,
}

/// The marker a connection keeps while its client waits.
#[derive(Clone, Debug)]
pub struct Blocked {
    /// Unix ms; `None` waits forever.
    pub deadline: Option<i64>,
}

/// A waiting client as the server state knows it.
#[derive(Debug)]
pub struct Waiter {
    pub db: usize,
    pub proto: Protocol,
    pub keys: Vec<Bytes>,
    pub argv: Vec<Bytes>,
    /// `list`, `zset` or `stream`: only a key of this type can serve it.
    pub key_type: &'static str,
    pub timeout_reply: TimeoutReply,
    pub signal: Arc<ClientSignal>,
    /// True when the client waits with a timeout (`clients_in_timeout_table`).
    pub has_deadline: bool,
}

/// Registry of blocked clients.
#[derive(Debug, Default)]
pub struct Blocking {
    pub waiters: HashMap<u64, Waiter>,
    /// Per (db, key): waiting client ids in blocking order.
    pub by_key: HashMap<(usize, Bytes), VecDeque<u64>>,
    /// Keys signalled ready since the last service pass.
    pub ready: VecDeque<(usize, Bytes)>,
}

/// Parses a blocking timeout in seconds (fractions allowed) into an
/// absolute deadline; 0 means forever.
pub fn parse_timeout(arg: &[u8], now: i64) -> Result<Option<i64>, CmdError> {
    let t = crate::args::parse_f64(arg)
        .filter(|v| v.is_finite())
        .ok_or(CmdError::fixed(
            "ERR timeout is not a float or out of range",
        ))?;
    if t < 0.0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    if t == 0.0 {
        return Ok(None);
    }
    let ms = (t * 1000.0).ceil();
    if ms > 1e15 {
        return Err(CmdError::fixed("ERR timeout is out of range"));
    }
    Ok(Some(now + ms as i64))
}

impl Ctx<'_> {
    /// Blocks the current client on `keys` (or, inside `MULTI`/`EXEC` where
    /// nothing may block, replies the timeout reply at once).
    pub fn block(
        &mut self,
        keys: &[Bytes],
        deadline: Option<i64>,
        key_type: &'static str,
        timeout_reply: TimeoutReply,
        argv: &[Bytes],
    ) {
        if self.client.in_exec {
            match timeout_reply {
                TimeoutReply::NullArray => self.null_array(),
                TimeoutReply::Null => self.null(),
            }
            return;
        }
        let id = self.client.id;
        self.client.blocked = Some(Blocked { deadline });
        if self.st.blocking.waiters.contains_key(&id) {
            // A retry on behalf of an already registered client.
            return;
        }
        let db = self.client.db;
        for k in keys {
            self.st
                .blocking
                .by_key
                .entry((db, k.clone()))
                .or_default()
                .push_back(id);
        }
        self.st.blocking.waiters.insert(
            id,
            Waiter {
                db,
                proto: self.client.proto,
                keys: keys.to_vec(),
                argv: argv.to_vec(),
                key_type,
                timeout_reply,
                signal: self.client.signal.clone(),
                has_deadline: deadline.is_some(),
            },
        );
        if let Some(info) = self.st.clients.get_mut(&id) {
            info.blocked = true;
        }
    }
}

impl State {
    /// Removes a client from the registry; returns its entry if it was there.
    pub fn unblock(&mut self, id: u64) -> Option<Waiter> {
        let w = self.blocking.waiters.remove(&id)?;
        for k in &w.keys {
            let slot = (w.db, k.clone());
            if let Some(q) = self.blocking.by_key.get_mut(&slot) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.blocking.by_key.remove(&slot);
                }
            }
        }
        if let Some(info) = self.clients.get_mut(&id) {
            info.blocked = false;
        }
        Some(w)
    }

    /// Records that `key` may now serve blocked clients.
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        if self.blocking.by_key.is_empty() {
            return;
        }
        let slot = (db, Bytes::copy_from_slice(key));
        if self.blocking.by_key.contains_key(&slot) && !self.blocking.ready.contains(&slot) {
            self.blocking.ready.push_back(slot);
        }
    }

    /// Serves blocked clients whose keys became ready, in FIFO order per
    /// key. Commands run here may make further keys ready; the loop drains
    /// those too.
    pub fn serve_blocked(&mut self, now: i64) {
        // Bounded by the number of waiters per pass; each service removes one.
        while let Some((db, key)) = self.blocking.ready.pop_front() {
            let ids: Vec<u64> = self
                .blocking
                .by_key
                .get(&(db, key.clone()))
                .map(|q| q.iter().copied().collect())
                .unwrap_or_default();
            for id in ids {
                let ready_type = self.ks.dbs[db].get(&key).map(|e| e.value.type_name());
                let Some(w) = self.blocking.waiters.get(&id) else {
                    continue;
                };
                if ready_type != Some(w.key_type) {
                    break;
                }
                let (argv, signal, proto, wdb) = (w.argv.clone(), w.signal.clone(), w.proto, w.db);
                let Ok(cmd) = crate::state::resolve(&argv) else {
                    continue;
                };
                let mut c = Client::new(id, signal.clone(), true);
                c.db = wdb;
                c.proto = proto;
                c.authenticated = true;
                let mut out = BytesMut::new();
                self.execute(cmd, &mut c, argv, &mut out, now);
                if c.blocked.is_some() {
                    // Not served (e.g. the element went to an earlier client).
                    continue;
                }
                self.unblock(id);
                let _ = signal.push.send(out.freeze());
            }
        }
    }

    /// Times a client out if it is still waiting; returns the reply bytes.
    pub fn timeout_blocked(&mut self, id: u64) -> Option<Bytes> {
        if let Some(reply) = self.wait_timeout_reply(id) {
            self.unblock(id);
            return Some(reply);
        }
        let w = self.unblock(id)?;
        Some(timeout_bytes(w.proto, w.timeout_reply))
    }
}

/// The bytes of a timeout reply.
pub fn timeout_bytes(proto: Protocol, r: TimeoutReply) -> Bytes {
    match (proto, r) {
        (Protocol::Resp3, _) => Bytes::from_static(b"_\r\n"),
        (Protocol::Resp2, TimeoutReply::NullArray) => Bytes::from_static(b"*-1\r\n"),
        (Protocol::Resp2, TimeoutReply::Null) => Bytes::from_static(b"$-1\r\n"),
    }
}

// ---------------------------------------------------------------------------
// The blocking commands. Each tries to serve at once with the same code the
// non-blocking form uses, and otherwise blocks; a served retry replies and
// propagates exactly as the non-blocking command would (upstream 7.0
// propagates BLPOP as LPOP, BLMOVE as LMOVE, BZPOPMIN as ZPOPMIN, …).

use redis_storage::list::End;

use crate::error::{CmdResult, WRONGTYPE};

/// Checks that every key is absent or of `want`; upstream answers
/// WRONGTYPE at once rather than blocking on a key of another type.
fn check_types(ctx: &mut Ctx, keys: &[Bytes], want: &str) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now);
    for k in keys {
        if ctx.st.ks.exists(db, k, now) {
            if let Some(e) = ctx.st.ks.dbs[db].get(k) {
                if e.value.type_name() != want {
                    return Err(WRONGTYPE);
                }
            }
        }
    }
    Ok(())
}

fn bpop(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    let deadline = parse_timeout(&argv[argv.len() - 1], ctx.now)?;
    let keys = &argv[1..argv.len() - 1];
    if crate::list::serve_blocked_pop(ctx, keys, end)? {
        return Ok(());
    }
    ctx.block(keys, deadline, "list", TimeoutReply::NullArray, argv);
    Ok(())
}

/// # Format
/// `BLPOP key [key ...] timeout`
pub fn blpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, End::Left)
}

/// # Format
/// `BRPOP key [key ...] timeout`
pub fn brpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop(ctx, argv, End::Right)
}

fn bmove(ctx: &mut Ctx, argv: &[Bytes], timeout_idx: usize) -> CmdResult {
    let deadline = parse_timeout(&argv[timeout_idx], ctx.now)?;
    if argv.len() == 6 {
        crate::list::parse_end(&argv[3])?;
        crate::list::parse_end(&argv[4])?;
    }
    if crate::list::serve_blocked_move(ctx, argv)? {
        return Ok(());
    }
    // Upstream 7.0 answers a timed-out BLMOVE/BRPOPLPUSH with a null array.
    ctx.block(&argv[1..2], deadline, "list", TimeoutReply::NullArray, argv);
    Ok(())
}

/// # Format
/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
pub fn blmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bmove(ctx, argv, 5)
}

/// # Format
/// `BRPOPLPUSH source destination timeout`
pub fn brpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bmove(ctx, argv, 3)
}

/// # Format
/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub fn blmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let deadline = parse_timeout(&argv[1], ctx.now)?;
    let a = crate::list::parse_mpop(argv, 2)?;
    let keys = &argv[a.keys.0..a.keys.1];
    if crate::list::serve_blocked_mpop(ctx, keys, a.end, a.count)? {
        return Ok(());
    }
    ctx.block(keys, deadline, "list", TimeoutReply::NullArray, argv);
    Ok(())
}

fn bzpop(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    let deadline = parse_timeout(&argv[argv.len() - 1], ctx.now)?;
    let keys = &argv[1..argv.len() - 1];
    check_types(ctx, keys, "zset")?;
    for k in keys {
        if crate::zset::serve_blocked_zpop(ctx, k, max) {
            return Ok(());
        }
    }
    ctx.block(keys, deadline, "zset", TimeoutReply::NullArray, argv);
    Ok(())
}

/// # Format
/// `BZPOPMIN key [key ...] timeout`
pub fn bzpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, false)
}

/// # Format
/// `BZPOPMAX key [key ...] timeout`
pub fn bzpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, true)
}

/// # Format
/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`
pub fn bzmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let deadline = parse_timeout(&argv[1], ctx.now)?;
    let a = crate::zset::parse_mpop_args(argv, 2)?;
    check_types(ctx, &a.keys, "zset")?;
    for k in &a.keys {
        if crate::zset::serve_blocked_zmpop(ctx, k, a.max, a.count) {
            return Ok(());
        }
    }
    let keys = a.keys.clone();
    ctx.block(&keys, deadline, "zset", TimeoutReply::NullArray, argv);
    Ok(())
}
