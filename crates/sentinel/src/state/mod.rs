//! The sentinel failover state machine, pure and clock-driven.
//!
//! [`Sentinel`] holds every monitored master with its replicas and the
//! other sentinels. The driver calls [`Sentinel::tick`] about ten times a
//! second and feeds replies through the `on_*` methods; every call takes
//! the current time in milliseconds and returns the [`Action`]s to carry
//! out. Randomness (upstream's failover start desynchronisation) comes
//! from a seeded generator, so runs are reproducible.

mod action;
mod admin;
mod election;
mod failover;
pub(crate) mod instance;
mod monitor;
mod replies;
mod select;
#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
mod timings;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Addr, MasterConfig, SentinelConfig};
use crate::info::Role;

pub use action::{Action, Event, EventLevel, InstanceId, InstanceKind};
pub(crate) use admin::drop_master_links;
pub use election::votes_needed;
pub use instance::FailoverState;
use instance::{Common, Master, Peer, Replica};
pub use replies::{FailoverError, IsMasterDownReply};
pub use timings::{Timings, MIN_LINK_RECONNECT_PERIOD, SCRIPT_MAX_RUNTIME, SCRIPT_RETRY_DELAY};

// Upstream's defaults of the timing parameters. The state machine reads
// the live values from [`Timings`] (changed by `SENTINEL DEBUG`).

/// PING period, and the base of several timeouts.
pub const PING_PERIOD: u64 = 1000;
/// INFO period in normal conditions.
pub const INFO_PERIOD: u64 = 10_000;
/// Hello publish period.
pub const PUBLISH_PERIOD: u64 = 2000;
/// Period of `is-master-down-by-addr` questions while a master is SDOWN.
pub const ASK_PERIOD: u64 = 1000;
/// A gap between ticks larger than this enters TILT.
pub const TILT_TRIGGER: u64 = 2000;
/// How long TILT lasts.
pub const TILT_PERIOD: u64 = PING_PERIOD * 30;
/// Longest wait to be elected before a failover attempt is abandoned.
pub const ELECTION_TIMEOUT: u64 = 10_000;
/// A replica told to replicate the new master is considered done after this.
pub const SLAVE_RECONF_TIMEOUT: u64 = 10_000;
/// Upper bound of the random delay added to failover start times (not
/// configurable, as upstream).
pub const MAX_DESYNC: u64 = 1000;

/// `SENTINEL SIMULATE-FAILURE CRASH-AFTER-ELECTION` flag.
pub const SIMFAILURE_CRASH_AFTER_ELECTION: u64 = 1;
/// `SENTINEL SIMULATE-FAILURE CRASH-AFTER-PROMOTION` flag.
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u64 = 2;
/// The reason logged when a simulated failure triggers.
pub const SIMFAILURE_CRASH_REASON: &str = "Sentinel CRASH because of SENTINEL simulate-failure";

/// `now - t`, or 0 when the clock went backwards.
pub(crate) fn since(now: u64, t: u64) -> u64 {
    now.saturating_sub(t)
}

/// Global state shared by all masters, and the output buffer.
pub(crate) struct Ctx {
    pub myid: String,
    pub current_epoch: u64,
    pub port: u16,
    pub announce_ip: Option<String>,
    pub announce_port: u16,
    pub timings: Timings,
    pub simfailure_flags: u64,
    pub tilt: bool,
    pub tilt_start: u64,
    pub total_tilt: u64,
    pub previous_time: u64,
    next_id: u64,
    pub rng: StdRng,
    out: Vec<Action>,
    dirty: bool,
}

impl Ctx {
    pub fn new_id(&mut self) -> InstanceId {
        self.next_id += 1;
        InstanceId(self.next_id)
    }

    pub fn emit(&mut self, a: Action) {
        self.out.push(a);
    }

    /// Reports an event; warnings also run the master's notification
    /// script with the event name and message.
    pub fn event(&mut self, level: EventLevel, name: &str, text: String, script: Option<&str>) {
        if level == EventLevel::Warning {
            if let Some(path) = script {
                self.out.push(Action::RunScript {
                    path: path.to_string(),
                    args: vec![name.to_string(), text.clone()],
                });
            }
        }
        self.out.push(Action::Event(Event {
            level,
            name: name.to_string(),
            text,
        }));
    }

    /// Marks the persistent state as changed.
    pub fn flush_config(&mut self) {
        self.dirty = true;
    }

    pub fn desync(&mut self) -> u64 {
        self.rng.gen_range(0..MAX_DESYNC)
    }

    /// A simulated failure triggers: the pending configuration save goes
    /// first (upstream saves synchronously before crashing), then the
    /// crash.
    pub fn crash(&mut self) {
        if std::mem::take(&mut self.dirty) {
            self.out.push(Action::SaveConfig);
        }
        self.out.push(Action::Crash {
            reason: SIMFAILURE_CRASH_REASON.to_string(),
        });
    }

    pub(crate) fn take(&mut self) -> Vec<Action> {
        let mut out = std::mem::take(&mut self.out);
        if std::mem::take(&mut self.dirty) {
            out.push(Action::SaveConfig);
        }
        out
    }
}

/// Where an instance lives: its master's index and its slot.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    Master,
    Replica(usize),
    Sentinel(usize),
}

/// A read-only view of one instance, for `SENTINEL` replies and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceView {
    /// Its handle.
    pub id: InstanceId,
    /// Its kind.
    pub kind: InstanceKind,
    /// Its name (`ip:port` for replicas, run id for sentinels).
    pub name: String,
    /// Its address.
    pub addr: Addr,
    /// The master it belongs to.
    pub master: String,
    /// Its run id, once known.
    pub run_id: Option<String>,
    /// Subjectively down.
    pub s_down: bool,
    /// Objectively down (masters only).
    pub o_down: bool,
    /// Command link up.
    pub connected: bool,
}

/// The whole sentinel state.
pub struct Sentinel {
    ctx: Ctx,
    masters: Vec<Master>,
}

impl std::fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sentinel")
            .field("myid", &self.ctx.myid)
            .field("current_epoch", &self.ctx.current_epoch)
            .field("masters", &self.masters.len())
            .finish()
    }
}

impl Sentinel {
    /// Builds the state from a loaded configuration. `seed` drives the
    /// random failover delays. A missing `myid` is generated (and a
    /// [`Action::SaveConfig`] comes with the first tick).
    pub fn new(cfg: &SentinelConfig, now: u64, seed: u64) -> Sentinel {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut cfg = cfg.clone();
        let generated = cfg.ensure_myid(&mut rng);
        let mut ctx = Ctx {
            myid: cfg.myid.clone().unwrap_or_default(),
            current_epoch: cfg.current_epoch,
            port: cfg.port,
            announce_ip: cfg.announce_ip.clone(),
            announce_port: cfg.announce_port,
            timings: Timings::default(),
            simfailure_flags: 0,
            tilt: false,
            tilt_start: 0,
            total_tilt: 0,
            previous_time: now,
            next_id: 0,
            rng,
            out: Vec::new(),
            dirty: generated,
        };
        let masters = cfg
            .masters
            .iter()
            .map(|m| new_master(&mut ctx, m, now))
            .collect();
        Sentinel { ctx, masters }
    }

    /// This sentinel's id.
    pub fn myid(&self) -> &str {
        &self.ctx.myid
    }

    /// The current epoch.
    pub fn current_epoch(&self) -> u64 {
        self.ctx.current_epoch
    }

    /// The live timing parameters (`SENTINEL DEBUG`); the driver reads
    /// `min_link_reconnect_period`, `script_max_runtime` and
    /// `script_retry_delay` from here.
    pub fn timings(&self) -> &Timings {
        &self.ctx.timings
    }

    /// Changes the timing parameters.
    pub fn timings_mut(&mut self) -> &mut Timings {
        &mut self.ctx.timings
    }

    /// The `SENTINEL SIMULATE-FAILURE` flags
    /// (`sentinel_simulate_failure_flags` in `INFO`).
    pub fn simulate_failure_flags(&self) -> u64 {
        self.ctx.simfailure_flags
    }

    /// Sets the `SENTINEL SIMULATE-FAILURE` flags
    /// ([`SIMFAILURE_CRASH_AFTER_ELECTION`],
    /// [`SIMFAILURE_CRASH_AFTER_PROMOTION`]).
    pub fn set_simulate_failure_flags(&mut self, flags: u64) {
        self.ctx.simfailure_flags = flags;
    }

    /// The address announced in hello messages: `ip` (`None`: the local
    /// address of each link) and `port` (0: the listening port).
    pub fn set_announce(&mut self, ip: Option<String>, port: u16) {
        self.ctx.announce_ip = ip;
        self.ctx.announce_port = port;
    }

    /// Whether TILT mode is on.
    pub fn is_tilt(&self) -> bool {
        self.ctx.tilt
    }

    /// How many times TILT was entered (`sentinel_total_tilt`).
    pub fn total_tilt(&self) -> u64 {
        self.ctx.total_tilt
    }

    /// When the current TILT started (`None` when not in TILT).
    pub fn tilt_since(&self) -> Option<u64> {
        self.ctx.tilt.then_some(self.ctx.tilt_start)
    }

    /// The live masters, in configuration order, for the reply builders
    /// of [`crate::reply`].
    pub(crate) fn masters_state(&self) -> &[Master] {
        &self.masters
    }

    /// The names of the monitored masters, sorted (`ROLE`).
    pub fn master_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.masters.iter().map(|m| m.c.name.clone()).collect();
        v.sort();
        v
    }

    /// The handle of the master called `name`.
    pub fn master_id(&self, name: &str) -> Option<InstanceId> {
        self.master(name).map(|m| m.c.id)
    }

    /// The address clients should use for master `name`
    /// (`SENTINEL GET-MASTER-ADDR-BY-NAME`).
    pub fn master_addr(&self, name: &str) -> Option<Addr> {
        self.master(name).map(|m| m.current_addr().clone())
    }

    /// The live settings of master `name` (quorum, timings, scripts,
    /// auth, renamed commands), as `SENTINEL SET` leaves them. Its
    /// address, epochs and known instances are not kept up to date here:
    /// use [`Sentinel::master_addr`] and the views.
    pub fn master_config(&self, name: &str) -> Option<&MasterConfig> {
        self.master(name).map(|m| &m.conf)
    }

    /// The failover state of master `name`.
    pub fn failover_state(&self, name: &str) -> Option<FailoverState> {
        self.master(name).map(|m| m.failover_state)
    }

    /// The replicas of master `name`.
    pub fn replicas(&self, name: &str) -> Vec<InstanceView> {
        self.master(name)
            .map(|m| {
                m.replicas
                    .iter()
                    .map(|r| view(m, &r.c, InstanceKind::Replica))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The other sentinels of master `name`.
    pub fn sentinels(&self, name: &str) -> Vec<InstanceView> {
        self.master(name)
            .map(|m| {
                m.sentinels
                    .iter()
                    .map(|p| view(m, &p.c, InstanceKind::Sentinel))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A view of any instance.
    pub fn instance(&self, id: InstanceId) -> Option<InstanceView> {
        let (mi, slot) = self.locate(id)?;
        let m = &self.masters[mi];
        Some(match slot {
            Slot::Master => view(m, &m.c, InstanceKind::Master),
            Slot::Replica(j) => view(m, &m.replicas[j].c, InstanceKind::Replica),
            Slot::Sentinel(j) => view(m, &m.sentinels[j].c, InstanceKind::Sentinel),
        })
    }

    /// The configuration to save: `base` with the live addresses, epochs
    /// and known instances.
    pub fn to_config(&self, base: &SentinelConfig) -> SentinelConfig {
        let mut cfg = base.clone();
        cfg.myid = Some(self.ctx.myid.clone());
        cfg.current_epoch = self.ctx.current_epoch;
        cfg.masters = self.masters.iter().map(master_config).collect();
        cfg
    }

    /// Periodic work: TILT detection, timers, down detection and the
    /// failover state machines.
    pub fn tick(&mut self, now: u64) -> Vec<Action> {
        self.check_tilt(now);
        for m in &mut self.masters {
            monitor::handle_master(&mut self.ctx, m, now);
        }
        self.ctx.take()
    }

    fn check_tilt(&mut self, now: u64) {
        let went_back = now < self.ctx.previous_time;
        if went_back || since(now, self.ctx.previous_time) > self.ctx.timings.tilt_trigger {
            self.ctx.tilt = true;
            self.ctx.tilt_start = now;
            self.ctx.total_tilt += 1;
            let text = "#tilt mode entered".to_string();
            self.ctx.event(EventLevel::Warning, "+tilt", text, None);
        }
        self.ctx.previous_time = now;
        if self.ctx.tilt && since(now, self.ctx.tilt_start) >= self.ctx.timings.tilt_period {
            self.ctx.tilt = false;
            let text = "#tilt mode exited".to_string();
            self.ctx.event(EventLevel::Warning, "-tilt", text, None);
        }
    }

    fn master(&self, name: &str) -> Option<&Master> {
        self.masters.iter().find(|m| m.c.name == name)
    }

    pub(crate) fn locate(&self, id: InstanceId) -> Option<(usize, Slot)> {
        self.masters.iter().enumerate().find_map(|(i, m)| {
            if m.c.id == id {
                return Some((i, Slot::Master));
            }
            if let Some(j) = m.replicas.iter().position(|r| r.c.id == id) {
                return Some((i, Slot::Replica(j)));
            }
            m.sentinels
                .iter()
                .position(|p| p.c.id == id)
                .map(|j| (i, Slot::Sentinel(j)))
        })
    }

    pub(crate) fn common_mut(&mut self, id: InstanceId) -> Option<&mut Common> {
        let (mi, slot) = self.locate(id)?;
        let m = &mut self.masters[mi];
        Some(match slot {
            Slot::Master => &mut m.c,
            Slot::Replica(j) => &mut m.replicas[j].c,
            Slot::Sentinel(j) => &mut m.sentinels[j].c,
        })
    }
}

fn view(m: &Master, c: &Common, kind: InstanceKind) -> InstanceView {
    InstanceView {
        id: c.id,
        kind,
        name: c.name.clone(),
        addr: c.addr.clone(),
        master: m.c.name.clone(),
        run_id: c.run_id.clone(),
        s_down: c.s_down,
        o_down: kind == InstanceKind::Master && m.o_down,
        connected: c.link.connected,
    }
}

pub(crate) fn new_master(ctx: &mut Ctx, conf: &MasterConfig, now: u64) -> Master {
    let id = ctx.new_id();
    let mut m = Master {
        c: Common::new(id, conf.name.clone(), conf.addr.clone(), Role::Master, now),
        conf: conf.clone(),
        o_down: false,
        o_down_since: None,
        config_epoch: conf.config_epoch,
        leader: None,
        leader_epoch: conf.leader_epoch,
        failover_state: FailoverState::None,
        failover_epoch: 0,
        failover_state_change_time: 0,
        failover_start_time: None,
        force_failover: false,
        promoted: None,
        reboot_since: None,
        replicas: Vec::new(),
        sentinels: Vec::new(),
    };
    for addr in &conf.known_replicas {
        let id = ctx.new_id();
        m.replicas.push(Replica::new(id, addr.clone(), now));
    }
    for s in &conf.known_sentinels {
        let id = ctx.new_id();
        m.sentinels
            .push(Peer::new(id, &s.run_id, s.addr.clone(), now));
    }
    m
}

/// The saved form of a live master. A replica sitting at the address
/// clients now use (promoted, switch pending) is saved as the old master
/// address, as upstream does.
fn master_config(m: &Master) -> MasterConfig {
    let mut conf = m.conf.clone();
    let current = m.current_addr().clone();
    conf.addr = current.clone();
    conf.config_epoch = m.config_epoch;
    conf.leader_epoch = m.leader_epoch;
    conf.known_replicas.clear();
    conf.known_sentinels.clear();
    for r in &m.replicas {
        let addr = if r.c.addr == current {
            m.c.addr.clone()
        } else {
            r.c.addr.clone()
        };
        conf.add_known_replica(addr);
    }
    for p in &m.sentinels {
        if let Some(run_id) = &p.c.run_id {
            conf.add_known_sentinel(crate::config::KnownSentinel {
                addr: p.c.addr.clone(),
                run_id: run_id.clone(),
            });
        }
    }
    conf
}
