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

use crate::client::{Client, ConnSignal};
use crate::ctx::Ctx;
use crate::dispatch::Caller;
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
    pub signal: Arc<ConnSignal>,
    /// True when the client waits with a timeout (`clients_in_timeout_table`).
    pub has_deadline: bool,
    /// `XREADGROUP`: its key deleted or changed to another type ends the
    /// wait with `-UNBLOCKED the stream key no longer exists` (7.0.15)
    /// rather than waiting for a stream that may never come back.
    pub group_read: bool,
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
        if self.cannot_block() {
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
                group_read: false,
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

    /// Marks the blocked client `id` as an `XREADGROUP` waiter (see
    /// [`Waiter::group_read`]).
    pub fn mark_group_read(&mut self, id: u64) {
        if let Some(w) = self.blocking.waiters.get_mut(&id) {
            w.group_read = true;
        }
    }

    /// Every key clients wait on in `db` may have changed at once
    /// (`FLUSHDB`, `FLUSHALL`, `SWAPDB`): each is checked again, so that
    /// waiters are served by what is there now or told their stream is
    /// gone.
    pub fn signal_blocked_keys_of_db(&mut self, db: usize) {
        let keys: Vec<Bytes> = self
            .blocking
            .by_key
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect();
        for k in keys {
            self.signal_ready(db, &k);
        }
    }

    /// Ends the wait of an `XREADGROUP` client whose stream is gone.
    fn fail_group_read(&mut self, id: u64) {
        let Some(w) = self.unblock(id) else { return };
        let e = crate::error::CmdError::fixed("UNBLOCKED the stream key no longer exists");
        self.fail_waiter(&w, &e);
    }

    /// Ends a wait with an error reply that counts as the failure of the
    /// blocked command: `failed_calls` of its statistics and the error
    /// statistics (upstream's `updateStatsOnUnblock` with an error).
    pub fn fail_waiter(&mut self, w: &Waiter, e: &crate::error::CmdError) {
        let idx = self.registry.resolve(&w.argv).ok().map(|c| c.idx);
        if let Some(s) = idx.and_then(|i| self.cmdstats.get_mut(i)) {
            s.failed += 1;
        }
        self.push_error(&w.signal, e);
    }

    /// Ends a wait with an error reply sent through the client's mailbox,
    /// counted in the error statistics as a reply of the command.
    pub(crate) fn push_error(&mut self, signal: &ConnSignal, e: &crate::error::CmdError) {
        self.count_error(e);
        let mut msg = Vec::with_capacity(e.0.len() + 3);
        msg.push(b'-');
        msg.extend_from_slice(&e.0);
        msg.extend_from_slice(b"\r\n");
        let _ = signal.push.send(Bytes::from(msg));
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
                    if w.group_read {
                        self.fail_group_read(id);
                        continue;
                    }
                    break;
                }
                let (argv, signal, proto, wdb) = (w.argv.clone(), w.signal.clone(), w.proto, w.db);
                let mut c = Client::new(id, signal.clone(), true);
                c.db = wdb;
                c.proto = proto;
                c.authenticated = true;
                let mut out = BytesMut::new();
                self.call(Caller::BlockedRetry, &mut c, argv, &mut out, now);
                if c.blocked.is_some() {
                    // Not served (e.g. the element went to an earlier
                    // client): whatever it wrote is not a reply yet.
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
