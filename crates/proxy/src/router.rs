//! The state every connection shares ([`Shared`]): configuration, the
//! backend pool, the mode's view of the deployment (the current primary
//! in sentinel mode, the slot map in cluster mode) and the counters
//! `INFO` reports; and [`Shared::dispatch`], which turns a request's
//! [`Target`] into a backend connection.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::backend::{Pool, Require, Setup};
use crate::cluster::ClusterState;
use crate::config::{Config, Mode, ReadFrom};
use crate::sentinel::SentinelState;

/// Where one request must go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The primary (static backend, sentinel's master, any cluster node
    /// for keyless commands).
    Primary,
    /// A read-only command: a replica when `proxy-read-from replica`.
    Read,
    /// The owner of a hash slot (cluster mode).
    Slot(u16),
    /// A given node (after a redirection, or for fan-out).
    Node(String),
}

/// Counters for `INFO`'s `# Proxy` section.
#[derive(Debug, Default)]
pub struct Counters {
    pub failovers: AtomicU64,
    /// `SENTINEL FAILOVER`s the proxy asked for (and a sentinel accepted).
    pub failovers_requested: AtomicU64,
    pub map_refreshes: AtomicU64,
    pub held: AtomicU64,
    pub redirects: AtomicU64,
    pub clients: AtomicUsize,
    pub total_clients: AtomicU64,
    pub commands: AtomicU64,
}

/// What all connections share.
#[derive(Debug)]
pub struct Shared {
    pub cfg: Config,
    pub pool: Pool,
    pub sentinel: Option<SentinelState>,
    pub cluster: Option<ClusterState>,
    pub counters: Counters,
    pub started: Instant,
    pub port: u16,
    next_id: AtomicU64,
}

impl Shared {
    pub fn new(cfg: Config, port: u16) -> Shared {
        let setup = Setup {
            user: cfg.backend_user.clone(),
            pass: cfg.backend_pass.clone(),
            connect_timeout: Duration::from_millis(cfg.connect_timeout_ms.max(1)),
            request_timeout: (cfg.backend_timeout_ms > 0)
                .then(|| Duration::from_millis(cfg.backend_timeout_ms)),
        };
        let pool = Pool::new(setup, cfg.backend_connections);
        let sentinel = (cfg.mode == Mode::Sentinel).then(SentinelState::default);
        let cluster = (cfg.mode == Mode::Cluster).then(ClusterState::default);
        Shared {
            cfg,
            pool,
            sentinel,
            cluster,
            counters: Counters::default(),
            started: Instant::now(),
            port,
            next_id: AtomicU64::new(1),
        }
    }

    /// A new client id.
    pub fn client_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// How long requests are held while no backend can take them.
    pub fn hold(&self) -> Duration {
        Duration::from_millis(self.cfg.failover_hold_ms)
    }

    /// The address a target resolves to now, and what its connection must
    /// check.
    pub fn resolve(&self, target: &Target) -> Result<(String, Require), String> {
        match target {
            Target::Node(addr) => Ok((addr.clone(), Require::Any)),
            Target::Primary | Target::Read => match self.cfg.mode {
                Mode::Static => Ok((self.cfg.static_backend.clone(), Require::Any)),
                Mode::Sentinel => {
                    let Some(s) = &self.sentinel else {
                        return Err("no sentinel state".into());
                    };
                    if *target == Target::Read && self.cfg.read_from == ReadFrom::Replica {
                        if let Some(r) = s.replica() {
                            return Ok((r, Require::Any));
                        }
                    }
                    match s.primary() {
                        Some(p) => Ok((p, Require::Master)),
                        None => {
                            s.wake();
                            Err(format!(
                                "no primary known for '{}' yet",
                                self.cfg.master_name
                            ))
                        }
                    }
                }
                Mode::Cluster => self
                    .cluster
                    .as_ref()
                    .and_then(|c| c.any_node())
                    .map(|a| (a, Require::Any))
                    .ok_or_else(|| "no cluster node known".to_string()),
            },
            Target::Slot(slot) => {
                let Some(c) = &self.cluster else {
                    return Err("not in cluster mode".into());
                };
                match c.owner(*slot) {
                    Some(a) => Ok((a, Require::Any)),
                    None => {
                        c.wake();
                        Err(format!("slot {slot} is not served by any known node"))
                    }
                }
            }
        }
    }

    /// Changes whenever where targets resolve to may have changed (a new
    /// primary or replica list, a new slot map): connections cached by a
    /// client are looked up again then.
    pub fn epoch(&self) -> u64 {
        let s = self.sentinel.as_ref().map(|s| s.generation()).unwrap_or(0);
        let c = self.cluster.as_ref().map(|c| c.generation()).unwrap_or(0);
        s.wrapping_add(c)
    }

    /// Wakes whatever follows the deployment (after a failure).
    pub fn wake(&self) {
        if let Some(c) = &self.cluster {
            c.wake();
        }
        if let Some(s) = &self.sentinel {
            s.wake();
        }
    }
}
