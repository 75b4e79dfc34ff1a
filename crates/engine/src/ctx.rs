//! The execution context handed to every command handler, and the reply
//! writers handlers use. Replies are appended straight to the connection's
//! output buffer: no intermediate frame is built on the hot path.

use bytes::{BufMut, Bytes, BytesMut};
use redis_resp::{Frame, Protocol};
use redis_storage::string::itoa_buf;

use crate::client::Client;
use crate::state::State;

/// What a handler may touch while it runs.
pub struct Ctx<'a> {
    pub st: &'a mut State,
    pub client: &'a mut Client,
    pub out: &'a mut BytesMut,
    /// Unix time in milliseconds, frozen for the duration of the command.
    pub now: i64,
    /// Who runs the command (a client, `EXEC`, a blocked client's retry,
    /// the primary's stream, AOF loading).
    pub caller: crate::dispatch::Caller,
    /// The arguments to propagate instead of the original command, when the
    /// handler rewrote it (e.g. `SET k v EX 10` → `SET k v PXAT <abs>`).
    pub rewrite: Option<Vec<Vec<Bytes>>>,
    /// Changes made by this command (feeds `rdb_changes_since_last_save`).
    pub dirty: u64,
    /// Propagate the command to replicas even though it changed nothing
    /// (PUBLISH: upstream's `forceCommandPropagation(PROPAGATE_REPL)`).
    pub force_repl: bool,
    /// The reply is push data (subscription confirmations, in RESP2 and
    /// RESP3 alike), which `CLIENT REPLY OFF|SKIP` does not suppress:
    /// upstream sends pushes whatever the reply mode.
    pub push_reply: bool,
    /// Indexes of arguments MONITOR and the slow log show as `(redacted)`
    /// (passwords: upstream's `redactClientCommandArgument`).
    pub redact: Vec<usize>,
}

impl Ctx<'_> {
    /// True where nothing may block: inside `EXEC`, a script, or when
    /// loading the AOF, a blocking command answers as if it timed out at
    /// once.
    pub fn cannot_block(&self) -> bool {
        matches!(
            self.caller,
            crate::dispatch::Caller::Exec
                | crate::dispatch::Caller::AofLoad
                | crate::dispatch::Caller::Script
        )
    }

    /// The client's protocol.
    pub fn proto(&self) -> Protocol {
        self.client.proto
    }

    /// The client's selected database.
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// The access metadata for a key created or written now (LRU clock, or
    /// the initial LFU counter, depending on `maxmemory-policy`).
    /// Whether a deadline at `when` (Unix ms) has already passed for a
    /// command that sets one, so the key is deleted instead (upstream's
    /// `checkAlreadyExpired`): never on a replica, which waits for its
    /// primary's `DEL`, nor while the AOF is loaded, which replays the
    /// history in which the key was live.
    pub fn already_expired(&self, when: i64) -> bool {
        when <= self.now
            && !self.st.ks.is_replica
            && self.caller != crate::dispatch::Caller::AofLoad
    }

    pub fn lru(&self) -> u32 {
        self.st.ks.initial_access(self.now)
    }

    /// Shows argument `i` as `(redacted)` in MONITOR and the slow log.
    pub fn redact_arg(&mut self, i: usize) {
        if !self.redact.contains(&i) {
            self.redact.push(i);
        }
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string.
    pub fn simple(&mut self, s: &str) {
        self.out.put_u8(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An integer.
    pub fn int(&mut self, i: i64) {
        self.out.put_u8(b':');
        self.out.extend_from_slice(itoa_buf(i).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        self.out.put_u8(b'$');
        self.out
            .extend_from_slice(itoa_buf(b.len() as i64).as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(b);
        self.out.extend_from_slice(b"\r\n");
    }

    /// An integer as a bulk string.
    pub fn bulk_int(&mut self, i: i64) {
        let b = itoa_buf(i);
        self.bulk(b.as_bytes());
    }

    /// The null bulk (`$-1` / `_`).
    pub fn null(&mut self) {
        match self.client.proto {
            Protocol::Resp2 => self.out.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        match self.client.proto {
            Protocol::Resp2 => self.out.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// An array header.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// A map header (`%n` in RESP3, `*2n` in RESP2).
    pub fn map(&mut self, n: usize) {
        match self.client.proto {
            Protocol::Resp2 => self.header(b'*', n * 2),
            Protocol::Resp3 => self.header(b'%', n),
        }
    }

    /// A set header (`~n` in RESP3, `*n` in RESP2).
    pub fn set(&mut self, n: usize) {
        match self.client.proto {
            Protocol::Resp2 => self.header(b'*', n),
            Protocol::Resp3 => self.header(b'~', n),
        }
    }

    fn header(&mut self, c: u8, n: usize) {
        self.out.put_u8(c);
        self.out.extend_from_slice(itoa_buf(n as i64).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// A verbatim string (`=` in RESP3, bulk in RESP2), as `INFO` replies.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.client.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.header(b'=', text.len() + 4);
                self.out.extend_from_slice(b"txt:");
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean-ish integer reply in RESP2 that is a boolean in RESP3 is
    /// not used by 7.0 commands; this writes a plain integer.
    pub fn bool_int(&mut self, b: bool) {
        self.int(i64::from(b));
    }

    /// Any frame.
    pub fn frame(&mut self, f: &Frame) {
        f.encode(self.client.proto, self.out);
    }

    /// An array of bulk strings.
    pub fn bulk_array<I, B>(&mut self, items: I)
    where
        I: ExactSizeIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        self.array(items.len());
        for it in items {
            self.bulk(it.as_ref());
        }
    }

    /// Signals that `key` in database `db` was modified by `event` (upstream
    /// `signalModifiedKey` + `notifyKeyspaceEvent`). `class` is the
    /// notification class letter of `notify-keyspace-events` (`g` generic,
    /// `$` string, `l` list, `s` set, `h` hash, `z` zset, `x` expired, …).
    /// WATCH invalidation and keyspace notifications hang off this call, so
    /// every handler that writes a key must call it once per key and event.
    pub fn key_event(&mut self, db: usize, key: &[u8], class: char, event: &str) {
        self.st.touch_key(db, key);
        // An invalidation redirected to this very client goes out here,
        // where upstream writes it (not inside a script's reply).
        if self.caller != crate::dispatch::Caller::Script {
            self.st.tracking_take_own(self.out);
        }
        // Not only list/zset/stream events: RENAME, MOVE, COPY and RESTORE
        // (generic events) can put a list onto a key clients wait on. The
        // call is free when nobody is blocked, and a waiter whose key holds
        // the wrong type simply stays blocked.
        self.st.signal_ready(db, key);
        let id = self.client.id;
        // Pending `keymiss` and `new` events come first, in upstream's order
        // (lookups happen before writes, `dbAdd` before the command's event).
        if !self.st.ks.missed.is_empty() {
            self.st.notify_misses(Some((id, &mut *self.out)));
        }
        if let Some(i) = self
            .st
            .new_candidates
            .iter()
            .position(|(d, k)| *d == db && k.as_ref() == key)
        {
            if self.st.ks.dbs[db].contains(key) {
                self.st.new_candidates.swap_remove(i);
                crate::pubsub::notify(self.st, db, key, 'n', "new", Some((id, &mut *self.out)));
            }
        }
        crate::pubsub::notify(self.st, db, key, class, event, Some((id, &mut *self.out)));
    }

    /// Records that the command changed `n` things.
    pub fn changed(&mut self, n: u64) {
        self.dirty += n;
    }

    /// Sends the command to replicas although it changes no data, so
    /// their subscribers get a published message.
    pub fn force_replication(&mut self) {
        self.force_repl = true;
    }

    /// Propagates `argv` instead of the command as received.
    pub fn propagate_as(&mut self, argv: Vec<Bytes>) {
        self.rewrite.get_or_insert_with(Vec::new).push(argv);
    }
}
