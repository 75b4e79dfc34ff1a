//! Cluster mode: the slot map (which node serves each of the 16384 hash
//! slots), learnt with `CLUSTER SLOTS` from the seed nodes and any node
//! already known, refreshed periodically and at once after a `-MOVED`
//! (which also fixes the one slot immediately).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redis_client::{Client, Frame};
use tokio::sync::Notify;

use crate::config::join_addr;
use crate::router::Shared;

const SLOTS: usize = 16384;
const NONE: u16 = u16::MAX;

/// Slot owners: indexes into `nodes`.
#[derive(Debug, Clone)]
pub struct SlotMap {
    owner: Vec<u16>,
    nodes: Vec<String>,
}

impl Default for SlotMap {
    fn default() -> SlotMap {
        SlotMap {
            owner: vec![NONE; SLOTS],
            nodes: Vec::new(),
        }
    }
}

impl SlotMap {
    fn node_index(&mut self, addr: &str) -> u16 {
        match self.nodes.iter().position(|n| n == addr) {
            Some(i) => i as u16,
            None => {
                self.nodes.push(addr.to_string());
                (self.nodes.len() - 1) as u16
            }
        }
    }

    /// The node serving `slot`.
    pub fn owner(&self, slot: u16) -> Option<&str> {
        let i = *self.owner.get(usize::from(slot))?;
        self.nodes.get(usize::from(i)).map(String::as_str)
    }

    /// Nodes serving at least one slot, in order of their first slot.
    pub fn primaries(&self) -> Vec<String> {
        let mut seen: Vec<u16> = Vec::new();
        for &o in &self.owner {
            if o != NONE && !seen.contains(&o) {
                seen.push(o);
            }
        }
        seen.iter()
            .filter_map(|&i| self.nodes.get(usize::from(i)).cloned())
            .collect()
    }

    /// Builds a map from a `CLUSTER SLOTS` reply; `from_host` stands in
    /// for an empty node address (the node we asked).
    pub fn from_slots_reply(reply: &Frame, from_host: &str) -> Option<SlotMap> {
        let Frame::Array(ranges) = reply else {
            return None;
        };
        let mut map = SlotMap::default();
        for r in ranges {
            let Frame::Array(items) = r else {
                return None;
            };
            let (Some(Frame::Integer(a)), Some(Frame::Integer(b)), Some(Frame::Array(node))) =
                (items.first(), items.get(1), items.get(2))
            else {
                return None;
            };
            let host = match node.first() {
                Some(Frame::Bulk(h)) if !h.is_empty() && h.as_ref() != b"?" => {
                    String::from_utf8_lossy(h).into_owned()
                }
                _ => from_host.to_string(),
            };
            let Some(Frame::Integer(port)) = node.get(1) else {
                return None;
            };
            let port = u16::try_from(*port).ok()?;
            let idx = map.node_index(&join_addr(&host, port));
            let a = usize::try_from(*a).ok()?;
            let b = usize::try_from(*b).ok()?;
            for s in map.owner.get_mut(a..=b.min(SLOTS - 1))? {
                *s = idx;
            }
        }
        Some(map)
    }
}

/// The shared cluster view.
#[derive(Debug, Default)]
pub struct ClusterState {
    map: RwLock<SlotMap>,
    wake: Notify,
    /// Bumped whenever slots may have changed owner.
    gen: std::sync::atomic::AtomicU64,
}

impl ClusterState {
    pub fn owner(&self, slot: u16) -> Option<String> {
        self.map.read().ok()?.owner(slot).map(str::to_string)
    }

    /// Some node to run a keyless command on.
    pub fn any_node(&self) -> Option<String> {
        let g = self.map.read().ok()?;
        g.primaries().into_iter().next()
    }

    /// Every primary (fan-out), in slot order.
    pub fn primaries(&self) -> Vec<String> {
        self.map.read().map(|g| g.primaries()).unwrap_or_default()
    }

    /// A `-MOVED slot addr` was seen: fix that slot now and refresh.
    pub fn moved(&self, slot: u16, addr: &str) {
        if let Ok(mut g) = self.map.write() {
            let i = g.node_index(addr);
            if let Some(o) = g.owner.get_mut(usize::from(slot)) {
                *o = i;
            }
        }
        self.gen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.wake();
    }

    /// Changes whenever the map changed.
    pub fn generation(&self) -> u64 {
        self.gen.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Asks the refresher for a new map now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Replaces the map.
    pub fn set(&self, map: SlotMap) {
        if let Ok(mut g) = self.map.write() {
            if g.owner != map.owner || g.nodes != map.nodes {
                *g = map;
                self.gen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

/// Parses `-MOVED 3999 127.0.0.1:6381` / `-ASK …` error texts.
pub fn parse_redirect(text: &[u8]) -> Option<(bool, u16, String)> {
    let s = std::str::from_utf8(text).ok()?;
    let mut it = s.split(' ');
    let ask = match it.next()? {
        "MOVED" => false,
        "ASK" => true,
        _ => return None,
    };
    let slot: u16 = it.next()?.parse().ok()?;
    let addr = it.next()?.to_string();
    Some((ask, slot, addr))
}

/// Fetches the map once at start (so the first requests find it), then
/// keeps it fresh; runs until aborted.
pub fn start(shared: &Arc<Shared>, tasks: &mut tokio::task::JoinSet<()>) {
    tasks.spawn(refresher(shared.clone()));
}

/// Least time between two refreshes.
const MIN_REFRESH_GAP: Duration = Duration::from_millis(100);
/// Refresh period without redirections.
const PERIOD: Duration = Duration::from_secs(10);

async fn refresher(shared: Arc<Shared>) {
    let Some(state) = &shared.cluster else {
        return;
    };
    loop {
        let began = Instant::now();
        if refresh(&shared).await.is_err() {
            tokio::time::sleep(MIN_REFRESH_GAP).await;
            continue;
        }
        tokio::select! {
            // Both cancel-safe (a timer; a notification keeps its permit).
            _ = tokio::time::sleep(PERIOD) => {}
            _ = state.wake.notified() => {}
        }
        let since = began.elapsed();
        if since < MIN_REFRESH_GAP {
            tokio::time::sleep(MIN_REFRESH_GAP - since).await;
        }
    }
}

/// Asks the known nodes, then the seeds, for `CLUSTER SLOTS`.
pub async fn refresh(shared: &Shared) -> Result<(), String> {
    let Some(state) = &shared.cluster else {
        return Err("not in cluster mode".into());
    };
    let mut candidates = state.primaries();
    for s in &shared.cfg.cluster_nodes {
        if !candidates.contains(s) {
            candidates.push(s.clone());
        }
    }
    let timeout = Duration::from_millis(shared.cfg.connect_timeout_ms.max(1));
    for addr in candidates {
        let Ok(mut c) = Client::connect_timeout(&addr, timeout).await else {
            continue;
        };
        if let Some(pass) = &shared.cfg.backend_pass {
            let user = shared.cfg.backend_user.as_deref().unwrap_or("default");
            match c.cmd(&["AUTH", user, pass.as_str()]).await {
                Ok(Frame::Error(_)) | Err(_) => continue,
                Ok(_) => {}
            }
        }
        let Ok(Ok(reply)) = tokio::time::timeout(timeout, c.cmd(&["CLUSTER", "SLOTS"])).await
        else {
            continue;
        };
        let host = crate::config::split_addr(&addr)
            .map(|(h, _)| h)
            .unwrap_or_default();
        if let Some(map) = SlotMap::from_slots_reply(&reply, &host) {
            state.set(map);
            shared
                .counters
                .map_refreshes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
    }
    Err("no node answered CLUSTER SLOTS".into())
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
