//! Sentinel mode: which instance is the primary now, learnt from the
//! sentinels and followed through failovers.
//!
//! - One subscriber task per sentinel listens to `+switch-master` and
//!   switches the moment the event arrives.
//! - A poller asks the sentinels (`SENTINEL GET-MASTER-ADDR-BY-NAME`, and
//!   `SENTINEL REPLICAS` when reads go to replicas) at start, every
//!   `sentinel-poll-ms` as a safety net, and at once when a request finds
//!   no usable primary.
//!
//! A switch only changes where new connections go; each new primary
//! connection still proves itself with `ROLE` (see [`crate::backend`]),
//! so a stale answer from a sentinel never gets a write.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis_client::{Client, Frame};
use tokio::sync::Notify;

use crate::config::join_addr;
use crate::router::Shared;

/// The current view of the monitored master.
#[derive(Debug, Default)]
pub struct SentinelState {
    primary: RwLock<Option<String>>,
    replicas: RwLock<Vec<String>>,
    next_replica: AtomicUsize,
    wake: Notify,
}

impl SentinelState {
    /// The primary's address, when known.
    pub fn primary(&self) -> Option<String> {
        self.primary.read().ok().and_then(|g| g.clone())
    }

    /// One of the healthy replicas (round robin), when any is known.
    pub fn replica(&self) -> Option<String> {
        let g = self.replicas.read().ok()?;
        if g.is_empty() {
            return None;
        }
        let i = self.next_replica.fetch_add(1, Ordering::Relaxed) % g.len();
        g.get(i).cloned()
    }

    /// Asks the poller to query the sentinels now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Records `addr` as the primary; true when it changed.
fn set_primary(shared: &Shared, addr: String, why: &str) -> bool {
    let Some(s) = &shared.sentinel else {
        return false;
    };
    let old = match s.primary.write() {
        Ok(mut g) => {
            if g.as_deref() == Some(addr.as_str()) {
                return false;
            }
            g.replace(addr.clone())
        }
        Err(_) => return false,
    };
    if let Some(old) = &old {
        shared.pool.forget(old);
        shared
            .counters
            .failovers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        redis_common::logger::notice(&format!(
            "Primary of '{}' switched from {old} to {addr} ({why})",
            shared.cfg.master_name
        ));
    } else {
        redis_common::logger::notice(&format!(
            "Primary of '{}' is {addr} ({why})",
            shared.cfg.master_name
        ));
    }
    true
}

/// Starts the subscriber and poller tasks; they run until aborted.
pub fn start(shared: &Arc<Shared>, tasks: &mut tokio::task::JoinSet<()>) {
    for addr in shared.cfg.sentinels.clone() {
        tasks.spawn(subscriber(shared.clone(), addr));
    }
    tasks.spawn(poller(shared.clone()));
}

async fn connect(shared: &Shared, addr: &str) -> Result<Client, String> {
    let timeout = Duration::from_millis(shared.cfg.connect_timeout_ms.max(1));
    let mut c = Client::connect_timeout(addr, timeout)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(pass) = &shared.cfg.sentinel_pass {
        let reply = match &shared.cfg.sentinel_user {
            Some(u) => c.cmd(&["AUTH", u.as_str(), pass.as_str()]).await,
            None => c.cmd(&["AUTH", pass.as_str()]).await,
        }
        .map_err(|e| e.to_string())?;
        if let Frame::Error(e) = reply {
            return Err(String::from_utf8_lossy(&e).into_owned());
        }
    }
    Ok(c)
}

/// Follows `+switch-master` on one sentinel, reconnecting forever.
async fn subscriber(shared: Arc<Shared>, addr: String) {
    loop {
        if let Err(e) = subscribe_once(&shared, &addr).await {
            redis_common::logger::verbose(&format!("Sentinel {addr}: {e}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn subscribe_once(shared: &Shared, addr: &str) -> Result<(), String> {
    let mut c = connect(shared, addr).await?;
    c.send(&["SUBSCRIBE", "+switch-master"])
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let f = c.read_frame().await.map_err(|e| e.to_string())?;
        let items = match f {
            Frame::Array(items) | Frame::Push(items) => items,
            _ => continue,
        };
        let [Frame::Bulk(kind), _, Frame::Bulk(payload)] = items.as_slice() else {
            continue;
        };
        if kind.as_ref() != b"message" {
            continue;
        }
        let text = String::from_utf8_lossy(payload);
        if let Some(new) = parse_switch(&text, &shared.cfg.master_name) {
            set_primary(shared, new, "+switch-master");
            if let Some(s) = &shared.sentinel {
                s.wake();
            }
        }
    }
}

/// The new primary's address in a `+switch-master` payload
/// (`<name> <old-ip> <old-port> <new-ip> <new-port>`) about `master`.
pub fn parse_switch(payload: &str, master: &str) -> Option<String> {
    let parts: Vec<&str> = payload.split_whitespace().collect();
    let [name, _, _, ip, port] = parts.as_slice() else {
        return None;
    };
    if *name != master {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    Some(join_addr(ip, port))
}

/// Queries the sentinels at start, periodically and when woken.
async fn poller(shared: Arc<Shared>) {
    let Some(state) = &shared.sentinel else {
        return;
    };
    let period = Duration::from_millis(shared.cfg.sentinel_poll_ms.max(10));
    loop {
        query(&shared).await;
        tokio::select! {
            // Both cancel-safe: a timer, and a notification whose permit
            // stays stored when nobody waits.
            _ = tokio::time::sleep(period) => {}
            _ = state.wake.notified() => {
                // Coalesce bursts of wake-ups from many held requests.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn query(shared: &Shared) {
    let name = shared.cfg.master_name.as_str();
    for addr in &shared.cfg.sentinels {
        let Ok(mut c) = connect(shared, addr).await else {
            continue;
        };
        let Ok(reply) = c.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]).await else {
            continue;
        };
        let Frame::Array(items) = reply else {
            continue;
        };
        let (Some(Frame::Bulk(ip)), Some(Frame::Bulk(port))) = (items.first(), items.get(1)) else {
            continue;
        };
        let Ok(port) = String::from_utf8_lossy(port).parse::<u16>() else {
            continue;
        };
        set_primary(
            shared,
            join_addr(&String::from_utf8_lossy(ip), port),
            "sentinel query",
        );
        if shared.cfg.read_from == crate::config::ReadFrom::Replica {
            if let Ok(reply) = c.cmd(&["SENTINEL", "REPLICAS", name]).await {
                let healthy = healthy_replicas(&reply);
                if let Some(s) = &shared.sentinel {
                    if let Ok(mut g) = s.replicas.write() {
                        *g = healthy;
                    }
                }
            }
        }
        return;
    }
}

/// The addresses of the replicas in a `SENTINEL REPLICAS` reply that are
/// not down or disconnected.
pub fn healthy_replicas(reply: &Frame) -> Vec<String> {
    let Frame::Array(list) = reply else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in list {
        let fields: Vec<(String, String)> = match r {
            Frame::Array(kv) => kv
                .chunks(2)
                .filter_map(|p| match p {
                    [Frame::Bulk(k), Frame::Bulk(v)] => Some((
                        String::from_utf8_lossy(k).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )),
                    _ => None,
                })
                .collect(),
            _ => continue,
        };
        let get = |k: &str| fields.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        let flags = get("flags").unwrap_or("");
        if flags.contains("down") || flags.contains("disconnected") {
            continue;
        }
        if let (Some(ip), Some(Ok(port))) = (get("ip"), get("port").map(str::parse::<u16>)) {
            out.push(join_addr(ip, port));
        }
    }
    out
}

#[cfg(test)]
#[path = "sentinel_tests.rs"]
mod tests;
