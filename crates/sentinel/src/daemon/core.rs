//! The daemon's shared state and the one place where the state machine's
//! [`Action`]s are carried out.
//!
//! [`Core`] sits behind one mutex: client sessions lock it to answer
//! commands, the driver task locks it to feed link reports and ticks.
//! Nothing in here awaits: actions become messages to link tasks, log
//! lines, pub/sub messages, queued scripts and a config rewrite, all
//! synchronous.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use redis_common::glob::string_match;
use redis_common::log::LogLevel;
use redis_common::logger;
use redis_net::ConnSignal;
use redis_resp::{Frame, Protocol};
use tokio::sync::mpsc::UnboundedSender;

use crate::config::SentinelConfig;
use crate::state::{Action, Event, EventLevel, InstanceId, InstanceKind, Sentinel};

use super::link::{self, LinkCmd, LinkParams, Report};
use super::scripts::Scripts;

/// A running link task.
pub struct LinkHandle {
    /// Generation of the task: reports of older tasks are ignored.
    pub gen: u64,
    /// Requests to the task.
    pub tx: UnboundedSender<LinkCmd>,
}

/// One connected client, as `CLIENT LIST` and pub/sub see it.
pub struct ClientEntry {
    /// How to reach the connection (kill, pushed messages).
    pub signal: Arc<ConnSignal>,
    /// `ip:port` of the peer.
    pub addr: String,
    /// The local end.
    pub laddr: String,
    /// Descriptor number shown by `CLIENT LIST`.
    pub fd: i64,
    /// `CLIENT SETNAME`.
    pub name: String,
    /// Unix ms of the connection.
    pub created_ms: i64,
    /// Unix ms of the last command.
    pub last_cmd_ms: i64,
    /// The last command's name (`client|list`).
    pub last_cmd: String,
    /// Speaks RESP3 (pushed messages are encoded for it).
    pub resp3: Arc<AtomicBool>,
    /// Subscribed channels.
    pub channels: Vec<String>,
    /// Subscribed patterns.
    pub patterns: Vec<String>,
}

/// Counters of `INFO stats`.
#[derive(Debug, Default)]
pub struct Stats {
    /// `total_connections_received`.
    pub connections: u64,
    /// `total_commands_processed`.
    pub commands: u64,
    /// `total_net_input_bytes`.
    pub net_input: u64,
    /// `total_net_output_bytes`.
    pub net_output: u64,
    /// `rejected_connections`.
    pub rejected: u64,
    /// `total_error_replies`.
    pub error_replies: u64,
    /// `total_reads_processed`.
    pub reads: u64,
    /// `total_writes_processed`.
    pub writes: u64,
}

/// Process facts shown by `INFO server`.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Unix ms at start.
    pub started_ms: i64,
    /// The process run id (40 hex digits, new at each start).
    pub run_id: String,
    /// Absolute path of the executable.
    pub executable: String,
    /// `supervised` as run (`no`, `systemd`, `upstart`).
    pub supervised: String,
    /// The listening port.
    pub port: u16,
}

/// Longest wait, in a user-requested failover, for the chosen replica to
/// reach the paused master's offset before it is promoted anyway.
pub const CATCH_UP_LIMIT: u64 = 5000;

/// A user-requested failover waiting for its replica to catch up with
/// the master, whose writes are paused (our addition to upstream, which
/// promotes at once and may lose the writes the replica had not received).
#[derive(Debug, Clone)]
pub struct CatchUp {
    /// The master's handle.
    pub master_id: InstanceId,
    /// The replica to promote.
    pub replica_id: InstanceId,
    /// Its address (the old master will replicate from it).
    pub replica_addr: crate::Addr,
    /// When the wait started.
    pub started: u64,
    /// The master's offset once paused (None until known).
    pub target: Option<u64>,
}

/// What made the daemon stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `SHUTDOWN` or a signal: exit 0.
    Shutdown,
    /// `SENTINEL SIMULATE-FAILURE`: exit 99 like upstream.
    Crash,
}

/// Everything the daemon knows.
pub struct Core {
    /// The state machine.
    pub s: Sentinel,
    /// The loaded configuration (global settings; the masters come from
    /// the state machine when saving).
    pub cfg: SentinelConfig,
    /// The file the configuration is saved to.
    pub config_path: PathBuf,
    /// Running link tasks.
    pub links: HashMap<InstanceId, LinkHandle>,
    /// Last INFO text of each master and replica (`SENTINEL INFO-CACHE`).
    pub info_cache: HashMap<InstanceId, String>,
    /// Connected clients by id.
    pub clients: BTreeMap<u64, ClientEntry>,
    /// Notification and reconfiguration scripts.
    pub scripts: Scripts,
    /// `INFO stats` counters.
    pub stats: Stats,
    /// Set when the daemon must stop.
    pub exit: Option<Exit>,
    /// `INFO server` facts.
    pub facts: Facts,
    /// Masters with a user-requested failover whose promotion has not
    /// been sent yet.
    pub manual_failovers: Vec<String>,
    /// Promotions held until the replica catches up.
    pub catch_ups: Vec<CatchUp>,
    /// Wakes the main task when `exit` is set.
    pub exit_notify: Arc<tokio::sync::Notify>,
    /// Where link tasks send their reports.
    reports: UnboundedSender<Report>,
    next_gen: u64,
    next_client_id: u64,
}

impl Core {
    /// A core around a fresh state machine.
    pub fn new(
        s: Sentinel,
        cfg: SentinelConfig,
        config_path: PathBuf,
        reports: UnboundedSender<Report>,
    ) -> Core {
        Core {
            s,
            cfg,
            config_path,
            links: HashMap::new(),
            info_cache: HashMap::new(),
            clients: BTreeMap::new(),
            scripts: Scripts::default(),
            stats: Stats::default(),
            exit: None,
            facts: Facts::default(),
            manual_failovers: Vec::new(),
            catch_ups: Vec::new(),
            exit_notify: Arc::new(tokio::sync::Notify::new()),
            reports,
            next_gen: 0,
            next_client_id: 0,
        }
    }

    /// A new client id (also used for link client names' uniqueness).
    pub fn new_client_id(&mut self) -> u64 {
        self.next_client_id += 1;
        self.next_client_id
    }

    /// Asks the daemon to stop.
    pub fn request_exit(&mut self, why: Exit) {
        if self.exit.is_none() {
            self.exit = Some(why);
        }
        self.exit_notify.notify_one();
    }

    /// Carries out what the state machine asked for.
    pub fn apply(&mut self, actions: Vec<Action>) {
        for a in actions {
            if self.exit == Some(Exit::Crash) {
                // Nothing runs after a simulated crash.
                return;
            }
            self.apply_one(a);
        }
    }

    fn apply_one(&mut self, a: Action) {
        match a {
            Action::Connect {
                instance,
                kind,
                addr,
                master,
            } => self.connect(instance, kind, addr, &master),
            Action::Disconnect { instance } => {
                if let Some(h) = self.links.remove(&instance) {
                    let _ = h.tx.send(LinkCmd::Close);
                }
                self.info_cache.remove(&instance);
            }
            Action::Ping { instance } => self.send(instance, LinkCmd::Ping),
            Action::Info { instance } => self.send(instance, LinkCmd::Info),
            Action::PublishHello { instance, hello } => {
                self.send(instance, LinkCmd::Hello(hello));
            }
            Action::AskIsMasterDown {
                sentinel,
                master_addr,
                current_epoch,
                run_id,
            } => self.send(
                sentinel,
                LinkCmd::AskIsMasterDown {
                    addr: master_addr,
                    epoch: current_epoch,
                    run_id,
                },
            ),
            Action::Promote { instance } => {
                if !self.hold_promotion(instance) {
                    self.send(instance, LinkCmd::ReplicaOf(None));
                }
            }
            Action::SendReplicaOf { instance, addr } => {
                self.send(instance, LinkCmd::ReplicaOf(Some(addr)));
            }
            Action::ScriptKill { instance } => self.send(instance, LinkCmd::ScriptKill),
            Action::Event(e) => self.event(&e),
            Action::RunScript { path, args } => self.scripts.queue(path, args),
            Action::SaveConfig => self.save_config(),
            Action::Log { level, text } => logger::log(log_level(level), &text),
            Action::Crash { reason } => {
                logger::warning(&reason);
                self.request_exit(Exit::Crash);
            }
        }
    }

    /// In a user-requested failover with the old master reachable, pauses
    /// its writes and holds the promotion of `replica` until it has
    /// received everything the master acknowledged (see [`CatchUp`]).
    fn hold_promotion(&mut self, replica: InstanceId) -> bool {
        let Some(view) = self.s.instance(replica) else {
            return false;
        };
        let Some(pos) = self.manual_failovers.iter().position(|m| *m == view.master) else {
            return false;
        };
        self.manual_failovers.remove(pos);
        let Some(master) = self
            .s
            .master_id(&view.master)
            .and_then(|id| self.s.instance(id))
        else {
            return false;
        };
        if !master.connected || master.s_down || !self.links.contains_key(&master.id) {
            return false;
        }
        logger::notice(&format!(
            "Pausing writes on master {} {} {} until replica {} catches up",
            master.name, master.addr.host, master.addr.port, view.name
        ));
        self.send(
            master.id,
            LinkCmd::PauseWrites {
                ms: CATCH_UP_LIMIT + 2000,
            },
        );
        self.catch_ups.push(CatchUp {
            master_id: master.id,
            replica_id: replica,
            replica_addr: view.addr,
            started: u64::try_from(redis_common::time::now_ms()).unwrap_or(0),
            target: None,
        });
        true
    }

    /// The paused master's offset arrived.
    pub fn master_offset(&mut self, master: InstanceId, offset: Option<u64>) {
        let Some(i) = self.catch_ups.iter().position(|c| c.master_id == master) else {
            return;
        };
        match offset {
            Some(o) => {
                self.catch_ups[i].target = Some(o);
                let r = self.catch_ups[i].replica_id;
                self.send(r, LinkCmd::QueryOffset);
            }
            None => self.release(i, "the master's offset is unreadable"),
        }
    }

    /// A replica's offset arrived.
    pub fn replica_offset(&mut self, replica: InstanceId, offset: Option<u64>) {
        let Some(i) = self.catch_ups.iter().position(|c| c.replica_id == replica) else {
            return;
        };
        match (offset, self.catch_ups[i].target) {
            (Some(o), Some(t)) if o >= t => self.release(i, ""),
            (None, _) => self.release(i, "the replica's offset is unreadable"),
            _ => self.send(replica, LinkCmd::QueryOffset),
        }
    }

    /// Periodic check of held promotions: timeouts and lost links.
    pub fn check_catch_ups(&mut self, now: u64) {
        // A user failover aborted before its promotion leaves nothing held.
        let s = &self.s;
        self.manual_failovers.retain(|m| {
            s.failover_state(m)
                .is_some_and(|f| f != crate::state::FailoverState::None)
        });
        let mut i = 0;
        while i < self.catch_ups.len() {
            let c = &self.catch_ups[i];
            let lost =
                !self.links.contains_key(&c.master_id) || !self.links.contains_key(&c.replica_id);
            if lost {
                self.release(i, "a link was lost");
            } else if now.saturating_sub(c.started) > CATCH_UP_LIMIT {
                self.release(i, "timeout");
            } else {
                i += 1;
            }
        }
    }

    /// Sends the held promotion, then points the old master at the new
    /// one and lifts the pause: writes held by the pause now get
    /// `-READONLY` instead of landing on a master about to be demoted.
    fn release(&mut self, i: usize, why: &str) {
        let c = self.catch_ups.remove(i);
        if why.is_empty() {
            logger::notice("Replica caught up with the paused master: promoting it");
        } else {
            logger::warning(&format!("Promoting the replica without catch-up: {why}"));
        }
        self.send(c.replica_id, LinkCmd::ReplicaOf(None));
        self.send(c.master_id, LinkCmd::ReplicaOf(Some(c.replica_addr)));
        self.send(c.master_id, LinkCmd::Unpause);
    }

    fn send(&mut self, id: InstanceId, cmd: LinkCmd) {
        if let Some(h) = self.links.get(&id) {
            let _ = h.tx.send(cmd);
        }
    }

    fn connect(&mut self, id: InstanceId, kind: InstanceKind, addr: crate::Addr, master: &str) {
        if self.links.contains_key(&id) {
            // A task is already connecting; it reports when it is done.
            return;
        }
        let Some(mconf) = self.s.master_config(master) else {
            return;
        };
        let auth = match kind {
            InstanceKind::Sentinel => self
                .cfg
                .sentinel_pass
                .clone()
                .map(|p| (self.cfg.sentinel_user.clone(), p)),
            _ => mconf
                .auth_pass
                .clone()
                .map(|p| (mconf.auth_user.clone(), p)),
        };
        let renames = match kind {
            InstanceKind::Sentinel => Vec::new(),
            _ => mconf.renamed_commands.clone(),
        };
        self.next_gen += 1;
        let myid = self.s.myid();
        let params = LinkParams {
            id,
            gen: self.next_gen,
            kind,
            addr,
            auth,
            renames,
            client_name: format!("sentinel-{}", myid.get(..8).unwrap_or(myid)),
            down_after_ms: mconf.down_after_ms,
            min_reconnect_ms: self.s.timings().min_link_reconnect_period,
            pubsub_silence_ms: self.s.timings().publish_period.saturating_mul(3),
            reports: self.reports.clone(),
        };
        let tx = link::spawn(params);
        self.links.insert(
            id,
            LinkHandle {
                gen: self.next_gen,
                tx,
            },
        );
    }

    /// Logs an event and publishes it on its channel, as upstream's
    /// `sentinelEvent` does (debug events are only logged).
    pub fn event(&mut self, e: &Event) {
        logger::log(log_level(e.level), &format!("{} {}", e.name, e.text));
        if e.level != EventLevel::Debug {
            self.publish(&e.name, e.text.as_bytes());
        }
    }

    /// Sends a message to the clients subscribed to `channel` (directly
    /// or by pattern); returns how many received it.
    pub fn publish(&mut self, channel: &str, msg: &[u8]) -> i64 {
        let mut n = 0;
        for c in self.clients.values() {
            let proto = if c.resp3.load(Ordering::Relaxed) {
                Protocol::Resp3
            } else {
                Protocol::Resp2
            };
            if c.channels.iter().any(|ch| ch == channel) {
                let f = Frame::Push(vec![
                    Frame::bulk("message"),
                    Frame::bulk(Bytes::copy_from_slice(channel.as_bytes())),
                    Frame::bulk(Bytes::copy_from_slice(msg)),
                ]);
                let _ = c.signal.push.send(encode(&f, proto));
                n += 1;
            }
            for p in &c.patterns {
                if string_match(p.as_bytes(), channel.as_bytes(), false) {
                    let f = Frame::Push(vec![
                        Frame::bulk("pmessage"),
                        Frame::bulk(Bytes::copy_from_slice(p.as_bytes())),
                        Frame::bulk(Bytes::copy_from_slice(channel.as_bytes())),
                        Frame::bulk(Bytes::copy_from_slice(msg)),
                    ]);
                    let _ = c.signal.push.send(encode(&f, proto));
                    n += 1;
                }
            }
        }
        n
    }

    /// A hello received from a link or published to us by a client.
    pub fn hello(&mut self, payload: &str, now: u64) {
        let actions = self.s.on_hello(payload, now);
        self.apply(actions);
    }

    /// Rewrites the configuration file with the current state, as
    /// upstream's `sentinelFlushConfig`: the original file's lines are
    /// kept, sentinel state lines replaced, written atomically.
    pub fn save_config(&mut self) {
        match self.try_save_config() {
            Ok(()) => logger::notice("Sentinel new configuration saved on disk"),
            Err(e) => logger::warning(&format!(
                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {}",
                redis_common::os::strerror(&e)
            )),
        }
    }

    /// [`Core::save_config`] reporting the error.
    pub fn try_save_config(&mut self) -> std::io::Result<()> {
        let original = match std::fs::read_to_string(&self.config_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let state = self.s.to_config(&self.cfg);
        let text = crate::rewrite(&original, &state);
        crate::write_atomically(&self.config_path, &text)
    }
}

fn log_level(l: EventLevel) -> LogLevel {
    match l {
        EventLevel::Debug => LogLevel::Debug,
        EventLevel::Verbose => LogLevel::Verbose,
        EventLevel::Notice => LogLevel::Notice,
        EventLevel::Warning => LogLevel::Warning,
    }
}

/// Encodes a frame for a client speaking `proto`.
pub fn encode(f: &Frame, proto: Protocol) -> Bytes {
    let mut out = BytesMut::new();
    f.encode(proto, &mut out);
    out.freeze()
}
