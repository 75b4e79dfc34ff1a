//! Monitoring: connection attempts, the PING / INFO / hello timers, and
//! the SDOWN / ODOWN checks with the `is-master-down-by-addr` questions.

use crate::hello::Hello;
use crate::info::Role;

use super::action::{Action, EventLevel, InstanceKind};
use super::instance::{describe, Common, Master};
use super::{failover, since, Ctx};

/// One tick for a master and everything attached to it, in upstream's
/// order: the master's own periodic commands and checks (down detection,
/// failover steps) first, then its replicas' and sentinels' periodic
/// commands. So the once-a-second INFO to replicas of a master that just
/// went ODOWN leaves in the same tick, and its reply is there when the
/// next tick selects the replica to promote.
pub(crate) fn handle_master(ctx: &mut Ctx, m: &mut Master, now: u64) {
    let hello = hello_for(ctx, m);
    let ping_period = m.conf.down_after_ms.min(ctx.timings.ping_period);
    let name = m.c.name.clone();
    let info_period = ctx.timings.info_period;
    let timers = Timers {
        ping_period,
        hello: &hello,
        master: &name,
    };
    timers.run(ctx, &mut m.c, InstanceKind::Master, Some(info_period), now);
    if !ctx.tilt {
        act(ctx, m, now);
    }
    let fast_info = m.o_down || m.in_failover();
    for r in &mut m.replicas {
        let period = if fast_info || r.master_link_down_ms != 0 {
            1000
        } else {
            info_period
        };
        timers.run(ctx, &mut r.c, InstanceKind::Replica, Some(period), now);
    }
    for p in &mut m.sentinels {
        timers.run(ctx, &mut p.c, InstanceKind::Sentinel, None, now);
    }
    if m.failover_state == super::FailoverState::UpdateConfig {
        failover::switch_to_promoted(ctx, m, now);
    }
}

/// The acting half: down detection and failover.
fn act(ctx: &mut Ctx, m: &mut Master, now: u64) {
    check_master_sdown(ctx, m, now);
    check_odown(ctx, m, now);
    if failover::start_if_needed(ctx, m, now) {
        ask_master_state(ctx, m, true, now);
    }
    failover::state_machine(ctx, m, now);
    ask_master_state(ctx, m, false, now);
    let tail = m.tail();
    let down_after = m.conf.down_after_ms;
    let script = m.conf.notification_script.as_deref();
    for r in &mut m.replicas {
        check_sdown(
            ctx, &mut r.c, "slave", &tail, down_after, false, script, now,
        );
    }
    for p in &mut m.sentinels {
        check_sdown(
            ctx, &mut p.c, "sentinel", &tail, down_after, false, script, now,
        );
    }
}

/// The hello this sentinel publishes about `m`.
fn hello_for(ctx: &Ctx, m: &Master) -> Hello {
    let port = if ctx.announce_port != 0 {
        ctx.announce_port
    } else {
        ctx.port
    };
    Hello {
        sentinel_ip: ctx.announce_ip.clone().unwrap_or_default(),
        sentinel_port: port,
        run_id: ctx.myid.clone(),
        current_epoch: ctx.current_epoch,
        master_name: m.c.name.clone(),
        master_addr: m.current_addr().clone(),
        master_config_epoch: m.config_epoch,
    }
}

/// Per-master parameters of the periodic commands.
struct Timers<'a> {
    ping_period: u64,
    hello: &'a Hello,
    master: &'a str,
}

impl Timers<'_> {
    /// Connects, or sends whatever INFO / PING / hello is due.
    fn run(&self, ctx: &mut Ctx, c: &mut Common, kind: InstanceKind, info: Option<u64>, now: u64) {
        if !c.link.connected {
            let due = c
                .link
                .last_connect_attempt
                .is_none_or(|t| since(now, t) >= ctx.timings.ping_period);
            if due {
                c.link.last_connect_attempt = Some(now);
                ctx.emit(Action::Connect {
                    instance: c.id,
                    kind,
                    addr: c.addr.clone(),
                    master: self.master.to_string(),
                });
            }
            return;
        }
        let t = ctx.timings;
        if let Some(period) = info {
            let stale = c.info_refresh.is_none_or(|t| since(now, t) > period);
            let not_just_sent = c
                .last_info_sent
                .is_none_or(|sent| since(now, sent) >= period.min(t.ping_period));
            if stale && not_just_sent {
                c.last_info_sent = Some(now);
                ctx.emit(Action::Info { instance: c.id });
            }
        }
        let ping_due = since(now, c.link.last_pong_time) > self.ping_period
            && c.link
                .last_ping_time
                .is_none_or(|t| since(now, t) > self.ping_period / 2);
        if ping_due {
            send_ping(ctx, c, now);
        }
        if c.last_hello_sent
            .is_none_or(|sent| since(now, sent) > t.publish_period)
        {
            c.last_hello_sent = Some(now);
            ctx.emit(Action::PublishHello {
                instance: c.id,
                hello: self.hello.clone(),
            });
        }
    }
}

/// Sends a PING, remembering when the oldest unanswered one left.
pub(crate) fn send_ping(ctx: &mut Ctx, c: &mut Common, now: u64) {
    ctx.emit(Action::Ping { instance: c.id });
    c.link.last_ping_time = Some(now);
    if c.link.act_ping_time.is_none() {
        c.link.act_ping_time = Some(now);
    }
}

/// SDOWN check of a master: no valid reply for `down-after`, reporting
/// itself a replica for too long, or rebooted too long ago.
fn check_master_sdown(ctx: &mut Ctx, m: &mut Master, now: u64) {
    let down_after = m.conf.down_after_ms;
    let wrong_role = m.c.role_reported == Role::Replica
        && since(now, m.c.role_reported_time)
            > down_after.saturating_add(ctx.timings.info_period.saturating_mul(2));
    let rebooted = m
        .reboot_since
        .is_some_and(|t| since(now, t) > m.conf.master_reboot_down_after_ms);
    let script = m.conf.notification_script.as_deref();
    let extra = wrong_role || rebooted;
    check_sdown(ctx, &mut m.c, "master", "", down_after, extra, script, now);
}

/// How long the instance has been without a valid reply.
fn unavailable_for(c: &Common, now: u64) -> u64 {
    match c.link.act_ping_time {
        Some(t) => since(now, t),
        None if !c.link.connected => since(now, c.link.last_avail_time),
        None => 0,
    }
}

/// Sets or clears SDOWN with `+sdown` / `-sdown`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_sdown(
    ctx: &mut Ctx,
    c: &mut Common,
    kind: &str,
    tail: &str,
    down_after: u64,
    extra_down: bool,
    script: Option<&str>,
    now: u64,
) {
    let down = unavailable_for(c, now) > down_after || extra_down;
    if down && !c.s_down {
        c.s_down = true;
        c.s_down_since = Some(now);
        ctx.event(
            EventLevel::Warning,
            "+sdown",
            describe(kind, c, tail),
            script,
        );
    } else if !down && c.s_down {
        c.s_down = false;
        c.script_kill_sent = false;
        ctx.event(
            EventLevel::Warning,
            "-sdown",
            describe(kind, c, tail),
            script,
        );
    }
}

/// ODOWN: SDOWN here and reported down by enough sentinels (self
/// included) to reach the quorum.
fn check_odown(ctx: &mut Ctx, m: &mut Master, now: u64) {
    let mut votes: u32 = 0;
    if m.c.s_down {
        votes = 1;
        for p in &m.sentinels {
            if p.master_down {
                votes = votes.saturating_add(1);
            }
        }
    }
    let odown = m.c.s_down && votes >= m.conf.quorum;
    let script = m.conf.notification_script.clone();
    if odown && !m.o_down {
        m.o_down = true;
        m.o_down_since = Some(now);
        let text = format!("{} #quorum {}/{}", m.describe(), votes, m.conf.quorum);
        ctx.event(EventLevel::Warning, "+odown", text, script.as_deref());
    } else if !odown && m.o_down {
        m.o_down = false;
        ctx.event(
            EventLevel::Warning,
            "-odown",
            m.describe(),
            script.as_deref(),
        );
    }
}

/// Asks the other sentinels whether they see the master down (and, during
/// a failover, for their vote). Stale answers are forgotten first.
pub(crate) fn ask_master_state(ctx: &mut Ctx, m: &mut Master, forced: bool, now: u64) {
    let run_id = if m.in_failover() {
        ctx.myid.clone()
    } else {
        "*".to_string()
    };
    let ask_period = ctx.timings.ask_period;
    for p in &mut m.sentinels {
        let stale = p
            .last_master_down_reply
            .is_none_or(|t| since(now, t) > ask_period.saturating_mul(5));
        if stale {
            p.master_down = false;
            p.leader = None;
        }
        if !m.c.s_down || !p.c.link.connected {
            continue;
        }
        let recent = |t: Option<u64>| t.is_some_and(|t| since(now, t) < ask_period);
        if !forced && (recent(p.last_master_down_reply) || recent(p.last_ask_sent)) {
            continue;
        }
        p.last_ask_sent = Some(now);
        ctx.emit(Action::AskIsMasterDown {
            sentinel: p.c.id,
            master_addr: m.c.addr.clone(),
            current_epoch: ctx.current_epoch,
            run_id: run_id.clone(),
        });
    }
}
