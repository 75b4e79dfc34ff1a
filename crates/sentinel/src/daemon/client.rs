//! The sentinel's clients: admission ([`SentinelService`]) and one
//! client's session ([`ClientSession`]) for `redis-net`'s connection loop.
//! Commands themselves are in [`super::commands`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use redis_common::time::now_ms;
use redis_net::{
    Blocked, CloseReason, ConnSettings, ConnSignal, Flow, IoDelta, Peer, Service, Session,
    PROTECTED_MODE_ERROR,
};

use super::commands;
use super::core::{ClientEntry, Core};

/// `maxclients` of a sentinel (upstream's default; not configurable in
/// sentinel.conf).
pub const MAX_CLIENTS: usize = 10_000;

/// Admits clients.
pub struct SentinelService {
    /// The daemon's state.
    pub core: Arc<Mutex<Core>>,
}

/// Locks the core, surviving a poisoned lock (a panic elsewhere must not
/// take every client down).
pub fn lock(core: &Mutex<Core>) -> MutexGuard<'_, Core> {
    core.lock().unwrap_or_else(|p| p.into_inner())
}

impl Service for SentinelService {
    type Session = ClientSession;

    fn open(&self, peer: &Peer, signal: Arc<ConnSignal>) -> Result<ClientSession, Bytes> {
        let mut core = lock(&self.core);
        if core.exit.is_some() {
            return Err(Bytes::new());
        }
        core.stats.connections += 1;
        if core.clients.len() >= MAX_CLIENTS {
            core.stats.rejected += 1;
            return Err(Bytes::from_static(
                b"-ERR max number of clients reached\r\n",
            ));
        }
        let cfg = &core.cfg;
        if cfg.protected_mode && cfg.bind.is_empty() && cfg.requirepass.is_none() && !peer.is_local
        {
            core.stats.rejected += 1;
            return Err(Bytes::from_static(PROTECTED_MODE_ERROR.as_bytes()));
        }
        let id = core.new_client_id();
        let resp3 = Arc::new(AtomicBool::new(false));
        let now = now_ms();
        core.clients.insert(
            id,
            ClientEntry {
                signal,
                addr: peer.addr.clone(),
                laddr: peer.laddr.clone(),
                fd: peer.fd,
                name: String::new(),
                created_ms: now,
                last_cmd_ms: now,
                last_cmd: "NULL".to_string(),
                resp3: resp3.clone(),
                channels: Vec::new(),
                patterns: Vec::new(),
            },
        );
        let authenticated = core.cfg.requirepass.is_none();
        Ok(ClientSession {
            core: self.core.clone(),
            id,
            resp3,
            authenticated,
            close: false,
        })
    }

    fn tcp_keepalive(&self) -> Option<Duration> {
        Some(Duration::from_secs(300))
    }
}

/// One client.
pub struct ClientSession {
    core: Arc<Mutex<Core>>,
    /// Client id (`CLIENT ID`).
    pub id: u64,
    /// Speaks RESP3.
    pub resp3: Arc<AtomicBool>,
    /// Passed `AUTH` (or no password is required).
    pub authenticated: bool,
    /// Close after the replies are written (`QUIT`).
    pub close: bool,
}

impl Session for ClientSession {
    fn settings(&self) -> ConnSettings {
        ConnSettings {
            auth_required: !self.authenticated,
            ..ConnSettings::default()
        }
    }

    fn execute(
        &mut self,
        pending: &mut VecDeque<Vec<Bytes>>,
        out: &mut BytesMut,
        io: IoDelta,
    ) -> Flow {
        let core = self.core.clone();
        let mut core = lock(&core);
        core.stats.net_input += io.read_bytes;
        core.stats.net_output += io.written_bytes;
        core.stats.reads += io.reads;
        core.stats.writes += io.writes;
        while let Some(args) = pending.pop_front() {
            let before = out.len();
            commands::run(&mut core, self, &args, out);
            if out.get(before) == Some(&b'-') {
                core.stats.error_replies += 1;
            }
            if core.exit.is_some() {
                return Flow::Stop;
            }
            if self.close {
                break;
            }
        }
        Flow::Continue
    }

    fn blocked(&self) -> Option<Blocked> {
        None
    }

    fn close_after_reply(&self) -> bool {
        self.close
    }

    fn on_push(&mut self) {}

    fn on_block_timeout(&mut self, _out: &mut BytesMut) {}

    fn closed(self, _reason: CloseReason) {
        lock(&self.core).clients.remove(&self.id);
    }
}

impl ClientSession {
    /// The protocol of this client.
    pub fn is_resp3(&self) -> bool {
        self.resp3.load(Ordering::Relaxed)
    }
}
