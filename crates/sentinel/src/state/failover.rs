//! The failover state machine: WAIT_START → SELECT_SLAVE →
//! SEND_SLAVEOF_NOONE → WAIT_PROMOTION → RECONF_SLAVES → UPDATE_CONFIG,
//! then the switch of the master address.

use crate::config::Addr;

use super::action::{Action, EventLevel};
use super::election::get_leader;
use super::instance::{describe, Common, FailoverState, Master, Reconf, Replica};
use super::select::select_replica;
use super::{since, Ctx, SIMFAILURE_CRASH_AFTER_ELECTION, SIMFAILURE_CRASH_AFTER_PROMOTION};

fn warn(ctx: &mut Ctx, m: &Master, name: &str, text: String) {
    let script = m.conf.notification_script.clone();
    ctx.event(EventLevel::Warning, name, text, script.as_deref());
}

fn notice(ctx: &mut Ctx, name: &str, text: String) {
    ctx.event(EventLevel::Notice, name, text, None);
}

fn set_state(m: &mut Master, state: FailoverState, now: u64) {
    m.failover_state = state;
    m.failover_state_change_time = now;
}

/// Starts a failover if `m` is ODOWN, none is running, and the last
/// attempt is older than twice the failover timeout.
pub(crate) fn start_if_needed(ctx: &mut Ctx, m: &mut Master, now: u64) -> bool {
    if !m.o_down || m.in_failover() {
        return false;
    }
    let timeout2 = m.conf.failover_timeout_ms.saturating_mul(2);
    if m.failover_start_time
        .is_some_and(|t| since(now, t) < timeout2)
    {
        return false;
    }
    start(ctx, m, now);
    true
}

/// Enters WAIT_START in a new epoch.
pub(crate) fn start(ctx: &mut Ctx, m: &mut Master, now: u64) {
    ctx.current_epoch = ctx.current_epoch.saturating_add(1);
    m.failover_epoch = ctx.current_epoch;
    set_state(m, FailoverState::WaitStart, now);
    warn(ctx, m, "+new-epoch", ctx.current_epoch.to_string());
    warn(ctx, m, "+try-failover", m.describe());
    m.failover_start_time = Some(now.saturating_add(ctx.desync()));
}

/// Runs the current failover step.
pub(crate) fn state_machine(ctx: &mut Ctx, m: &mut Master, now: u64) {
    match m.failover_state {
        FailoverState::WaitStart => wait_start(ctx, m, now),
        FailoverState::SelectSlave => select_slave(ctx, m, now),
        FailoverState::SendSlaveofNoone => send_slaveof_noone(ctx, m, now),
        FailoverState::WaitPromotion => wait_promotion(ctx, m, now),
        FailoverState::ReconfSlaves => reconf_next_replica(ctx, m, now),
        FailoverState::None | FailoverState::UpdateConfig => {}
    }
}

/// Gives the failover up (only before the promotion is observed).
fn abort(m: &mut Master, now: u64) {
    m.force_failover = false;
    set_state(m, FailoverState::None, now);
    if let Some(id) = m.promoted.take() {
        if let Some(r) = m.replicas.iter_mut().find(|r| r.c.id == id) {
            r.promoted = false;
        }
    }
}

fn wait_start(ctx: &mut Ctx, m: &mut Master, now: u64) {
    let leader = get_leader(ctx, m, m.failover_epoch, now);
    let is_leader = leader.is_some_and(|l| l.eq_ignore_ascii_case(&ctx.myid));
    if !is_leader && !m.force_failover {
        let election_timeout = ctx.timings.election_timeout.min(m.conf.failover_timeout_ms);
        let started = m.failover_start_time.unwrap_or(now);
        if since(now, started) > election_timeout {
            warn(ctx, m, "-failover-abort-not-elected", m.describe());
            abort(m, now);
        }
        return;
    }
    warn(ctx, m, "+elected-leader", m.describe());
    if ctx.simfailure_flags & SIMFAILURE_CRASH_AFTER_ELECTION != 0 {
        ctx.crash();
        return;
    }
    set_state(m, FailoverState::SelectSlave, now);
    warn(ctx, m, "+failover-state-select-slave", m.describe());
}

fn select_slave(ctx: &mut Ctx, m: &mut Master, now: u64) {
    let Some(j) = select_replica(m, &ctx.timings, now) else {
        warn(ctx, m, "-failover-abort-no-good-slave", m.describe());
        abort(m, now);
        return;
    };
    let tail = m.tail();
    let r = &mut m.replicas[j];
    r.promoted = true;
    let text = describe("slave", &r.c, &tail);
    m.promoted = Some(r.c.id);
    warn(ctx, m, "+selected-slave", text.clone());
    set_state(m, FailoverState::SendSlaveofNoone, now);
    notice(ctx, "+failover-state-send-slaveof-noone", text);
}

fn send_slaveof_noone(ctx: &mut Ctx, m: &mut Master, now: u64) {
    let Some(r) = m.promoted_replica() else {
        abort(m, now);
        return;
    };
    if !r.c.link.connected {
        if since(now, m.failover_state_change_time) > m.conf.failover_timeout_ms {
            warn(ctx, m, "-failover-abort-slave-timeout", m.describe());
            abort(m, now);
        }
        return;
    }
    let text = describe("slave", &r.c, &m.tail());
    ctx.emit(Action::Promote { instance: r.c.id });
    notice(ctx, "+failover-state-wait-promotion", text);
    set_state(m, FailoverState::WaitPromotion, now);
}

fn wait_promotion(ctx: &mut Ctx, m: &mut Master, now: u64) {
    if since(now, m.failover_state_change_time) > m.conf.failover_timeout_ms {
        warn(ctx, m, "-failover-abort-slave-timeout", m.describe());
        abort(m, now);
    }
}

/// INFO showed the promoted replica as a master: record the new
/// configuration epoch and move on to reconfiguring the others.
pub(crate) fn promotion_observed(ctx: &mut Ctx, m: &mut Master, j: usize, now: u64) {
    m.config_epoch = m.failover_epoch;
    set_state(m, FailoverState::ReconfSlaves, now);
    ctx.flush_config();
    let new_addr = m.replicas[j].c.addr.clone();
    let text = describe("slave", &m.replicas[j].c, &m.tail());
    warn(ctx, m, "+promoted-slave", text);
    if ctx.simfailure_flags & SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
        ctx.crash();
        return;
    }
    warn(ctx, m, "+failover-state-reconf-slaves", m.describe());
    let old_addr = m.c.addr.clone();
    reconfig_script(ctx, m, "leader", &old_addr, &new_addr);
    force_hello(m);
}

/// Runs the client reconfiguration script, if any.
fn reconfig_script(ctx: &mut Ctx, m: &Master, role: &str, from: &Addr, to: &Addr) {
    if let Some(path) = &m.conf.client_reconfig_script {
        ctx.emit(Action::RunScript {
            path: path.clone(),
            args: vec![
                m.c.name.clone(),
                role.to_string(),
                "start".to_string(),
                from.host.clone(),
                from.port.to_string(),
                to.host.clone(),
                to.port.to_string(),
            ],
        });
    }
}

/// Makes every instance of `m` publish a hello on the next tick.
fn force_hello(m: &mut Master) {
    m.c.last_hello_sent = None;
    for r in &mut m.replicas {
        r.c.last_hello_sent = None;
    }
    for p in &mut m.sentinels {
        p.c.last_hello_sent = None;
    }
}

/// Sends `REPLICAOF addr` if the link is up; false otherwise.
pub(crate) fn send_replica_of(ctx: &mut Ctx, c: &Common, addr: &Addr) -> bool {
    if !c.link.connected {
        return false;
    }
    ctx.emit(Action::SendReplicaOf {
        instance: c.id,
        addr: addr.clone(),
    });
    true
}

/// Points up to `parallel-syncs` replicas at a time at the promoted one.
fn reconf_next_replica(ctx: &mut Ctx, m: &mut Master, now: u64) {
    let Some(new_addr) = m.promoted_replica().map(|r| r.c.addr.clone()) else {
        return;
    };
    let busy = |r: &Replica| matches!(r.reconf, Reconf::Sent | Reconf::InProgress);
    let mut in_progress = m.replicas.iter().filter(|r| busy(r)).count();
    let parallel = m.conf.parallel_syncs as usize;
    let tail = m.tail();
    let reconf_timeout = ctx.timings.slave_reconf_timeout;
    for r in &mut m.replicas {
        if in_progress >= parallel {
            break;
        }
        if r.promoted || r.reconf == Reconf::Done {
            continue;
        }
        if r.reconf == Reconf::Sent && since(now, r.reconf_sent_time) > reconf_timeout {
            notice(
                ctx,
                "-slave-reconf-sent-timeout",
                describe("slave", &r.c, &tail),
            );
            r.reconf = Reconf::Done;
        }
        if busy(r) || r.reconf == Reconf::Done || !r.c.link.connected {
            continue;
        }
        if send_replica_of(ctx, &r.c, &new_addr) {
            r.reconf = Reconf::Sent;
            r.reconf_sent_time = now;
            notice(ctx, "+slave-reconf-sent", describe("slave", &r.c, &tail));
            in_progress += 1;
        }
    }
    detect_end(ctx, m, &new_addr, now);
}

/// Ends the failover once every reachable replica is reconfigured, or on
/// timeout (then a best-effort REPLICAOF goes to the stragglers).
fn detect_end(ctx: &mut Ctx, m: &mut Master, new_addr: &Addr, now: u64) {
    if m.promoted_replica().is_none_or(|r| r.c.s_down) {
        return;
    }
    let mut not_reconfigured = m
        .replicas
        .iter()
        .filter(|r| !r.promoted && r.reconf != Reconf::Done && !r.c.s_down)
        .count();
    let timeout = since(now, m.failover_state_change_time) > m.conf.failover_timeout_ms;
    if timeout {
        not_reconfigured = 0;
        warn(ctx, m, "+failover-end-for-timeout", m.describe());
    }
    if not_reconfigured == 0 {
        warn(ctx, m, "+failover-end", m.describe());
        set_state(m, FailoverState::UpdateConfig, now);
    }
    if timeout {
        let tail = m.tail();
        for r in &mut m.replicas {
            if r.promoted || matches!(r.reconf, Reconf::Sent | Reconf::Done) {
                continue;
            }
            if send_replica_of(ctx, &r.c, new_addr) {
                notice(ctx, "+slave-reconf-sent-be", describe("slave", &r.c, &tail));
                r.reconf = Reconf::Sent;
            }
        }
    }
}

/// UPDATE_CONFIG: the promoted replica becomes the master.
pub(crate) fn switch_to_promoted(ctx: &mut Ctx, m: &mut Master, now: u64) {
    let new_addr = m.current_addr().clone();
    let old = m.c.addr.clone();
    let text = format!(
        "{} {} {} {} {}",
        m.c.name, old.host, old.port, new_addr.host, new_addr.port
    );
    warn(ctx, m, "+switch-master", text);
    reset_and_change_address(ctx, m, new_addr, now);
}

/// Adopts a newer configuration learned from another sentinel's hello.
pub(crate) fn adopt_address(ctx: &mut Ctx, m: &mut Master, new_addr: Addr, now: u64) {
    let old = m.c.addr.clone();
    let text = format!(
        "{} {} {} {} {}",
        m.c.name, old.host, old.port, new_addr.host, new_addr.port
    );
    warn(ctx, m, "+switch-master", text);
    reset_and_change_address(ctx, m, new_addr.clone(), now);
    reconfig_script(ctx, m, "observer", &old, &new_addr);
}

/// Resets `m` to monitor `new_addr`: every replica except the new master
/// is re-created, the old master becomes a replica, sentinels are kept.
fn reset_and_change_address(ctx: &mut Ctx, m: &mut Master, new_addr: Addr, now: u64) {
    let mut replica_addrs: Vec<Addr> = m
        .replicas
        .iter()
        .map(|r| r.c.addr.clone())
        .filter(|a| *a != new_addr)
        .collect();
    if m.c.addr != new_addr {
        replica_addrs.push(m.c.addr.clone());
    }
    ctx.emit(Action::Disconnect { instance: m.c.id });
    for r in &m.replicas {
        ctx.emit(Action::Disconnect { instance: r.c.id });
    }
    let id = ctx.new_id();
    let name = m.c.name.clone();
    m.c = Common::new(id, name, new_addr, crate::info::Role::Master, now);
    m.o_down = false;
    m.o_down_since = None;
    m.leader = None;
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = 0;
    m.failover_start_time = None;
    m.force_failover = false;
    m.promoted = None;
    m.reboot_since = None;
    m.replicas.clear();
    let tail = m.tail();
    for addr in replica_addrs {
        let r = Replica::new(ctx.new_id(), addr, now);
        notice(ctx, "+slave", describe("slave", &r.c, &tail));
        m.replicas.push(r);
    }
    ctx.flush_config();
}
