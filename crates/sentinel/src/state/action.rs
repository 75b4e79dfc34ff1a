//! What the state machine asks its driver to do: the [`Action`]s, and the
//! [`Event`]s it reports (published on the event's channel, logged, and
//! handed to the notification script when they are warnings).

use crate::config::Addr;
use crate::hello::Hello;

/// Stable handle of a monitored instance. Never reused: a reply for an
/// instance that no longer exists is simply ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u64);

/// The three kinds of instances a sentinel talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceKind {
    /// A monitored master.
    Master,
    /// A replica of a monitored master.
    Replica,
    /// Another sentinel monitoring the same master.
    Sentinel,
}

impl InstanceKind {
    /// The word upstream uses in event messages.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceKind::Master => "master",
            InstanceKind::Replica => "slave",
            InstanceKind::Sentinel => "sentinel",
        }
    }
}

/// Log level of an event, as upstream's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventLevel {
    /// Debug: logged only, never published.
    Debug,
    /// Verbose.
    Verbose,
    /// Notice.
    Notice,
    /// Warning: also runs the master's notification script.
    Warning,
}

/// A sentinel event such as `+sdown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Log level.
    pub level: EventLevel,
    /// Event name, also the Pub/Sub channel (`+sdown`).
    pub name: String,
    /// The message (`master mymaster 127.0.0.1 6379`).
    pub text: String,
}

/// Something for the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open the command link (and, for masters and replicas, the Pub/Sub
    /// link subscribed to the hello channel); report with
    /// `on_connected` / `on_disconnected`.
    Connect {
        /// The instance.
        instance: InstanceId,
        /// Its kind.
        kind: InstanceKind,
        /// Where to connect.
        addr: Addr,
        /// The master it belongs to (for auth and renamed commands).
        master: String,
    },
    /// Close the links of an instance that was removed or reset.
    Disconnect {
        /// The instance.
        instance: InstanceId,
    },
    /// Send `PING`; report the reply with `on_ping_reply`.
    Ping {
        /// The instance.
        instance: InstanceId,
    },
    /// Send `INFO`; report the parsed reply with `on_info_reply`.
    Info {
        /// The instance.
        instance: InstanceId,
    },
    /// `PUBLISH __sentinel__:hello <payload>` on the instance.
    PublishHello {
        /// The instance.
        instance: InstanceId,
        /// The message; see [`Hello::payload`] for the empty IP case.
        hello: Hello,
    },
    /// `SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port> <epoch> <runid>` to a
    /// sentinel; report with `on_is_master_down_reply`.
    AskIsMasterDown {
        /// The sentinel to ask.
        sentinel: InstanceId,
        /// The master's address.
        master_addr: Addr,
        /// Our current epoch.
        current_epoch: u64,
        /// Our id when asking for a vote, `*` otherwise.
        run_id: String,
    },
    /// Turn a replica into a master: `MULTI`, `REPLICAOF NO ONE`,
    /// `CONFIG REWRITE`, `CLIENT KILL TYPE normal`, `CLIENT KILL TYPE
    /// pubsub`, `EXEC`.
    Promote {
        /// The replica.
        instance: InstanceId,
    },
    /// Same transaction as [`Action::Promote`] with `REPLICAOF host port`.
    SendReplicaOf {
        /// The instance to reconfigure.
        instance: InstanceId,
        /// Its new master.
        addr: Addr,
    },
    /// `SCRIPT KILL` on an instance that replies BUSY.
    ScriptKill {
        /// The instance.
        instance: InstanceId,
    },
    /// Log and publish an event.
    Event(Event),
    /// Queue a notification or client-reconfig script run.
    RunScript {
        /// The script.
        path: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// The persistent state changed: rewrite sentinel.conf with
    /// `Sentinel::to_config`.
    SaveConfig,
    /// A line for the log only (never published, runs no script), such
    /// as the `SENTINEL SIMULATE-FAILURE` warnings.
    Log {
        /// Its level.
        level: EventLevel,
        /// The message.
        text: String,
    },
    /// A failure simulated with `SENTINEL SIMULATE-FAILURE` triggers: log
    /// `reason` at warning level and exit with status 99, doing none of
    /// the actions that follow.
    Crash {
        /// What to log.
        reason: String,
    },
}
