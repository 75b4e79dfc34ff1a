//! Changes asked for by an administrator through the state-changing
//! `SENTINEL` subcommands: monitoring a new master, forgetting one,
//! resetting masters, saving the configuration and dropping links whose
//! credentials changed. Argument checks and replies live in
//! [`crate::admin`].

use redis_common::glob::string_match;

use crate::config::MasterConfig;
use crate::info::Role;

use super::action::{Action, EventLevel};
use super::instance::{Common, FailoverState, Master};
use super::{new_master, Ctx, Sentinel};

/// Closes the links of an instance; a later tick reconnects it.
pub(crate) fn drop_link(ctx: &mut Ctx, c: &mut Common) {
    ctx.emit(Action::Disconnect { instance: c.id });
    c.link.connected = false;
}

/// Closes the links to a master and its replicas (upstream's
/// `dropInstanceConnections`), for new credentials or renamed commands.
pub(crate) fn drop_master_links(ctx: &mut Ctx, m: &mut Master) {
    drop_link(ctx, &mut m.c);
    for r in &mut m.replicas {
        drop_link(ctx, &mut r.c);
    }
}

/// Upstream's `sentinelResetMaster`: forgets replicas and sentinels,
/// clears the flags and the failover state, reconnects the master. The
/// address, settings and epochs are kept.
fn reset_master(ctx: &mut Ctx, m: &mut Master, now: u64) {
    for r in &m.replicas {
        ctx.emit(Action::Disconnect { instance: r.c.id });
    }
    for p in &m.sentinels {
        ctx.emit(Action::Disconnect { instance: p.c.id });
    }
    m.replicas.clear();
    m.sentinels.clear();
    drop_link(ctx, &mut m.c);
    let c = &mut m.c;
    c.link.act_ping_time = Some(now);
    c.link.last_ping_time = None;
    c.link.last_avail_time = now;
    c.link.last_pong_time = now;
    c.s_down = false;
    c.script_kill_sent = false;
    c.run_id = None;
    c.role_reported = Role::Master;
    c.role_reported_time = now;
    m.o_down = false;
    m.leader = None;
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = 0;
    m.failover_start_time = None;
    m.force_failover = false;
    m.promoted = None;
    m.reboot_since = None;
    let script = m.conf.notification_script.clone();
    ctx.event(
        EventLevel::Warning,
        "+reset-master",
        m.describe(),
        script.as_deref(),
    );
}

impl Sentinel {
    /// `SENTINEL MONITOR`: starts monitoring a new master with the
    /// settings of `conf` (its known replicas and sentinels are added
    /// too), reports `+monitor` and saves the configuration. `None` when
    /// a master with that name exists.
    pub fn add_master(&mut self, conf: MasterConfig, now: u64) -> Option<Vec<Action>> {
        if self.masters.iter().any(|m| m.c.name == conf.name) {
            return None;
        }
        let m = new_master(&mut self.ctx, &conf, now);
        // Upstream prints its unsigned quorum with `%d`.
        let text = format!("{} quorum {}", m.describe(), m.conf.quorum as i32);
        self.ctx.event(EventLevel::Warning, "+monitor", text, None);
        self.masters.push(m);
        self.ctx.flush_config();
        Some(self.ctx.take())
    }

    /// `SENTINEL REMOVE`: stops monitoring master `name` with `-monitor`,
    /// closes the links to it, its replicas and sentinels, and saves the
    /// configuration. `None` when there is no such master.
    pub fn remove_master(&mut self, name: &str) -> Option<Vec<Action>> {
        let mi = self.masters.iter().position(|m| m.c.name == name)?;
        let m = self.masters.remove(mi);
        let script = m.conf.notification_script.as_deref();
        self.ctx
            .event(EventLevel::Warning, "-monitor", m.describe(), script);
        self.ctx.emit(Action::Disconnect { instance: m.c.id });
        for r in &m.replicas {
            self.ctx.emit(Action::Disconnect { instance: r.c.id });
        }
        for p in &m.sentinels {
            self.ctx.emit(Action::Disconnect { instance: p.c.id });
        }
        self.ctx.flush_config();
        Some(self.ctx.take())
    }

    /// `SENTINEL RESET <pattern>`: resets every master whose name matches
    /// the glob `pattern` (case-sensitive) with `+reset-master`, and
    /// saves the configuration. Returns how many were reset.
    pub fn reset_masters(&mut self, pattern: &str, now: u64) -> (usize, Vec<Action>) {
        let mut count = 0;
        for m in &mut self.masters {
            if string_match(pattern.as_bytes(), m.c.name.as_bytes(), false) {
                reset_master(&mut self.ctx, m, now);
                count += 1;
            }
        }
        self.ctx.flush_config();
        (count, self.ctx.take())
    }

    /// `SENTINEL FLUSHCONFIG`: asks for the configuration to be saved.
    pub fn save_config(&mut self) -> Vec<Action> {
        self.ctx.flush_config();
        self.ctx.take()
    }

    /// Closes the links to every other sentinel (new `sentinel-user` /
    /// `sentinel-pass`); later ticks reconnect them.
    pub fn drop_sentinel_links(&mut self) -> Vec<Action> {
        for m in &mut self.masters {
            for p in &mut m.sentinels {
                drop_link(&mut self.ctx, &mut p.c);
            }
        }
        self.ctx.take()
    }

    /// The shared state and master `name`, for the per-master settings
    /// of `SENTINEL SET`.
    pub(crate) fn master_parts(&mut self, name: &str) -> Option<(&mut Ctx, &mut Master)> {
        let m = self.masters.iter_mut().find(|m| m.c.name == name)?;
        Some((&mut self.ctx, m))
    }

    /// Pending actions (events, links to drop, a configuration save).
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        self.ctx.take()
    }

    /// Queues a log line.
    pub(crate) fn log(&mut self, level: EventLevel, text: &str) {
        self.ctx.emit(Action::Log {
            level,
            text: text.to_string(),
        });
    }
}
