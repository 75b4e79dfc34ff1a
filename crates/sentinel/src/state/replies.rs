//! Feeding the state machine: link state, PING and INFO replies, hello
//! messages, `is-master-down-by-addr` (both directions) and the
//! user-requested `SENTINEL FAILOVER`.

use crate::config::Addr;
use crate::hello::Hello;
use crate::info::{InfoReport, Role};

use super::action::{Action, EventLevel, InstanceId};
use super::election::vote_leader;
use super::failover::{self, send_replica_of};
use super::instance::{describe, Common, FailoverState, Master, Peer, Reconf, Replica};
use super::monitor::send_ping;
use super::select::select_replica;
use super::{since, Ctx, Sentinel, Slot, Timings};

/// The answer to `SENTINEL IS-MASTER-DOWN-BY-ADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsMasterDownReply {
    /// 1 when we see the master SDOWN (never during TILT).
    pub down: bool,
    /// The run id we voted for, or `*`.
    pub leader: String,
    /// The epoch of that vote (0 when none).
    pub leader_epoch: u64,
}

/// Why `SENTINEL FAILOVER` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailoverError {
    /// No master with that name.
    #[error("ERR No such master with that name")]
    NoSuchMaster,
    /// A failover is already running.
    #[error("INPROG Failover already in progress")]
    InProgress,
    /// No replica can be promoted.
    #[error("NOGOODSLAVE No suitable replica to promote")]
    NoGoodReplica,
}

fn common_at(m: &mut Master, slot: Slot) -> &mut Common {
    match slot {
        Slot::Master => &mut m.c,
        Slot::Replica(j) => &mut m.replicas[j].c,
        Slot::Sentinel(j) => &mut m.sentinels[j].c,
    }
}

impl Sentinel {
    /// The command link of `id` is up: a PING goes out at once.
    pub fn on_connected(&mut self, id: InstanceId, now: u64) -> Vec<Action> {
        if let Some((mi, slot)) = self.locate(id) {
            let c = common_at(&mut self.masters[mi], slot);
            c.link.connected = true;
            send_ping(&mut self.ctx, c, now);
        }
        self.ctx.take()
    }

    /// The link of `id` failed or closed; a reconnection is attempted by
    /// a later tick.
    pub fn on_disconnected(&mut self, id: InstanceId, _now: u64) -> Vec<Action> {
        if let Some(c) = self.common_mut(id) {
            c.link.connected = false;
        }
        self.ctx.take()
    }

    /// A PING reply (status or error text, without the `+`/`-`). PONG,
    /// LOADING and MASTERDOWN count as valid; a BUSY instance that is
    /// SDOWN gets one SCRIPT KILL.
    pub fn on_ping_reply(&mut self, id: InstanceId, reply: &str, now: u64) -> Vec<Action> {
        let Some((mi, slot)) = self.locate(id) else {
            return self.ctx.take();
        };
        let m = &mut self.masters[mi];
        let valid = ["PONG", "LOADING", "MASTERDOWN"]
            .iter()
            .any(|p| reply.starts_with(p));
        if valid && matches!(slot, Slot::Master) && reply.starts_with("PONG") {
            m.reboot_since = None;
        }
        let c = common_at(m, slot);
        if valid {
            c.link.last_avail_time = now;
            c.link.act_ping_time = None;
        } else if reply.starts_with("BUSY") && c.s_down && !c.script_kill_sent {
            c.script_kill_sent = true;
            self.ctx.emit(Action::ScriptKill { instance: id });
        }
        c.link.last_pong_time = now;
        self.ctx.take()
    }

    /// An INFO reply of a master or replica.
    pub fn on_info_reply(&mut self, id: InstanceId, info: &InfoReport, now: u64) -> Vec<Action> {
        if let Some((mi, slot)) = self.locate(id) {
            let m = &mut self.masters[mi];
            match slot {
                Slot::Master => master_info(&mut self.ctx, m, info, now),
                Slot::Replica(j) => replica_info(&mut self.ctx, m, j, info, now),
                Slot::Sentinel(_) => {}
            }
        }
        self.ctx.take()
    }

    /// A message received on `__sentinel__:hello` (from any instance, or
    /// published directly to us).
    pub fn on_hello(&mut self, payload: &str, now: u64) -> Vec<Action> {
        if !payload.contains(self.ctx.myid.as_str()) {
            if let Some(h) = Hello::parse(payload) {
                if let Some(mi) = self.masters.iter().position(|m| m.c.name == h.master_name) {
                    process_hello(&mut self.ctx, &mut self.masters, mi, &h, now);
                }
            }
        }
        self.ctx.take()
    }

    /// A well-formed reply of another sentinel to our
    /// `is-master-down-by-addr` (`[down, leader, leader_epoch]`).
    pub fn on_is_master_down_reply(
        &mut self,
        id: InstanceId,
        down: bool,
        leader: &str,
        leader_epoch: u64,
        now: u64,
    ) -> Vec<Action> {
        if let Some((mi, Slot::Sentinel(j))) = self.locate(id) {
            let p = &mut self.masters[mi].sentinels[j];
            p.last_master_down_reply = Some(now);
            p.master_down = down;
            if leader != "*" {
                p.leader = Some(leader.to_string());
                p.leader_epoch = leader_epoch;
            }
        }
        self.ctx.take()
    }

    /// Answers `SENTINEL IS-MASTER-DOWN-BY-ADDR ip port epoch runid`,
    /// voting for `run_id` unless it is `*`.
    pub fn on_vote_request(
        &mut self,
        ip: &str,
        port: u16,
        req_epoch: u64,
        run_id: &str,
        now: u64,
    ) -> (IsMasterDownReply, Vec<Action>) {
        let target = Addr::new(ip, port);
        let mut reply = IsMasterDownReply {
            down: false,
            leader: "*".to_string(),
            leader_epoch: 0,
        };
        if let Some(m) = self.masters.iter_mut().find(|m| m.c.addr == target) {
            reply.down = !self.ctx.tilt && m.c.s_down;
            if run_id != "*" {
                let (leader, epoch) = vote_leader(&mut self.ctx, m, req_epoch, run_id, now);
                reply.leader = leader.unwrap_or_else(|| "*".to_string());
                reply.leader_epoch = epoch;
            }
        }
        (reply, self.ctx.take())
    }

    /// `SENTINEL FAILOVER <name>`: a failover without agreement.
    pub fn failover(&mut self, name: &str, now: u64) -> Result<Vec<Action>, FailoverError> {
        let m = self
            .masters
            .iter_mut()
            .find(|m| m.c.name == name)
            .ok_or(FailoverError::NoSuchMaster)?;
        if m.in_failover() {
            return Err(FailoverError::InProgress);
        }
        if select_replica(m, &self.ctx.timings, now).is_none() {
            return Err(FailoverError::NoGoodReplica);
        }
        failover::start(&mut self.ctx, m, now);
        m.force_failover = true;
        Ok(self.ctx.take())
    }
}

/// Run id tracking shared by masters and replicas; true on a reboot.
fn update_run_id(
    ctx: &mut Ctx,
    c: &mut Common,
    info: &InfoReport,
    text: impl FnOnce(&Common) -> String,
) -> bool {
    let Some(new) = &info.run_id else {
        return false;
    };
    match &c.run_id {
        Some(old) if old != new => {
            c.run_id = Some(new.clone());
            ctx.event(EventLevel::Notice, "+reboot", text(c), None);
            true
        }
        Some(_) => false,
        None => {
            c.run_id = Some(new.clone());
            false
        }
    }
}

/// Records a role change with `+role-change` (coherent with our view) or
/// `-role-change`.
fn update_role(
    ctx: &mut Ctx,
    c: &mut Common,
    role: Role,
    ours: Role,
    desc: String,
    now: u64,
) -> bool {
    if role == c.role_reported {
        return false;
    }
    c.role_reported = role;
    c.role_reported_time = now;
    let name = if role == ours {
        "+role-change"
    } else {
        "-role-change"
    };
    let word = if role == Role::Master {
        "master"
    } else {
        "slave"
    };
    ctx.event(
        EventLevel::Verbose,
        name,
        format!("{desc} new reported role is {word}"),
        None,
    );
    true
}

fn master_info(ctx: &mut Ctx, m: &mut Master, info: &InfoReport, now: u64) {
    if update_run_id(ctx, &mut m.c, info, |c| describe("master", c, ""))
        && m.conf.master_reboot_down_after_ms != 0
    {
        m.reboot_since = Some(now);
    }
    let tail = m.tail();
    for addr in &info.replicas {
        if m.replicas.iter().any(|r| r.c.addr == *addr) {
            continue;
        }
        let r = Replica::new(ctx.new_id(), addr.clone(), now);
        ctx.event(
            EventLevel::Notice,
            "+slave",
            describe("slave", &r.c, &tail),
            None,
        );
        m.replicas.push(r);
        ctx.flush_config();
    }
    if let Some(role) = info.role {
        let desc = m.describe();
        update_role(ctx, &mut m.c, role, Role::Master, desc, now);
    }
    m.c.info_refresh = Some(now);
}

/// The master is reachable, says it is a master and its INFO is fresh.
fn master_looks_sane(m: &Master, t: &Timings, now: u64) -> bool {
    m.c.role_reported == Role::Master
        && !m.c.s_down
        && !m.o_down
        && m.c
            .info_refresh
            .is_some_and(|r| since(now, r) < t.info_period.saturating_mul(2))
}

/// Not SDOWN in the last `ms` milliseconds.
fn no_down_for(c: &Common, ms: u64, now: u64) -> bool {
    c.s_down_since.is_none_or(|t| since(now, t) > ms)
}

fn replica_info(ctx: &mut Ctx, m: &mut Master, j: usize, info: &InfoReport, now: u64) {
    let tail = m.tail();
    let r = &mut m.replicas[j];
    update_run_id(ctx, &mut r.c, info, |c| describe("slave", c, &tail));
    r.master_link_down_ms = info.master_link_down_ms.unwrap_or(0);
    if let Some(announced) = info.replica_announced {
        r.replica_announced = announced;
    }
    if info.role == Some(Role::Replica) {
        if info.master_host.is_some() && info.master_host != r.master_host {
            r.master_host = info.master_host.clone();
            r.conf_change_time = now;
        }
        if let Some(port) = info.master_port.filter(|p| *p != r.master_port) {
            r.master_port = port;
            r.conf_change_time = now;
        }
        r.master_link_up = info.master_link_up;
        if let Some(p) = info.replica_priority {
            r.priority = p;
        }
        if let Some(o) = info.repl_offset {
            r.repl_offset = o;
        }
    }
    if let Some(role) = info.role {
        let desc = describe("slave", &r.c, &tail);
        if update_role(ctx, &mut r.c, role, Role::Replica, desc, now) && role == Role::Replica {
            r.conf_change_time = now;
        }
    }
    r.c.info_refresh = Some(now);
    if ctx.tilt {
        return;
    }
    match info.role {
        Some(Role::Master) => replica_reports_master(ctx, m, j, now),
        Some(Role::Replica) => {
            fix_replica_config(ctx, m, j, now);
            track_reconf(ctx, m, j);
        }
        None => {}
    }
}

/// A replica says it is a master: either the promotion we wait for, or an
/// instance (such as an old master) to turn back into a replica.
fn replica_reports_master(ctx: &mut Ctx, m: &mut Master, j: usize, now: u64) {
    let r = &m.replicas[j];
    if r.promoted && m.failover_state == FailoverState::WaitPromotion {
        failover::promotion_observed(ctx, m, j, now);
        return;
    }
    let wait = ctx.timings.publish_period.saturating_mul(4);
    if !r.promoted
        && master_looks_sane(m, &ctx.timings, now)
        && no_down_for(&r.c, wait, now)
        && since(now, r.c.role_reported_time) > wait
        && send_replica_of(ctx, &r.c, &m.c.addr)
    {
        let text = describe("slave", &r.c, &m.tail());
        ctx.event(EventLevel::Notice, "+convert-to-slave", text, None);
    }
}

/// A replica following the wrong master is pointed back at ours.
fn fix_replica_config(ctx: &mut Ctx, m: &mut Master, j: usize, now: u64) {
    let r = &m.replicas[j];
    let Some(host) = &r.master_host else {
        return;
    };
    if r.master_port == m.c.addr.port && host.eq_ignore_ascii_case(&m.c.addr.host) {
        return;
    }
    let wait = m.conf.failover_timeout_ms;
    if master_looks_sane(m, &ctx.timings, now)
        && no_down_for(&r.c, wait, now)
        && since(now, r.conf_change_time) > wait
        && send_replica_of(ctx, &r.c, &m.c.addr)
    {
        let text = describe("slave", &r.c, &m.tail());
        ctx.event(EventLevel::Notice, "+fix-slave-config", text, None);
    }
}

/// RECONF_SENT → RECONF_INPROG when the replica follows the promoted
/// one; RECONF_INPROG → RECONF_DONE when its link is up.
fn track_reconf(ctx: &mut Ctx, m: &mut Master, j: usize) {
    let promoted = m.promoted_replica().map(|p| p.c.addr.clone());
    let tail = m.tail();
    let r = &mut m.replicas[j];
    if r.reconf == Reconf::Sent {
        let follows = promoted.is_some_and(|p| {
            r.master_port == p.port
                && r.master_host
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&p.host))
        });
        if follows {
            r.reconf = Reconf::InProgress;
            ctx.event(
                EventLevel::Notice,
                "+slave-reconf-inprog",
                describe("slave", &r.c, &tail),
                None,
            );
        }
    }
    if r.reconf == Reconf::InProgress && r.master_link_up {
        r.reconf = Reconf::Done;
        ctx.event(
            EventLevel::Notice,
            "+slave-reconf-done",
            describe("slave", &r.c, &tail),
            None,
        );
    }
}

/// Removes the sentinels with `run_id` from `m`; returns how many.
fn remove_sentinel(ctx: &mut Ctx, m: &mut Master, run_id: &str) -> usize {
    let before = m.sentinels.len();
    m.sentinels.retain(|p| {
        let matches = p.c.run_id.as_deref() == Some(run_id);
        if matches {
            ctx.emit(Action::Disconnect { instance: p.c.id });
        }
        !matches
    });
    before - m.sentinels.len()
}

/// Learns sentinels, epochs and newer master addresses from a hello.
fn process_hello(ctx: &mut Ctx, masters: &mut [Master], mi: usize, h: &Hello, now: u64) {
    let addr = Addr::new(h.sentinel_ip.clone(), h.sentinel_port);
    let known = masters[mi]
        .sentinels
        .iter()
        .any(|p| p.c.addr == addr && p.c.run_id.as_deref() == Some(h.run_id.as_str()));
    if !known {
        add_sentinel_from_hello(ctx, masters, mi, h, &addr, now);
    }
    let m = &mut masters[mi];
    let script = m.conf.notification_script.clone();
    if h.current_epoch > ctx.current_epoch {
        ctx.current_epoch = h.current_epoch;
        ctx.flush_config();
        let text = ctx.current_epoch.to_string();
        ctx.event(EventLevel::Warning, "+new-epoch", text, script.as_deref());
    }
    if m.config_epoch < h.master_config_epoch {
        m.config_epoch = h.master_config_epoch;
        ctx.flush_config();
        if h.master_addr != m.c.addr {
            let tail = m.tail();
            if let Some(p) = m
                .sentinels
                .iter()
                .find(|p| p.c.run_id.as_deref() == Some(h.run_id.as_str()))
            {
                let text = describe("sentinel", &p.c, &tail);
                ctx.event(
                    EventLevel::Warning,
                    "+config-update-from",
                    text,
                    script.as_deref(),
                );
            }
            failover::adopt_address(ctx, m, h.master_addr.clone(), now);
        }
    }
    let m = &mut masters[mi];
    let disagree = h.master_config_epoch == m.config_epoch
        && h.master_addr != *m.current_addr()
        && !m.in_failover();
    let ours = m.current_addr().clone();
    let name = m.c.name.clone();
    if let Some(p) = m
        .sentinels
        .iter_mut()
        .find(|p| p.c.run_id.as_deref() == Some(h.run_id.as_str()))
    {
        p.last_hello_time = Some(now);
        // Upstream ignores such hellos silently and the two sentinels
        // disagree forever; say so, once a minute.
        if disagree
            && p.mismatch_warned
                .is_none_or(|t| since(now, t) >= MISMATCH_WARN_PERIOD)
        {
            p.mismatch_warned = Some(now);
            ctx.emit(Action::Log {
                level: EventLevel::Warning,
                text: format!(
                    "WARNING: sentinel {} at {} {} monitors master '{}' at {} {} but this sentinel monitors it at {} {}, with the same configuration epoch {}: they will not agree until one of the 'sentinel monitor' lines is fixed",
                    h.run_id,
                    h.sentinel_ip,
                    h.sentinel_port,
                    name,
                    h.master_addr.host,
                    h.master_addr.port,
                    ours.host,
                    ours.port,
                    h.master_config_epoch
                ),
            });
        }
    }
}

/// How often the monitor-mismatch warning repeats per sentinel.
const MISMATCH_WARN_PERIOD: u64 = 60_000;

/// A hello from a sentinel not known at that address: handles address
/// switches and address clashes as upstream, then adds it.
fn add_sentinel_from_hello(
    ctx: &mut Ctx,
    masters: &mut [Master],
    mi: usize,
    h: &Hello,
    addr: &Addr,
    now: u64,
) {
    let removed = remove_sentinel(ctx, &mut masters[mi], &h.run_id);
    if removed > 0 {
        let m = &masters[mi];
        let text = format!(
            "{} ip {} port {} for {}",
            m.describe(),
            addr.host,
            addr.port,
            h.run_id
        );
        ctx.event(EventLevel::Notice, "+sentinel-address-switch", text, None);
    } else {
        let clash = masters[mi]
            .sentinels
            .iter()
            .find(|p| p.c.addr == *addr)
            .map(|p| {
                (
                    describe("sentinel", &p.c, &masters[mi].tail()),
                    p.c.run_id.clone(),
                )
            });
        if let Some((text, run_id)) = clash {
            ctx.event(EventLevel::Notice, "+sentinel-invalid-addr", text, None);
            if let Some(run_id) = run_id {
                for m in masters.iter_mut() {
                    remove_sentinel(ctx, m, &run_id);
                }
            }
        }
    }
    let m = &mut masters[mi];
    let p = Peer::new(ctx.new_id(), &h.run_id, addr.clone(), now);
    if removed == 0 {
        ctx.event(
            EventLevel::Notice,
            "+sentinel",
            describe("sentinel", &p.c, &m.tail()),
            None,
        );
    }
    m.sentinels.push(p);
    if removed > 0 {
        for other in masters.iter_mut() {
            for p in &mut other.sentinels {
                if p.c.run_id.as_deref() == Some(h.run_id.as_str()) && p.c.addr != *addr {
                    ctx.emit(Action::Disconnect { instance: p.c.id });
                    p.c.addr = addr.clone();
                    p.c.link.connected = false;
                }
            }
        }
    }
    ctx.flush_config();
}
