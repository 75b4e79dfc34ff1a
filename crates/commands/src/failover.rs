//! `FAILOVER`: a coordinated switchover from this primary to one of its
//! replicas (upstream 7.0 semantics). Writes are paused, the target is
//! waited for until it has acknowledged the whole stream, then this server
//! becomes a replica of the target and asks it, with `PSYNC … FAILOVER`, to
//! promote itself; the target answers `+CONTINUE`, so nothing resyncs.

use bytes::Bytes;

use crate::args::{self, is};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::replication::LinkState;
use crate::state::State;

/// A failover in progress on the primary.
#[derive(Clone, Debug)]
pub struct Failover {
    pub host: String,
    pub port: u16,
    /// Unix ms after which the failover aborts (or is forced), if any.
    pub deadline: Option<i64>,
    pub force: bool,
    /// Offset the target must acknowledge.
    pub offset: i64,
}

/// The `master_failover_state` word of `INFO replication`.
pub fn state_name(st: &State) -> &'static str {
    if st.failover.is_some() {
        "waiting-for-sync"
    } else if st.master.as_ref().is_some_and(|m| m.failover) {
        "failover-in-progress"
    } else {
        "no-failover"
    }
}

/// # Format
/// `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]`
pub fn failover(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut to, mut force, mut abort, mut timeout) = (None, false, false, None);
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "to") && i + 2 < argv.len() && to.is_none() {
            let port = args::int(&argv[i + 2])?;
            to = Some((String::from_utf8_lossy(&argv[i + 1]).into_owned(), port));
            i += 3;
        } else if is(a, "force") && !force {
            force = true;
            i += 1;
        } else if is(a, "abort") && !abort {
            abort = true;
            i += 1;
        } else if is(a, "timeout") && i + 1 < argv.len() && timeout.is_none() {
            let t = args::int(&argv[i + 1])?;
            if t <= 0 {
                return Err(CmdError::fixed(
                    "ERR FAILOVER timeout must be greater than 0",
                ));
            }
            timeout = Some(t);
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    if abort {
        if to.is_some() || force || timeout.is_some() {
            return Err(CmdError::fixed(
                "ERR FAILOVER abort is not valid with other arguments.",
            ));
        }
        if ctx.st.failover.take().is_none() {
            return Err(CmdError::fixed("ERR No failover in progress."));
        }
        ctx.st.pause = None;
        ctx.st.log_notice("FAILOVER aborted by user.");
        ctx.ok();
        return Ok(());
    }
    if ctx.st.master.is_some() {
        return Err(CmdError::fixed(
            "ERR FAILOVER is not valid when server is a replica.",
        ));
    }
    if ctx
        .st
        .repl
        .replicas
        .iter()
        .all(|r| r.state != LinkState::Online)
    {
        return Err(CmdError::fixed("ERR FAILOVER requires connected replicas."));
    }
    if ctx.st.failover.is_some() {
        return Err(CmdError::fixed("ERR FAILOVER already in progress."));
    }
    if force && (timeout.is_none() || to.is_none()) {
        return Err(CmdError::fixed(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    let target = match to {
        Some((host, port)) => {
            let found = ctx.st.repl.replicas.iter().any(|r| {
                r.state == LinkState::Online && i64::from(r.listening_port) == port && r.ip == host
            });
            if !found {
                return Err(CmdError::fixed(
                    "ERR FAILOVER target HOST and PORT is not a replica.",
                ));
            }
            (host, port as u16)
        }
        None => {
            // The replica with the highest acknowledged offset.
            let Some(best) = ctx
                .st
                .repl
                .replicas
                .iter()
                .filter(|r| r.state == LinkState::Online)
                .max_by_key(|r| r.ack_offset)
            else {
                return Err(CmdError::fixed("ERR FAILOVER requires connected replicas."));
            };
            (best.ip.clone(), best.listening_port)
        }
    };
    let now = ctx.now;
    ctx.st.failover = Some(Failover {
        host: target.0.clone(),
        port: target.1,
        deadline: timeout.map(|t| now + t),
        force,
        offset: ctx.st.repl.master_repl_offset,
    });
    // Writes stop while the target catches up (upstream pauses them too).
    ctx.st.pause = Some((i64::MAX, true));
    ctx.st.request_acks();
    ctx.st
        .log_notice(&format!("FAILOVER requested to {}:{}.", target.0, target.1));
    ctx.ok();
    Ok(())
}

impl State {
    /// Drives a failover from cron: once the target acknowledged the whole
    /// stream (or the timeout passed with FORCE), demote to its replica.
    pub fn failover_cron(&mut self, now: i64) {
        let Some(f) = self.failover.clone() else {
            return;
        };
        // Writes are paused, so the stream only grows by GETACKs: the
        // target is in sync once it acknowledged the offset of the request.
        let caught_up = self
            .repl
            .replicas
            .iter()
            .any(|r| r.ip == f.host && r.listening_port == f.port && r.ack_offset >= f.offset);
        if !caught_up {
            self.request_acks();
        }
        let timed_out = f.deadline.is_some_and(|d| now >= d);
        let forced = timed_out && f.force;
        if !caught_up && !forced {
            if timed_out {
                self.failover = None;
                self.pause = None;
                self.log_warning("FAILOVER to the target timed out, aborting.");
            }
            return;
        }
        self.failover = None;
        self.log_notice(&format!(
            "Failover target {}:{} is synced, failing over.",
            f.host, f.port
        ));
        self.become_replica(f.host, f.port, now);
        if let Some(m) = self.master.as_mut() {
            m.failover = true;
        }
        self.pause = None;
    }
}
