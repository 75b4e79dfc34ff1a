//! The monitored instances: masters, their replicas and the other
//! sentinels, with their links and timers.

use crate::config::{Addr, MasterConfig};
use crate::info::Role;

use super::action::InstanceId;

/// The state of the command link to an instance.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub connected: bool,
    /// Time of the oldest PING still without a valid reply.
    pub act_ping_time: Option<u64>,
    pub last_ping_time: Option<u64>,
    pub last_pong_time: u64,
    /// Last valid PING reply.
    pub last_avail_time: u64,
    pub last_connect_attempt: Option<u64>,
}

impl Link {
    pub fn new(now: u64) -> Link {
        Link {
            connected: false,
            act_ping_time: Some(now),
            last_ping_time: None,
            last_pong_time: now,
            last_avail_time: now,
            last_connect_attempt: None,
        }
    }
}

/// What every kind of instance has.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    pub id: InstanceId,
    /// Master name, `ip:port` for replicas, run id for sentinels.
    pub name: String,
    pub addr: Addr,
    pub run_id: Option<String>,
    pub link: Link,
    pub s_down: bool,
    pub s_down_since: Option<u64>,
    pub info_refresh: Option<u64>,
    pub last_info_sent: Option<u64>,
    pub last_hello_sent: Option<u64>,
    pub role_reported: Role,
    pub role_reported_time: u64,
    pub script_kill_sent: bool,
}

impl Common {
    pub fn new(id: InstanceId, name: String, addr: Addr, role: Role, now: u64) -> Common {
        Common {
            id,
            name,
            addr,
            run_id: None,
            link: Link::new(now),
            s_down: false,
            s_down_since: None,
            info_refresh: None,
            last_info_sent: None,
            last_hello_sent: None,
            role_reported: role,
            role_reported_time: now,
            script_kill_sent: false,
        }
    }
}

/// Where a replica is in the reconfiguration phase of a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reconf {
    None,
    Sent,
    InProgress,
    Done,
}

/// A replica of a monitored master.
#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pub c: Common,
    pub master_link_down_ms: u64,
    pub priority: u32,
    pub repl_offset: u64,
    pub master_host: Option<String>,
    pub master_port: u16,
    pub master_link_up: bool,
    pub conf_change_time: u64,
    pub reconf: Reconf,
    pub reconf_sent_time: u64,
    pub promoted: bool,
    /// `replica_announced` from its INFO (upstream's default: announced);
    /// unannounced replicas are left out of `SENTINEL REPLICAS`.
    pub replica_announced: bool,
}

impl Replica {
    pub fn new(id: InstanceId, addr: Addr, now: u64) -> Replica {
        Replica {
            c: Common::new(id, addr.to_string(), addr, Role::Replica, now),
            master_link_down_ms: 0,
            priority: 100,
            repl_offset: 0,
            master_host: None,
            master_port: 0,
            master_link_up: false,
            conf_change_time: now,
            reconf: Reconf::None,
            reconf_sent_time: 0,
            promoted: false,
            replica_announced: true,
        }
    }
}

/// Another sentinel monitoring the same master.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub c: Common,
    /// It said the master is down in its last fresh reply.
    pub master_down: bool,
    pub last_master_down_reply: Option<u64>,
    pub last_ask_sent: Option<u64>,
    /// Its vote, and the epoch of that vote.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    /// Last hello heard from it; upstream starts it at creation time.
    pub last_hello_time: Option<u64>,
    /// When we last warned that it monitors the master at another
    /// address with the same configuration epoch.
    pub mismatch_warned: Option<u64>,
}

impl Peer {
    pub fn new(id: InstanceId, run_id: &str, addr: Addr, now: u64) -> Peer {
        let mut c = Common::new(id, run_id.to_string(), addr, Role::Master, now);
        c.run_id = Some(run_id.to_string());
        Peer {
            c,
            master_down: false,
            last_master_down_reply: None,
            last_ask_sent: None,
            leader: None,
            leader_epoch: 0,
            last_hello_time: Some(now),
            mismatch_warned: None,
        }
    }
}

/// The failover states of upstream, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverState {
    /// No failover in progress.
    None,
    /// Waiting to be elected leader.
    WaitStart,
    /// Choosing the replica to promote.
    SelectSlave,
    /// Sending `REPLICAOF NO ONE` to it.
    SendSlaveofNoone,
    /// Waiting for INFO to show it as a master.
    WaitPromotion,
    /// Pointing the other replicas at it.
    ReconfSlaves,
    /// Done: switch the master address.
    UpdateConfig,
}

impl FailoverState {
    /// Upstream's name for `SENTINEL MASTERS` output.
    pub fn as_str(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// A monitored master.
#[derive(Debug, Clone)]
pub(crate) struct Master {
    pub c: Common,
    /// Settings (quorum, timings, scripts, auth). Its address, epochs and
    /// known instances are not used at runtime: the live fields below and
    /// `replicas` / `sentinels` are.
    pub conf: MasterConfig,
    pub o_down: bool,
    pub o_down_since: Option<u64>,
    pub config_epoch: u64,
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover_state: FailoverState,
    pub failover_epoch: u64,
    pub failover_state_change_time: u64,
    pub failover_start_time: Option<u64>,
    pub force_failover: bool,
    pub promoted: Option<InstanceId>,
    pub reboot_since: Option<u64>,
    pub replicas: Vec<Replica>,
    pub sentinels: Vec<Peer>,
}

impl Master {
    pub fn in_failover(&self) -> bool {
        self.failover_state != FailoverState::None
    }

    pub fn promoted_replica(&self) -> Option<&Replica> {
        let id = self.promoted?;
        self.replicas.iter().find(|r| r.c.id == id)
    }

    /// The address clients should use: the promoted replica's once it
    /// has been promoted, else the master's.
    pub fn current_addr(&self) -> &Addr {
        if self.failover_state >= FailoverState::ReconfSlaves {
            if let Some(r) = self.promoted_replica() {
                return &r.c.addr;
            }
        }
        &self.c.addr
    }

    /// `master <name> <ip> <port>`.
    pub fn describe(&self) -> String {
        format!(
            "master {} {} {}",
            self.c.name, self.c.addr.host, self.c.addr.port
        )
    }

    /// ` @ <name> <ip> <port>`, appended to a replica's or sentinel's
    /// description.
    pub fn tail(&self) -> String {
        format!(
            " @ {} {} {}",
            self.c.name, self.c.addr.host, self.c.addr.port
        )
    }
}

/// `<kind> <name> <ip> <port><tail>`.
pub(crate) fn describe(kind: &str, c: &Common, tail: &str) -> String {
    format!("{kind} {} {} {}{tail}", c.name, c.addr.host, c.addr.port)
}
