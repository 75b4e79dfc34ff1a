//! The connections `MIGRATE` keeps open to its targets (upstream's
//! `migrate_cached_sockets`): one per `host:port` as the client wrote it,
//! reused by the next `MIGRATE` to the same place, remembering which
//! database the target connection has selected. At most 64 are kept (a
//! random one makes room for a new one), and the cron closes those idle
//! for more than 10 seconds. `INFO stats` reports how many are open.
//!
//! Only the bookkeeping lives here; the command (`redis-commands`'
//! `migrate`) does the blocking I/O on the sockets it takes from the cache.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::TcpStream;

use bytes::Bytes;
use rand::Rng;

/// Most sockets kept open at once (upstream `MIGRATE_SOCKET_CACHE_ITEMS`).
pub const MAX_SOCKETS: usize = 64;
/// Seconds a socket may stay unused before the cron closes it (upstream
/// `MIGRATE_SOCKET_CACHE_TTL`).
pub const IDLE_SECS: i64 = 10;

/// One open connection to a `MIGRATE` target.
#[derive(Debug)]
pub struct MigrateSocket {
    pub stream: TcpStream,
    /// The database selected on the target, -1 when unknown (a fresh
    /// connection, or after the target replied with an error).
    pub last_dbid: i64,
    /// When it was last handed out (Unix seconds).
    pub last_use: i64,
    /// Bytes read from the target that no reply has consumed yet.
    pub pending: Vec<u8>,
}

/// The cache, keyed by `host:port` as given to `MIGRATE`.
#[derive(Debug, Default)]
pub struct MigrateCache {
    sockets: HashMap<Bytes, MigrateSocket>,
}

impl MigrateCache {
    /// How many connections are open (`INFO`'s `migrate_cached_sockets`).
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The open connection to `name`, marked as used at `now_secs`.
    pub fn get(&mut self, name: &[u8], now_secs: i64) -> Option<&mut MigrateSocket> {
        let s = self.sockets.get_mut(name)?;
        s.last_use = now_secs;
        Some(s)
    }

    /// Adds a fresh connection to `name` (no database selected yet),
    /// closing a random other one first when the cache is full.
    pub fn insert<R: Rng>(
        &mut self,
        name: Bytes,
        stream: TcpStream,
        now_secs: i64,
        rng: &mut R,
    ) -> &mut MigrateSocket {
        if self.sockets.len() >= MAX_SOCKETS && !self.sockets.contains_key(&name) {
            let victim = rng.gen_range(0..self.sockets.len());
            if let Some(k) = self.sockets.keys().nth(victim).cloned() {
                self.sockets.remove(&k);
            }
        }
        let socket = MigrateSocket {
            stream,
            last_dbid: -1,
            last_use: now_secs,
            pending: Vec::new(),
        };
        match self.sockets.entry(name) {
            Entry::Occupied(mut o) => {
                o.insert(socket);
                o.into_mut()
            }
            Entry::Vacant(v) => v.insert(socket),
        }
    }

    /// Closes the connection to `name`, if open.
    pub fn remove(&mut self, name: &[u8]) {
        self.sockets.remove(name);
    }

    /// Closes the connections unused for more than [`IDLE_SECS`] (the
    /// cron's `migrateCloseTimedoutSockets`).
    pub fn close_idle(&mut self, now_secs: i64) {
        if self.sockets.is_empty() {
            return;
        }
        self.sockets
            .retain(|_, s| now_secs - s.last_use <= IDLE_SECS);
    }
}
