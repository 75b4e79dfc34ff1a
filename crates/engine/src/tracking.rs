//! Client-side caching (upstream `tracking.c`): `CLIENT TRACKING` state,
//! the table of keys clients read (key → ids of the clients that may cache
//! it), the broadcast prefixes of `BCAST` mode, and the invalidation
//! messages (`invalidate` pushes in RESP3, `__redis__:invalidate` pub/sub
//! messages to a RESP2 redirection client).
//!
//! As upstream: the table is global (not per database), a client turning
//! tracking off leaves its ids in the table (skipped when met), messages
//! for the client running a command are sent after its reply, `BCAST`
//! invalidations are batched and sent "before sleep" (after a connection's
//! batch of commands, or by the cron), and `tracking-table-max-keys` is
//! enforced before each client command and by the cron, by invalidating
//! keys taken at random.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rand::Rng;
use redis_storage::string::itoa_buf;
use tokio::sync::{watch, Notify};

use crate::error::CmdError;
use crate::table::{flags, Cmd};
use crate::State;

/// The tracking state of one client (upstream's `CLIENT_TRACKING*` flags,
/// `client_tracking_redirection` and `client_tracking_prefixes`).
#[derive(Clone, Debug, Default)]
pub struct ClientTracking {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// `CLIENT CACHING yes|no` applies to the next command (or
    /// transaction).
    pub caching: bool,
    /// The redirection client went away.
    pub broken_redir: bool,
    /// The client invalidations go to (0: the client itself).
    pub redirect: u64,
    /// `BCAST` prefixes, sorted.
    pub prefixes: BTreeSet<Bytes>,
}

/// The options of `CLIENT TRACKING on`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

/// One broadcast prefix: the keys modified since the last broadcast (with
/// the client that last modified each, for `NOLOOP`) and its clients.
#[derive(Debug, Default)]
struct Bcast {
    keys: BTreeMap<Bytes, Option<u64>>,
    clients: BTreeSet<u64>,
}

/// The server-wide tracking state.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Some client enabled tracking once (upstream creates its tables
    /// then): until then nothing is recorded.
    used: bool,
    /// Key → ids of the clients that read it. Ids are stored byte-swapped
    /// so that they sort like upstream's radix tree of native-endian ids.
    table: HashMap<Bytes, BTreeSet<u64>>,
    /// Total of the id sets' sizes (`tracking_total_items`).
    items: usize,
    prefixes: BTreeMap<Bytes, Bcast>,
    /// Clients with tracking on (`tracking_clients`).
    pub clients: usize,
    /// Of those, the ones in default (not BCAST) mode: only they record
    /// the keys they read, or use `CLIENT CACHING`. While there are none,
    /// a command needs no look at its client's tracking state (a client
    /// lookup per command cost BCAST setups a few percent at `-P 16`).
    key_clients: usize,
    /// `tracking-table-max-keys` (0: no limit).
    pub max_keys: u64,
    /// Consecutive limit passes that could not get under the limit.
    limit_rounds: u64,
    /// The client whose command runs (upstream's `current_client`).
    current: Option<u64>,
    /// Its command is executing: its own invalidations wait for the reply.
    executing: bool,
    /// Keys whose invalidation the current client gets after its reply
    /// (`None`: a flush).
    pending: Vec<Option<Bytes>>,
    /// Bytes for the current client, written into its reply at the next
    /// flush point.
    own: BytesMut,
    /// While a script runs for a tracking client: that client and the
    /// script's declared keys (what its read-only commands track).
    script_keys: Option<(u64, Vec<Bytes>)>,
    /// Bytes of invalidation messages handed to clients so far (queued
    /// output, freed once written): eviction leaves them out of what a
    /// deletion freed.
    sent_bytes: u64,
    /// A deferred broadcast is due: the flusher was woken and has not run.
    flush_due: bool,
    /// The server's broadcast flusher and the writers waiting for it.
    gate: FlushGate,
}

/// Deferred broadcasts (see [`State::tracking_broadcast_soon`]): what
/// wakes the server's flusher, and the count of broadcasts sent, which
/// the connections that wrote wait on before their replies go out.
#[derive(Debug)]
struct FlushGate {
    wake: Arc<Notify>,
    sent: watch::Sender<u64>,
}

impl Default for FlushGate {
    fn default() -> Self {
        FlushGate {
            wake: Arc::new(Notify::new()),
            sent: watch::channel(0).0,
        }
    }
}

/// What a connection's replies wait for: the broadcast count to pass the
/// one it was given.
pub type FlushTicket = (watch::Receiver<u64>, u64);

/// What [`State::tracking_enter`] saved from an outer command.
#[derive(Debug, Default)]
pub struct Saved {
    current: Option<u64>,
    executing: bool,
    pending: Vec<Option<Bytes>>,
    own: BytesMut,
}

impl Tracking {
    /// What the server's broadcast flusher waits on.
    pub fn flush_signal(&self) -> Arc<Notify> {
        self.gate.wake.clone()
    }

    /// Bytes of invalidation messages handed to clients so far.
    pub fn sent_bytes(&self) -> u64 {
        self.sent_bytes
    }

    /// `tracking_total_keys`.
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    /// `tracking_total_items`.
    pub fn total_items(&self) -> usize {
        self.items
    }

    /// `tracking_total_prefixes`.
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }
}

/// `*1` + the key: the value part of a one-key invalidation.
fn key_array(key: &[u8]) -> Vec<u8> {
    let mut v = BytesMut::with_capacity(key.len() + 16);
    redis_resp::write::write_array_len(&mut v, 1);
    redis_resp::write::write_bulk(&mut v, key);
    v.to_vec()
}

/// The null upstream sends for "everything is invalid" (`shared.null`
/// of the tracking client's protocol).
fn null_for(resp: u8) -> &'static [u8] {
    if resp >= 3 {
        b"_\r\n"
    } else {
        b"$-1\r\n"
    }
}

/// Upstream's `stringCheckPrefix`: one is a prefix of the other.
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// A prefix as `%s` prints it in an error: up to a NUL, newlines blanked.
fn shown(p: &[u8]) -> String {
    let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
    String::from_utf8_lossy(&p[..end]).replace(['\r', '\n'], " ")
}

/// The outcome of the prefix checks of `CLIENT TRACKING on BCAST`.
#[derive(Debug)]
pub enum PrefixCheck {
    Ok,
    /// Refused.
    Err(CmdError),
    /// Upstream 7.0 replies this error and still enables tracking (and
    /// replies `+OK`) when the overlap is between two provided prefixes
    /// past the first one.
    ErrThenOk(CmdError),
}

impl State {
    /// The tracking state of client `id`, if it is connected.
    fn trk(&self, id: u64) -> Option<&ClientTracking> {
        self.clients.get(&id).map(|c| &c.tracking)
    }

    fn trk_mut(&mut self, id: u64) -> Option<&mut ClientTracking> {
        self.clients.get_mut(&id).map(|c| &mut c.tracking)
    }

    /// Checks `prefixes` against each other and the client's own
    /// (upstream `checkPrefixCollisionsOrReply`).
    pub fn tracking_check_prefixes(&self, id: u64, prefixes: &[Bytes]) -> PrefixCheck {
        let existing = self.trk(id).map(|t| &t.prefixes);
        for (i, p) in prefixes.iter().enumerate() {
            if let Some(e) = existing.and_then(|s| s.iter().find(|e| overlaps(e, p))) {
                return PrefixCheck::Err(CmdError::msg(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    shown(p),
                    shown(e)
                )));
            }
            if let Some(q) = prefixes[i + 1..].iter().find(|q| overlaps(p, q)) {
                let e = CmdError::msg(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    shown(p),
                    shown(q)
                ));
                return if i == 0 {
                    PrefixCheck::Err(e)
                } else {
                    PrefixCheck::ErrThenOk(e)
                };
            }
        }
        PrefixCheck::Ok
    }

    /// `CLIENT TRACKING on` (upstream `enableTracking`): options replace
    /// the previous ones, prefixes add to the previous ones.
    pub fn tracking_enable(&mut self, id: u64, redirect: u64, opts: Options, prefixes: &[Bytes]) {
        let Some(info) = self.clients.get_mut(&id) else {
            return;
        };
        let t = &mut info.tracking;
        if !t.on {
            self.tracking.clients += 1;
        }
        if t.on && !t.bcast {
            self.tracking.key_clients = self.tracking.key_clients.saturating_sub(1);
        }
        if !opts.bcast {
            self.tracking.key_clients += 1;
        }
        t.on = true;
        t.broken_redir = false;
        t.redirect = redirect;
        t.bcast = opts.bcast;
        t.optin = opts.optin;
        t.optout = opts.optout;
        t.noloop = opts.noloop;
        self.tracking.used = true;
        if opts.bcast {
            let empty = [Bytes::new()];
            let list = if prefixes.is_empty() {
                &empty[..]
            } else {
                prefixes
            };
            for p in list {
                let bs = self.tracking.prefixes.entry(p.clone()).or_default();
                if bs.clients.insert(id) {
                    t.prefixes.insert(p.clone());
                }
            }
        }
    }

    /// `CLIENT TRACKING off`, `RESET`, a client going away (upstream
    /// `disableTracking`). The keys it read stay in the table.
    pub fn tracking_disable(&mut self, id: u64) {
        let Some(info) = self.clients.get_mut(&id) else {
            return;
        };
        let t = &mut info.tracking;
        if t.bcast {
            for p in std::mem::take(&mut t.prefixes) {
                if let Some(bs) = self.tracking.prefixes.get_mut(&p) {
                    bs.clients.remove(&id);
                    if bs.clients.is_empty() {
                        self.tracking.prefixes.remove(&p);
                    }
                }
            }
        }
        if t.on {
            self.tracking.clients = self.tracking.clients.saturating_sub(1);
            if !t.bcast {
                self.tracking.key_clients = self.tracking.key_clients.saturating_sub(1);
            }
            let redirect = t.redirect;
            *t = ClientTracking {
                redirect,
                ..ClientTracking::default()
            };
        }
    }

    /// `CLIENT CACHING yes|no` was accepted.
    pub fn tracking_set_caching(&mut self, id: u64) {
        if let Some(t) = self.trk_mut(id) {
            t.caching = true;
        }
    }

    /// The tracking state of a client (a default one when unknown).
    pub fn tracking_of(&self, id: u64) -> ClientTracking {
        self.trk(id).cloned().unwrap_or_default()
    }

    /// A top-level command of client `id` starts (upstream sets
    /// `current_client`); returns what an outer command had.
    pub fn tracking_enter(&mut self, id: u64) -> Saved {
        let t = &mut self.tracking;
        Saved {
            current: t.current.replace(id),
            executing: std::mem::take(&mut t.executing),
            pending: std::mem::take(&mut t.pending),
            own: std::mem::take(&mut t.own),
        }
    }

    /// The checks of the current command passed or failed: the table limit
    /// is enforced (for a client's command, as upstream's
    /// `processCommand`), what the client got meanwhile precedes its reply,
    /// and from now on its own invalidations wait for the reply.
    pub fn tracking_checked(&mut self, client_command: bool, out: &mut BytesMut) {
        if !self.tracking.used {
            return;
        }
        if client_command && self.tracking.clients > 0 {
            self.tracking_limit();
        }
        if !self.tracking.own.is_empty() {
            out.extend_from_slice(&std::mem::take(&mut self.tracking.own));
        }
        self.tracking.executing = true;
    }

    /// Writes what the current client got meanwhile (invalidations
    /// redirected to it) at this point of its reply, as upstream writes
    /// them as they happen.
    pub fn tracking_take_own(&mut self, out: &mut BytesMut) {
        if self.tracking.executing && !self.tracking.own.is_empty() {
            out.extend_from_slice(&std::mem::take(&mut self.tracking.own));
        }
    }

    /// The top-level command ended: its client gets its pending
    /// invalidations after the reply; `CLIENT CACHING` lapses unless the
    /// command was a `CLIENT` subcommand or a transaction is open.
    pub fn tracking_leave(&mut self, saved: Saved, keep_caching: bool, out: &mut BytesMut) {
        if self.tracking.used {
            self.tracking.executing = false;
            if let Some(id) = self.tracking.current {
                for key in std::mem::take(&mut self.tracking.pending) {
                    match key {
                        Some(k) => self.tracking_send(id, &key_array(&k)),
                        None => {
                            let resp = self.clients.get(&id).map_or(2, |c| c.resp);
                            self.tracking_send(id, null_for(resp));
                        }
                    }
                }
                if !keep_caching && self.tracking.key_clients > 0 {
                    if let Some(t) = self.trk_mut(id) {
                        t.caching = false;
                    }
                }
            }
            if !self.tracking.own.is_empty() {
                out.extend_from_slice(&std::mem::take(&mut self.tracking.own));
            }
        }
        let t = &mut self.tracking;
        t.current = saved.current;
        t.executing = saved.executing;
        t.pending = saved.pending;
        t.own = saved.own;
    }

    /// Sends `value` (the keys array, or a null) as an invalidation for
    /// tracking client `id`, to it or its redirection (upstream
    /// `sendTrackingMessage`).
    fn tracking_send(&mut self, id: u64, value: &[u8]) {
        self.tracking_send_framed(id, &mut Framed::new(value));
    }

    /// [`State::tracking_send`] of one value to many clients: each framing
    /// is built once and shared (a broadcast sends the same bytes to every
    /// tracking client of a prefix).
    fn tracking_send_framed(&mut self, id: u64, framed: &mut Framed<'_>) {
        let Some(info) = self.clients.get(&id) else {
            return;
        };
        let (resp, redirect) = (info.resp, info.tracking.redirect);
        let mut dest = id;
        if redirect != 0 {
            if !self.clients.contains_key(&redirect) {
                if let Some(t) = self.trk_mut(id) {
                    t.broken_redir = true;
                }
                if resp >= 3 {
                    let mut m = b">2\r\n$21\r\ntracking-redir-broken\r\n:".to_vec();
                    m.extend_from_slice(itoa_buf(redirect as i64).as_bytes());
                    m.extend_from_slice(b"\r\n");
                    self.tracking_deliver(id, Bytes::from(m));
                }
                return;
            }
            dest = redirect;
        }
        let Some(d) = self.clients.get(&dest) else {
            return;
        };
        let m = if d.resp >= 3 {
            framed.push()
        } else if dest != id && d.sub + d.psub + d.ssub > 0 {
            framed.message()
        } else {
            // RESP2 without a subscribed redirection: nowhere to send.
            return;
        };
        self.tracking_deliver(dest, m);
    }

    /// Hands bytes to a client: the current one gets them at its next
    /// flush point, the others through their push channel.
    fn tracking_deliver(&mut self, dest: u64, m: Bytes) {
        // What queuing it took, as the allocator counts it.
        let before = (self.used_memory)();
        if self.tracking.current == Some(dest) {
            self.tracking.own.extend_from_slice(&m);
        } else if let Some(d) = self.clients.get(&dest) {
            // A receiver whose task already ended simply misses it.
            let _ = d.signal.push.send(m);
        }
        let grew = (self.used_memory)().saturating_sub(before);
        self.tracking.sent_bytes += grew as u64;
    }

    /// The modifier recorded for a broadcast key changed now: the current
    /// client, except for a script's writes (upstream passes the script's
    /// own client) .
    pub(crate) fn tracking_modifier(&self) -> Option<u64> {
        if self.scripting.run.is_some() {
            None
        } else {
            self.tracking.current
        }
    }

    /// A key changed (upstream `trackingInvalidateKey`): the clients that
    /// read it are told, and with `bcast` it is recorded for the matching
    /// broadcast prefixes.
    pub(crate) fn tracking_invalidate_key(
        &mut self,
        key: &[u8],
        bcast: bool,
        modifier: Option<u64>,
    ) {
        if !self.tracking.used {
            return;
        }
        if bcast && !self.tracking.prefixes.is_empty() {
            for (p, bs) in self.tracking.prefixes.iter_mut() {
                if key.starts_with(p) {
                    bs.keys.insert(Bytes::copy_from_slice(key), modifier);
                }
            }
        }
        let Some(ids) = self.tracking.table.remove(key) else {
            return;
        };
        self.tracking.items = self.tracking.items.saturating_sub(ids.len());
        let mut value: Option<Vec<u8>> = None;
        for id in ids.into_iter().map(u64::swap_bytes) {
            let Some(t) = self.trk(id) else { continue };
            if !t.on || t.bcast {
                continue;
            }
            let is_current = self.tracking.current == Some(id);
            if t.noloop && is_current {
                continue;
            }
            if is_current && self.tracking.executing {
                self.tracking
                    .pending
                    .push(Some(Bytes::copy_from_slice(key)));
            } else {
                let v = value.get_or_insert_with(|| key_array(key)).clone();
                self.tracking_send(id, &v);
            }
        }
    }

    /// The dataset was flushed (upstream `trackingInvalidateKeysOnFlush`):
    /// every tracking client is told everything is invalid, and the table
    /// is emptied.
    pub fn tracking_flush(&mut self) {
        if !self.tracking.used {
            return;
        }
        if self.tracking.clients > 0 {
            let ids: Vec<(u64, u8)> = self
                .clients
                .values()
                .filter(|c| c.tracking.on)
                .map(|c| (c.id, c.resp))
                .collect();
            for (id, resp) in ids {
                if self.tracking.current == Some(id) {
                    self.tracking.pending.push(None);
                } else {
                    self.tracking_send(id, null_for(resp));
                }
            }
        }
        self.tracking.table.clear();
        self.tracking.items = 0;
    }

    /// Records that tracking client `id` read `keys` (upstream
    /// `trackingRememberKeys`), unless `OPTIN`/`OPTOUT` say otherwise.
    fn tracking_remember(&mut self, id: u64, keys: &[Bytes]) {
        let Some(t) = self.trk(id) else { return };
        if !t.on || t.bcast || (t.optin && !t.caching) || (t.optout && t.caching) {
            return;
        }
        let sid = id.swap_bytes();
        for k in keys {
            let set = match self.tracking.table.get_mut(k) {
                Some(s) => s,
                // A copy: the argument may be a slice of the client's
                // whole read buffer, which the table must not keep alive.
                None => self
                    .tracking
                    .table
                    .entry(Bytes::copy_from_slice(k))
                    .or_default(),
            };
            if set.insert(sid) {
                self.tracking.items += 1;
            }
        }
    }

    /// The keys of `argv` per the command's key specs.
    fn command_keys(cmd: &Cmd, argv: &[Bytes]) -> Vec<Bytes> {
        crate::meta::get_keys(cmd.meta, argv)
            .map(|pos| pos.iter().filter_map(|&i| argv.get(i).cloned()).collect())
            .unwrap_or_default()
    }

    /// Before a command runs: a script (`EVAL`, `FCALL` and their `_RO`
    /// variants) of a tracking client makes its declared keys what its
    /// read-only commands track, as upstream takes the keys from the
    /// calling client's command.
    pub fn tracking_before(&mut self, cmd: &Cmd, id: u64, argv: &[Bytes]) {
        if !self.tracking.used || self.tracking.clients == 0 {
            return;
        }
        if runs_script(cmd)
            && self.tracking.key_clients > 0
            && self.trk(id).is_some_and(|t| t.on && !t.bcast)
        {
            self.tracking.script_keys = Some((id, Self::command_keys(cmd, argv)));
        }
    }

    /// After a command ran: a read-only one records its keys for the
    /// tracking client that runs it (for a script's command: the script's
    /// client and keys).
    pub fn tracking_after(&mut self, cmd: &Cmd, id: u64, argv: &[Bytes], in_script: bool) {
        if !self.tracking.used || self.tracking.clients == 0 {
            return;
        }
        if runs_script(cmd) && !in_script {
            self.tracking.script_keys = None;
        }
        if !cmd.has(flags::READONLY)
            || cmd.has(flags::PUBSUB)
            || matches!(
                cmd.full_name.as_str(),
                "eval_ro" | "evalsha_ro" | "fcall_ro"
            )
        {
            return;
        }
        if in_script {
            if let Some((tid, keys)) = self.tracking.script_keys.take() {
                self.tracking_remember(tid, &keys);
                self.tracking.script_keys = Some((tid, keys));
            }
        } else if self.tracking.key_clients > 0 && self.trk(id).is_some_and(|t| t.on && !t.bcast) {
            let keys = Self::command_keys(cmd, argv);
            if !keys.is_empty() {
                self.tracking_remember(id, &keys);
            }
        }
    }

    /// After a connection's batch: its broadcast invalidations go out
    /// together with those of the batches other connections run meanwhile.
    /// Upstream sends them once per event-loop iteration, after serving
    /// every ready client and before writing any reply; here a flusher
    /// task, woken now, sends them once the connections already scheduled
    /// have run (it yields first), so a burst of writes from many clients
    /// costs one message per tracking client instead of one per write.
    /// The returned ticket holds this connection's replies until then, so
    /// that, as upstream, no writer sees its reply before the tracking
    /// clients were sent the invalidation. A connection that is itself a
    /// BCAST client gets its own invalidations in place, before its reply,
    /// and sends everyone's at once.
    pub fn tracking_broadcast_soon(&mut self, me: (u64, &mut BytesMut)) -> Option<FlushTicket> {
        if !self.tracking.used || self.tracking.clients == 0 || self.tracking.prefixes.is_empty() {
            return None;
        }
        if self.trk(me.0).is_some_and(|t| t.on && t.bcast) {
            self.tracking_broadcast(Some(me));
            return None;
        }
        if !self.tracking.prefixes.values().any(|b| !b.keys.is_empty()) {
            return None;
        }
        if !self.tracking.flush_due {
            self.tracking.flush_due = true;
            self.tracking.gate.wake.notify_one();
        }
        let rx = self.tracking.gate.sent.subscribe();
        let seen = *rx.borrow();
        Some((rx, seen))
    }

    /// The flusher's turn: sends what [`State::tracking_broadcast_soon`]
    /// left pending.
    pub fn tracking_flush_deferred(&mut self) {
        self.tracking.flush_due = false;
        self.tracking_broadcast(None);
    }

    /// Sends the batched broadcast invalidations (upstream
    /// `trackingBroadcastInvalidationMessages`, run before sleeping).
    /// `me` is the connection whose batch just ran, served in place.
    pub fn tracking_broadcast(&mut self, me: Option<(u64, &mut BytesMut)>) {
        if !self.tracking.used || self.tracking.clients == 0 || self.tracking.prefixes.is_empty() {
            return;
        }
        if self.tracking.prefixes.values().all(|b| b.keys.is_empty()) {
            return;
        }
        let (me_id, out) = match me {
            Some((id, out)) => (Some(id), Some(out)),
            None => (None, None),
        };
        let saved = self.tracking.current;
        let saved_own = std::mem::take(&mut self.tracking.own);
        self.tracking.current = me_id;
        let work: Vec<(Modified, Vec<u64>)> = self
            .tracking
            .prefixes
            .values_mut()
            .filter(|b| !b.keys.is_empty())
            .map(|b| {
                (
                    std::mem::take(&mut b.keys),
                    b.clients.iter().copied().collect(),
                )
            })
            .collect();
        for (keys, clients) in work {
            let common = broadcast_value(&keys, None);
            let mut framed = common.as_deref().map(Framed::new);
            for id in clients {
                let noloop = self.trk(id).is_some_and(|t| t.noloop);
                if noloop {
                    if let Some(v) = broadcast_value(&keys, Some(id)) {
                        self.tracking_send(id, &v);
                    }
                } else if let Some(f) = &mut framed {
                    self.tracking_send_framed(id, f);
                }
            }
        }
        let own = std::mem::replace(&mut self.tracking.own, saved_own);
        self.tracking.current = saved;
        self.tracking.gate.sent.send_modify(|n| *n += 1);
        if let Some(out) = out {
            out.extend_from_slice(&own);
        }
    }

    /// Keeps the table within `tracking-table-max-keys` (upstream
    /// `trackingLimitUsedSlots`): invalidates random keys, up to an effort
    /// that grows with each pass that could not get under the limit.
    pub fn tracking_limit(&mut self) {
        if !self.tracking.used || self.tracking.max_keys == 0 {
            return;
        }
        let max = usize::try_from(self.tracking.max_keys).unwrap_or(usize::MAX);
        let len = self.tracking.table.len();
        if len <= max {
            self.tracking.limit_rounds = 0;
            return;
        }
        let effort = 100usize.saturating_mul(self.tracking.limit_rounds as usize + 1);
        let n = effort.min(len - max);
        let start = self.rng.gen_range(0..len);
        let victims: Vec<Bytes> = self
            .tracking
            .table
            .keys()
            .skip(start)
            .chain(self.tracking.table.keys().take(start))
            .take(n)
            .cloned()
            .collect();
        for k in victims {
            self.tracking_invalidate_key(&k, false, None);
        }
        if self.tracking.table.len() <= max {
            self.tracking.limit_rounds = 0;
        } else {
            self.tracking.limit_rounds += 1;
        }
    }
}

/// An invalidation value and its two framings (RESP3 push, RESP2
/// `__redis__:invalidate` message), each built on first use.
struct Framed<'a> {
    value: &'a [u8],
    push: Option<Bytes>,
    message: Option<Bytes>,
}

impl<'a> Framed<'a> {
    fn new(value: &'a [u8]) -> Framed<'a> {
        Framed {
            value,
            push: None,
            message: None,
        }
    }

    /// The RESP3 `invalidate` push.
    fn push(&mut self) -> Bytes {
        let value = self.value;
        self.push
            .get_or_insert_with(|| framed(b">2\r\n$10\r\ninvalidate\r\n", value))
            .clone()
    }

    /// The RESP2 message on `__redis__:invalidate` (to a subscribed
    /// redirection).
    fn message(&mut self) -> Bytes {
        let value = self.value;
        self.message
            .get_or_insert_with(|| {
                framed(
                    b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n",
                    value,
                )
            })
            .clone()
    }
}

/// `header` followed by `value`.
fn framed(header: &[u8], value: &[u8]) -> Bytes {
    let mut m = Vec::with_capacity(header.len() + value.len());
    m.extend_from_slice(header);
    m.extend_from_slice(value);
    Bytes::from(m)
}

/// The keys a prefix saw modified, with their last modifier.
type Modified = BTreeMap<Bytes, Option<u64>>;

/// The keys array of a broadcast, without the keys `skip` modified last
/// (`NOLOOP`); `None` when nothing is left.
fn broadcast_value(keys: &Modified, skip: Option<u64>) -> Option<Vec<u8>> {
    let list: Vec<&Bytes> = keys
        .iter()
        .filter(|(_, m)| skip.is_none() || **m != skip)
        .map(|(k, _)| k)
        .collect();
    if list.is_empty() {
        return None;
    }
    let mut v = BytesMut::new();
    redis_resp::write::write_array_len(&mut v, list.len());
    for k in list {
        redis_resp::write::write_bulk(&mut v, k);
    }
    Some(v.to_vec())
}

/// `EVAL`, `EVALSHA`, `FCALL` and their `_RO` variants.
fn runs_script(cmd: &Cmd) -> bool {
    matches!(
        cmd.special,
        crate::table::Special::Eval | crate::table::Special::EvalSha | crate::table::Special::Fcall
    )
}

#[cfg(test)]
#[path = "tracking_tests.rs"]
mod tests;
