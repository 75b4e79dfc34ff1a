//! Sentinel mode: which instance is the primary now, learnt from the
//! sentinels and followed through failovers.
//!
//! - One subscriber task per sentinel listens to `+switch-master` and
//!   switches the moment the event arrives.
//! - A poller asks every sentinel (`SENTINEL MASTER`, and the chosen one
//!   `SENTINEL REPLICAS` when reads go to replicas) at start, every
//!   `sentinel-poll-ms` as a safety net, and at once when a request finds
//!   no usable primary. It follows the answer with the highest
//!   `config-epoch`, never one older than a switch already followed.
//!
//! With `failover-on-refused-ms`, [`crate::trigger`] may also ask the
//! sentinels to fail over early, and wakes the poller to see the result.
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
    /// Bumped whenever the primary or the replica list changed.
    gen: std::sync::atomic::AtomicU64,
    /// The lowest `config-epoch` a sentinel's answer must carry to be
    /// believed: the highest seen so far, one more after a
    /// `+switch-master` (a failover raises the epoch), so a sentinel that
    /// missed the failover cannot switch the proxy back.
    min_epoch: std::sync::atomic::AtomicU64,
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

    /// Changes whenever the primary or the replicas changed.
    pub fn generation(&self) -> u64 {
        self.gen.load(Ordering::Relaxed)
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
    s.gen.fetch_add(1, Ordering::Relaxed);
    // A new primary: refusal streaks (see `crate::trigger`) start again.
    shared.pool.reset_refusals(&addr);
    if let Some(old) = &old {
        shared.pool.reset_refusals(old);
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
    crate::trigger::start(shared, tasks);
}

/// A connection to the sentinel at `addr`, authenticated with
/// `sentinel-user`/`sentinel-pass` when configured.
pub(crate) async fn connect(shared: &Shared, addr: &str) -> Result<Client, String> {
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
            if set_primary(shared, new, "+switch-master") {
                if let Some(s) = &shared.sentinel {
                    s.min_epoch.fetch_add(1, Ordering::Relaxed);
                }
            }
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

/// Asks every reachable sentinel (`SENTINEL MASTER`) and follows the
/// answer with the highest `config-epoch`, if it is not older than what
/// the proxy already knows: a sentinel that missed a failover (it was
/// down, or partitioned away) still names the old primary with the old
/// epoch.
async fn query(shared: &Shared) {
    let Some(state) = &shared.sentinel else {
        return;
    };
    let name = shared.cfg.master_name.as_str();
    // (rank, epoch, primary, the sentinel's connection)
    let mut best: Option<(u64, u64, String, Client)> = None;
    for addr in &shared.cfg.sentinels {
        let Ok(mut c) = connect(shared, addr).await else {
            continue;
        };
        let Ok(reply) = c.cmd(&["SENTINEL", "MASTER", name]).await else {
            continue;
        };
        let Some((epoch, configured)) = master_of(&reply) else {
            continue;
        };
        // During a failover this already names the promoted replica,
        // before the epoch and `SENTINEL MASTER` change.
        let Ok(reply) = c.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]).await else {
            continue;
        };
        let Some(primary) = addr_of(&reply) else {
            continue;
        };
        let rank = epoch * 2 + u64::from(primary != configured);
        if best.as_ref().is_none_or(|(r, ..)| rank > *r) {
            best = Some((rank, epoch, primary, c));
        }
    }
    let Some((_, epoch, primary, mut c)) = best else {
        return;
    };
    if epoch < state.min_epoch.load(Ordering::Relaxed) {
        redis_common::logger::verbose(&format!(
            "Sentinels name {primary} with config-epoch {epoch}, older than a switch already followed: ignored"
        ));
        return;
    }
    state.min_epoch.fetch_max(epoch, Ordering::Relaxed);
    set_primary(shared, primary, "sentinel query");
    if shared.cfg.read_from == crate::config::ReadFrom::Replica {
        if let Ok(reply) = c.cmd(&["SENTINEL", "REPLICAS", name]).await {
            let healthy = healthy_replicas(&reply);
            if let Ok(mut g) = state.replicas.write() {
                if *g != healthy {
                    *g = healthy;
                    state.gen.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The field/value pairs of one sentinel reply entry (RESP2 flat array or
/// RESP3 map), as text.
pub(crate) fn fields(f: &Frame) -> Vec<(String, String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match f {
        Frame::Array(kv) => kv
            .chunks(2)
            .filter_map(|p| match p {
                [Frame::Bulk(k), Frame::Bulk(v)] => Some((text(k), text(v))),
                _ => None,
            })
            .collect(),
        Frame::Map(kv) => kv
            .iter()
            .filter_map(|p| match p {
                (Frame::Bulk(k), Frame::Bulk(v)) => Some((text(k), text(v))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The address in a `SENTINEL GET-MASTER-ADDR-BY-NAME` reply.
pub fn addr_of(reply: &Frame) -> Option<String> {
    let Frame::Array(items) = reply else {
        return None;
    };
    let (Some(Frame::Bulk(ip)), Some(Frame::Bulk(port))) = (items.first(), items.get(1)) else {
        return None;
    };
    let port = String::from_utf8_lossy(port).parse::<u16>().ok()?;
    Some(join_addr(&String::from_utf8_lossy(ip), port))
}

/// `(config-epoch, primary address)` from a `SENTINEL MASTER` reply.
pub fn master_of(reply: &Frame) -> Option<(u64, String)> {
    let fields = fields(reply);
    let get = |k: &str| fields.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let port = get("port")?.parse::<u16>().ok()?;
    let epoch = get("config-epoch")
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    Some((epoch, join_addr(get("ip")?, port)))
}

/// The addresses of the replicas in a `SENTINEL REPLICAS` reply that are
/// not down or disconnected.
pub fn healthy_replicas(reply: &Frame) -> Vec<String> {
    let Frame::Array(list) = reply else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in list {
        let fields = fields(r);
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
