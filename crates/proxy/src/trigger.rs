//! `failover-on-refused-ms`: asking the sentinels to fail over early when
//! the primary is certainly gone (sentinel mode, opt-in).
//!
//! Sentinels must wait `down-after-milliseconds` before they call a
//! primary down, and that wait must be generous: a primary that does not
//! answer may only be slow or busy. A *refused* connection is different
//! evidence: the host answered with a TCP reset, nothing listens on the
//! port any more (the server was stopped, or crashed). The proxy sees
//! that first-hand on every connect to the primary (see
//! [`crate::backend::Stats::note_connect`]); with this option it turns a
//! long enough, corroborated refusal streak into `SENTINEL FAILOVER`.
//!
//! The proxy asks only when all of these hold:
//! 1. every connect to the current primary has been refused, continuously,
//!    for at least `failover-on-refused-ms` (a connect that succeeds, times
//!    out or fails otherwise, or a new primary, starts the clock again);
//!    while a streak is open a probe connects every [`PROBE_EVERY`], so the
//!    streak is measured without traffic too, and a primary connection
//!    closed by the server is followed by a few probes, so an idle proxy
//!    opens a streak as well;
//! 2. more than half of the configured sentinels answer `SENTINEL MASTER`
//!    naming that same address and cannot reach it either (`disconnected`,
//!    `s_down` or `o_down` in its flags, or `last-ok-ping-reply` at least
//!    `failover-on-refused-ms`): a proxy cut off from a healthy primary
//!    never asks;
//! 3. no sentinel reports `failover_in_progress`, and the one asked knows
//!    at least one replica (`num-slaves`).
//!
//! Then one agreeing sentinel gets `SENTINEL FAILOVER <name>` (the
//! sentinels' own failover runs from there: replica selection, promotion,
//! `+switch-master`, the epochs), the `INFO` counter
//! `failovers_requested` goes up and the poller is woken until it sees
//! the promoted replica. The same primary address is not asked about
//! again for twice the setting plus [`FAILOVER_TAKES`]; after an error
//! reply (`-NOGOODSLAVE`, `-INPROG`, …) nothing is asked for
//! [`RETRY_AFTER_ERROR`]. [`decide`] is the pure decision.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_client::Frame;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::backend::Reach;
use crate::router::Shared;
use crate::sentinel::{self, SentinelState};

/// How often the primary is probed while its refusal streak is open.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Probes after a lost primary connection, looking for a refusal.
const LOOKS: u32 = 10;
/// The sentinels are consulted at most this often during a streak.
const CONSULT_EVERY: Duration = Duration::from_millis(250);
/// Nothing is asked for this long after a sentinel's error reply.
pub const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);
/// What a failover may take, on top of twice the setting, before the same
/// primary address is asked about again.
pub const FAILOVER_TAKES: Duration = Duration::from_secs(10);

/// What one sentinel's `SENTINEL MASTER <name>` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterView {
    /// The master's address, as [`crate::config::join_addr`] writes it.
    pub addr: String,
    /// The flag words (`master`, `disconnected`, `s_down`, …).
    pub flags: Vec<String>,
    /// `last-ok-ping-reply`: ms since the master last answered a PING.
    pub last_ok_ping_ms: Option<u64>,
    /// `num-slaves`: the replicas the sentinel knows.
    pub num_slaves: u64,
}

impl MasterView {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The sentinel cannot reach the master either: its link is down, it
    /// deems it down, or no PING was answered for `threshold_ms`.
    pub fn cannot_reach(&self, threshold_ms: u64) -> bool {
        self.has("disconnected")
            || self.has("s_down")
            || self.has("o_down")
            || self.last_ok_ping_ms.is_some_and(|ms| ms >= threshold_ms)
    }

    /// The sentinel is failing the master over already.
    pub fn in_failover(&self) -> bool {
        self.has("failover_in_progress")
    }
}

/// Reads a `SENTINEL MASTER` reply (RESP2 flat array or RESP3 map).
pub fn view_of(reply: &Frame) -> Option<MasterView> {
    let (_, addr) = sentinel::master_of(reply)?;
    let fields = sentinel::fields(reply);
    let get = |k: &str| fields.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let flags = get("flags")
        .unwrap_or("")
        .split(',')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    Some(MasterView {
        addr,
        flags,
        last_ok_ping_ms: get("last-ok-ping-reply").and_then(|v| v.parse().ok()),
        num_slaves: get("num-slaves").and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

/// What to do about a primary that refuses connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Ask one of `via` (agreeing sentinels that know a replica, in the
    /// configured order) to fail over.
    Ask {
        via: Vec<String>,
        /// Sentinels that name the primary and cannot reach it.
        unreachable: usize,
        /// Sentinels configured.
        configured: usize,
    },
    /// Do not ask now; why.
    Wait(String),
}

/// The decision for `primary`, refused for `refused_for`, given the
/// `(sentinel, SENTINEL MASTER reply)` answers of the sentinels that
/// answered, out of `configured`.
pub fn decide(
    primary: &str,
    refused_for: Duration,
    threshold_ms: u64,
    configured: usize,
    answers: &[(String, Frame)],
) -> Decision {
    let streak_ms = u64::try_from(refused_for.as_millis()).unwrap_or(u64::MAX);
    if threshold_ms == 0 {
        return Decision::Wait("failover-on-refused-ms is 0".into());
    }
    if streak_ms < threshold_ms {
        return Decision::Wait(format!(
            "{primary} refused connections for {streak_ms} ms only (< {threshold_ms} ms)"
        ));
    }
    let views: Vec<(&str, MasterView)> = answers
        .iter()
        .filter_map(|(s, r)| view_of(r).map(|v| (s.as_str(), v)))
        .collect();
    if let Some((s, _)) = views.iter().find(|(_, v)| v.in_failover()) {
        return Decision::Wait(format!("sentinel {s} reports a failover in progress"));
    }
    let agreeing: Vec<&(&str, MasterView)> = views
        .iter()
        .filter(|(_, v)| v.addr == primary && v.cannot_reach(threshold_ms))
        .collect();
    if agreeing.len() * 2 <= configured {
        return Decision::Wait(format!(
            "only {}/{configured} sentinels name {primary} and cannot reach it",
            agreeing.len()
        ));
    }
    let via: Vec<String> = agreeing
        .iter()
        .filter(|(_, v)| v.num_slaves > 0)
        .map(|(s, _)| s.to_string())
        .collect();
    if via.is_empty() {
        return Decision::Wait(format!("no sentinel knows a replica of {primary}"));
    }
    Decision::Ask {
        via,
        unreachable: agreeing.len(),
        configured,
    }
}

/// When the proxy asked about which primary, and when it may ask again
/// after an error reply.
#[derive(Debug, Default)]
pub struct Memory {
    asked: HashMap<String, Instant>,
    quiet_until: Option<Instant>,
}

impl Memory {
    /// How long after asking about an address it is not asked about again.
    pub fn hold_off(threshold_ms: u64) -> Duration {
        Duration::from_millis(threshold_ms.saturating_mul(2)) + FAILOVER_TAKES
    }

    /// `Ok` when the proxy may ask about `primary` at `now`, else why not.
    pub fn may_ask(&self, primary: &str, now: Instant, threshold_ms: u64) -> Result<(), String> {
        if self.quiet_until.is_some_and(|t| now < t) {
            return Err(format!(
                "a sentinel refused less than {} ms ago",
                RETRY_AFTER_ERROR.as_millis()
            ));
        }
        match self.asked.get(primary) {
            Some(at) if now.saturating_duration_since(*at) < Memory::hold_off(threshold_ms) => {
                Err(format!("already asked about {primary}"))
            }
            _ => Ok(()),
        }
    }

    /// True when the proxy asked about `primary` less than `within` ago.
    pub fn asked_within(&self, primary: &str, now: Instant, within: Duration) -> bool {
        self.asked
            .get(primary)
            .is_some_and(|at| now.saturating_duration_since(*at) < within)
    }

    /// Records that a sentinel accepted to fail `primary` over.
    pub fn asked(&mut self, primary: &str, now: Instant, threshold_ms: u64) {
        let keep = Memory::hold_off(threshold_ms);
        self.asked
            .retain(|_, at| now.saturating_duration_since(*at) < keep);
        self.asked.insert(primary.to_string(), now);
    }

    /// A sentinel answered with an error: nothing is asked for a while.
    pub fn refused(&mut self, now: Instant) {
        self.quiet_until = Some(now + RETRY_AFTER_ERROR);
    }
}

/// Starts the trigger task when `failover-on-refused-ms` is set (sentinel
/// mode only).
pub fn start(shared: &Arc<Shared>, tasks: &mut JoinSet<()>) {
    if shared.cfg.failover_on_refused_ms > 0 && shared.sentinel.is_some() {
        tasks.spawn(run(shared.clone()));
    }
}

/// Waits for alarms (refused connects, lost connections); follows each
/// refusal streak of the current primary. A lost primary connection gets
/// up to [`LOOKS`] probes, [`PROBE_EVERY`] apart, until one is refused:
/// without traffic nothing else would connect, and a stopping server may
/// still accept for a moment.
async fn run(shared: Arc<Shared>) {
    let Some(state) = &shared.sentinel else {
        return;
    };
    let timeout = Duration::from_millis(shared.cfg.connect_timeout_ms.max(1));
    let mut memory = Memory::default();
    loop {
        shared.pool.alarms().notified().await;
        for _ in 0..LOOKS {
            let Some(primary) = state.primary() else {
                break;
            };
            if shared.pool.refused_since(&primary).is_some() {
                watch(&shared, state, &primary, &mut memory).await;
                break;
            }
            let lost_lately = shared
                .pool
                .lost_at(&primary)
                .is_some_and(|t| t.elapsed() < PROBE_EVERY * LOOKS);
            if !lost_lately {
                break;
            }
            let how = probe(&primary, timeout).await;
            shared.pool.note_connect(&primary, how);
            if how != Reach::Refused {
                tokio::time::sleep(PROBE_EVERY).await;
            }
        }
    }
}

/// One TCP connect to `addr` (closed at once), classified.
async fn probe(addr: &str, timeout: Duration) -> Reach {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Reach::Connected,
        Ok(Err(e)) => Reach::of_error(&e),
        Err(_) => Reach::Unknown,
    }
}

/// Follows the refusal streak of `primary`: probes it, consults the
/// sentinels once the streak is long enough, asks when they agree. Ends
/// when the primary changed or the streak did (a probe or a connection
/// connected, or failed some other way).
async fn watch(shared: &Arc<Shared>, state: &SentinelState, primary: &str, memory: &mut Memory) {
    let threshold = shared.cfg.failover_on_refused_ms;
    let timeout = Duration::from_millis(shared.cfg.connect_timeout_ms.max(1));
    let mut next_consult = Instant::now();
    let mut last_why = String::new();
    redis_common::logger::verbose(&format!(
        "Primary {primary} refuses connections: probing it every {} ms",
        PROBE_EVERY.as_millis()
    ));
    loop {
        if state.primary().as_deref() != Some(primary) {
            return;
        }
        let Some(since) = shared.pool.refused_since(primary) else {
            redis_common::logger::verbose(&format!(
                "Primary {primary} no longer refuses connections"
            ));
            return;
        };
        let now = Instant::now();
        let streak = now.saturating_duration_since(since);
        if streak >= Duration::from_millis(threshold) && now >= next_consult {
            next_consult = now + CONSULT_EVERY;
            let why = match memory.may_ask(primary, now, threshold) {
                Ok(()) => consult(shared, state, primary, memory).await,
                Err(why) => Some(why),
            };
            if let Some(why) = why {
                if why != last_why {
                    redis_common::logger::verbose(&format!(
                        "Not asking for a failover of '{}' yet: {why}",
                        shared.cfg.master_name
                    ));
                    last_why = why;
                }
            }
        }
        // Until the poller sees the promoted replica (the loop ends then).
        if memory.asked_within(primary, Instant::now(), Memory::hold_off(threshold)) {
            state.wake();
        }
        tokio::time::sleep(PROBE_EVERY).await;
        if state.primary().as_deref() != Some(primary) {
            return;
        }
        let how = probe(primary, timeout).await;
        shared.pool.note_connect(primary, how);
    }
}

/// `SENTINEL MASTER <name>` from every configured sentinel that answers
/// in time, in the configured order.
async fn ask_all(shared: &Arc<Shared>) -> Vec<(String, Frame)> {
    let limit = Duration::from_millis(shared.cfg.connect_timeout_ms.max(1)) * 2;
    let mut set = JoinSet::new();
    for (i, addr) in shared.cfg.sentinels.iter().enumerate() {
        let (shared, addr) = (shared.clone(), addr.clone());
        set.spawn(async move {
            let name = shared.cfg.master_name.as_str();
            let asked = async {
                let mut c = sentinel::connect(&shared, &addr).await.ok()?;
                c.cmd(&["SENTINEL", "MASTER", name]).await.ok()
            };
            let reply = tokio::time::timeout(limit, asked).await.ok().flatten();
            reply.map(|r| (i, addr, r))
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(Some(a)) = done {
            out.push(a);
        }
    }
    out.sort_by_key(|a| a.0);
    out.into_iter().map(|(_, a, r)| (a, r)).collect()
}

/// Why a sentinel did not start the failover.
enum NotDone {
    /// It answered with an error (`-NOGOODSLAVE`, `-INPROG`, …).
    Refused(String),
    /// It could not be asked (connection, auth, timeout).
    Unreachable(String),
}

/// `SENTINEL FAILOVER <name>` to the sentinel at `addr`.
async fn request_failover(shared: &Shared, addr: &str) -> Result<(), NotDone> {
    let limit = Duration::from_millis(shared.cfg.connect_timeout_ms.max(1)) * 2;
    let name = shared.cfg.master_name.as_str();
    let asked = async {
        let mut c = sentinel::connect(shared, addr).await?;
        c.cmd(&["SENTINEL", "FAILOVER", name])
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(limit, asked).await {
        Err(_) => Err(NotDone::Unreachable(format!("no reply within {limit:?}"))),
        Ok(Err(e)) => Err(NotDone::Unreachable(e)),
        Ok(Ok(Frame::Simple(s))) if s.as_ref() == b"OK" => Ok(()),
        Ok(Ok(Frame::Error(e))) => Err(NotDone::Refused(String::from_utf8_lossy(&e).into_owned())),
        Ok(Ok(other)) => Err(NotDone::Refused(format!("unexpected reply {other:?}"))),
    }
}

/// Consults the sentinels and asks one when [`decide`] says so; why not
/// when it did not ask.
async fn consult(
    shared: &Arc<Shared>,
    state: &SentinelState,
    primary: &str,
    memory: &mut Memory,
) -> Option<String> {
    let threshold = shared.cfg.failover_on_refused_ms;
    let answers = ask_all(shared).await;
    let streak = shared
        .pool
        .refused_since(primary)
        .map(|t| t.elapsed())
        .unwrap_or_default();
    let configured = shared.cfg.sentinels.len();
    let (via, unreachable) = match decide(primary, streak, threshold, configured, &answers) {
        Decision::Wait(why) => return Some(why),
        Decision::Ask {
            via, unreachable, ..
        } => (via, unreachable),
    };
    // Never while the primary accepts connections: one last look.
    let timeout = Duration::from_millis(shared.cfg.connect_timeout_ms.max(1));
    let how = probe(primary, timeout).await;
    shared.pool.note_connect(primary, how);
    if how != Reach::Refused || state.primary().as_deref() != Some(primary) {
        return Some(format!("{primary} no longer refuses connections"));
    }
    let name = &shared.cfg.master_name;
    for s in via {
        match request_failover(shared, &s).await {
            Ok(()) => {
                let ms = shared
                    .pool
                    .refused_since(primary)
                    .map(|t| t.elapsed().as_millis())
                    .unwrap_or_default();
                redis_common::logger::notice(&format!(
                    "Asked sentinel {s} to fail over '{name}': primary {primary} refused connections for {ms} ms, {unreachable}/{configured} sentinels cannot reach it"
                ));
                shared
                    .counters
                    .failovers_requested
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                memory.asked(primary, Instant::now(), threshold);
                state.wake();
                return None;
            }
            Err(NotDone::Refused(e)) => {
                memory.refused(Instant::now());
                return Some(format!("sentinel {s} refused SENTINEL FAILOVER: {e}"));
            }
            Err(NotDone::Unreachable(e)) => {
                redis_common::logger::verbose(&format!(
                    "Could not ask sentinel {s} to fail over '{name}': {e}"
                ));
            }
        }
    }
    memory.refused(Instant::now());
    Some("no agreeing sentinel could be asked".into())
}

#[cfg(test)]
#[path = "trigger_tests.rs"]
mod tests;
