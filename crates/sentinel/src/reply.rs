//! The replies of Sentinel's introspection commands (`SENTINEL MASTERS`,
//! `MASTER`, `REPLICAS`, `SENTINELS`, `GET-MASTER-ADDR-BY-NAME`, `MYID`,
//! `CKQUORUM`, `INFO-CACHE`, `PENDING-SCRIPTS`, `HELP`) and of `INFO`, built
//! from a [`Sentinel`] as RESP-neutral [`Reply`] trees. Pure functions: the
//! driver passes the current time and whatever it alone knows (cached INFO
//! texts, process facts for `INFO`).
//!
//! Field names, their order and the value texts follow Redis 7.0's
//! sentinel, since clients read the flat field lists by position.

use std::fmt::Write as _;

use crate::config::Addr;
use crate::info::Role;
use crate::state::instance::{Common, Master, Peer, Reconf, Replica};
use crate::state::{FailoverError, InstanceId, IsMasterDownReply, Sentinel};

/// A reply, independent of the protocol version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A status line, without the `+`.
    Status(String),
    /// An error line with its code (`ERR ...`), without the `-`.
    Error(String),
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(String),
    /// A null bulk string (`$-1` in RESP2).
    Null,
    /// A null array (`*-1` in RESP2).
    NullArray,
    /// An array.
    Array(Vec<Reply>),
    /// A map: a flat array of alternating keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
}

impl Reply {
    /// A bulk string.
    pub fn bulk(s: impl Into<String>) -> Reply {
        Reply::Bulk(s.into())
    }

    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Status("OK".to_string())
    }

    /// Encodes the reply in RESP2 (`resp3 == false`) or RESP3.
    pub fn to_resp(&self, resp3: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(resp3, &mut out);
        out
    }

    fn encode(&self, resp3: bool, out: &mut Vec<u8>) {
        match self {
            Reply::Status(s) => push_line(out, "+", s),
            Reply::Error(s) => push_line(out, "-", s),
            Reply::Int(n) => push_line(out, ":", &n.to_string()),
            Reply::Bulk(s) => {
                push_line(out, "$", &s.len().to_string());
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Null if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Null => out.extend_from_slice(b"$-1\r\n"),
            Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                push_line(out, "*", &items.len().to_string());
                for item in items {
                    item.encode(resp3, out);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    push_line(out, "%", &pairs.len().to_string());
                } else {
                    push_line(out, "*", &(pairs.len() * 2).to_string());
                }
                for (k, v) in pairs {
                    k.encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
        }
    }
}

fn push_line(out: &mut Vec<u8>, prefix: &str, text: &str) {
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

// ---------------------------------------------------------------------
// Errors and subcommand dispatch
// ---------------------------------------------------------------------

/// `ERR No such master with that name`.
pub fn no_such_master() -> Reply {
    Reply::Error("ERR No such master with that name".to_string())
}

/// `ERR unknown subcommand '<sub>'. Try SENTINEL HELP.` (7.0's text for
/// an unknown subcommand of a container command; `<sub>` is cut at 128
/// bytes as upstream's `%.128s`).
pub fn unknown_subcommand(sub: &str) -> Reply {
    let mut cut = sub.len().min(128);
    while !sub.is_char_boundary(cut) {
        cut -= 1;
    }
    let shown: String = sub[..cut]
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    Reply::Error(format!(
        "ERR unknown subcommand '{shown}'. Try SENTINEL HELP."
    ))
}

/// `ERR wrong number of arguments for '<full name>' command`, where the
/// full name is `sentinel` or `sentinel|<sub>` (lower case).
pub fn wrong_arity(full_name: &str) -> Reply {
    Reply::Error(format!(
        "ERR wrong number of arguments for '{full_name}' command"
    ))
}

/// The subcommands of `SENTINEL` in 7.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subcommand {
    /// `CKQUORUM <name>`.
    Ckquorum,
    /// `CONFIG GET|SET ...`.
    Config,
    /// `DEBUG [<param> <value> ...]`.
    Debug,
    /// `FAILOVER <name>`.
    Failover,
    /// `FLUSHCONFIG`.
    Flushconfig,
    /// `GET-MASTER-ADDR-BY-NAME <name>`.
    GetMasterAddrByName,
    /// `HELP`.
    Help,
    /// `INFO-CACHE <name> [<name> ...]`.
    InfoCache,
    /// `IS-MASTER-DOWN-BY-ADDR <ip> <port> <epoch> <runid>`.
    IsMasterDownByAddr,
    /// `MASTER <name>`.
    Master,
    /// `MASTERS`.
    Masters,
    /// `MONITOR <name> <ip> <port> <quorum>`.
    Monitor,
    /// `MYID`.
    Myid,
    /// `PENDING-SCRIPTS`.
    PendingScripts,
    /// `REMOVE <name>`.
    Remove,
    /// `REPLICAS <name>`.
    Replicas,
    /// `RESET <pattern>`.
    Reset,
    /// `SENTINELS <name>`.
    Sentinels,
    /// `SET <name> <option> <value> ...`.
    Set,
    /// `SIMULATE-FAILURE <flag> ...`.
    SimulateFailure,
    /// `SLAVES <name>` (alias of `REPLICAS`).
    Slaves,
}

/// Every subcommand with its lower-case name and its arity (counting
/// `SENTINEL` and the subcommand; negative = at least that many).
const SUBCOMMANDS: [(Subcommand, &str, i32); 21] = [
    (Subcommand::Ckquorum, "ckquorum", 3),
    (Subcommand::Config, "config", -3),
    (Subcommand::Debug, "debug", -2),
    (Subcommand::Failover, "failover", 3),
    (Subcommand::Flushconfig, "flushconfig", 2),
    (
        Subcommand::GetMasterAddrByName,
        "get-master-addr-by-name",
        3,
    ),
    (Subcommand::Help, "help", 2),
    (Subcommand::InfoCache, "info-cache", -3),
    (Subcommand::IsMasterDownByAddr, "is-master-down-by-addr", 6),
    (Subcommand::Master, "master", 3),
    (Subcommand::Masters, "masters", 2),
    (Subcommand::Monitor, "monitor", 6),
    (Subcommand::Myid, "myid", 2),
    (Subcommand::PendingScripts, "pending-scripts", 2),
    (Subcommand::Remove, "remove", 3),
    (Subcommand::Replicas, "replicas", 3),
    (Subcommand::Reset, "reset", 3),
    (Subcommand::Sentinels, "sentinels", 3),
    (Subcommand::Set, "set", -5),
    (Subcommand::SimulateFailure, "simulate-failure", -3),
    (Subcommand::Slaves, "slaves", 3),
];

impl Subcommand {
    /// Looks a subcommand up, case-insensitively.
    pub fn parse(name: &str) -> Option<Subcommand> {
        SUBCOMMANDS
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|(s, _, _)| *s)
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// 7.0's arity, counting `SENTINEL` and the subcommand.
    pub fn arity(self) -> i32 {
        self.entry().2
    }

    fn entry(self) -> (Subcommand, &'static str, i32) {
        SUBCOMMANDS
            .iter()
            .copied()
            .find(|(s, _, _)| *s == self)
            .unwrap_or((self, "", 0))
    }
}

/// Whether `argc` arguments satisfy `arity`.
fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    let arity = i64::from(arity);
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Resolves the subcommand of `SENTINEL <args...>` (`args` without the
/// `SENTINEL` itself) and checks its arity, with upstream's errors.
pub fn check_subcommand(args: &[&str]) -> Result<Subcommand, Reply> {
    let Some(first) = args.first() else {
        return Err(wrong_arity("sentinel"));
    };
    let sub = Subcommand::parse(first).ok_or_else(|| unknown_subcommand(first))?;
    if !arity_ok(sub.arity(), args.len() + 1) {
        return Err(wrong_arity(&format!("sentinel|{}", sub.name())));
    }
    Ok(sub)
}

/// Answers `SENTINEL <args...>` when it is a read-only introspection
/// subcommand (or an unknown / badly called one). `None` means a valid
/// call of a subcommand that changes state (`FAILOVER`, `RESET`, `SET`,
/// `MONITOR`, `REMOVE`, `CONFIG`, `DEBUG`, `FLUSHCONFIG`,
/// `IS-MASTER-DOWN-BY-ADDR`, `SIMULATE-FAILURE`), which the caller runs.
/// `cached_info` gives the last INFO text of an instance, for
/// `INFO-CACHE`.
pub fn introspect(
    s: &Sentinel,
    args: &[&str],
    now: u64,
    cached_info: &dyn Fn(InstanceId) -> Option<String>,
) -> Option<Reply> {
    let sub = match check_subcommand(args) {
        Ok(sub) => sub,
        Err(e) => return Some(e),
    };
    let arg = args.get(1).copied().unwrap_or_default();
    Some(match sub {
        Subcommand::Masters => masters(s, now),
        Subcommand::Master => master(s, arg, now),
        Subcommand::Replicas | Subcommand::Slaves => replicas(s, arg, now),
        Subcommand::Sentinels => sentinels(s, arg, now),
        Subcommand::GetMasterAddrByName => get_master_addr_by_name(s, arg),
        Subcommand::Myid => myid(s),
        Subcommand::Ckquorum => ckquorum(s, arg),
        Subcommand::InfoCache => info_cache(s, &args[1..], now, cached_info),
        Subcommand::PendingScripts => pending_scripts(),
        Subcommand::Help => help(),
        _ => return None,
    })
}

// ---------------------------------------------------------------------
// Instance field lists
// ---------------------------------------------------------------------

/// A field list under construction.
#[derive(Default)]
struct Fields(Vec<(Reply, Reply)>);

impl Fields {
    fn add(&mut self, name: &str, value: impl ToString) {
        self.0
            .push((Reply::bulk(name), Reply::Bulk(value.to_string())));
    }
}

/// Milliseconds since `t`, 0 when the clock went backwards.
fn ago(now: u64, t: u64) -> u64 {
    now.saturating_sub(t)
}

/// Milliseconds since `t`, 0 when never.
fn ago_or_zero(now: u64, t: Option<u64>) -> u64 {
    t.map_or(0, |t| ago(now, t))
}

/// The flag words in upstream's order.
#[derive(Default)]
struct Flags {
    s_down: bool,
    o_down: bool,
    kind: &'static str,
    disconnected: bool,
    master_down: bool,
    failover_in_progress: bool,
    promoted: bool,
    reconf: Option<Reconf>,
    force_failover: bool,
    script_kill_sent: bool,
    master_reboot: bool,
}

impl Flags {
    fn new(c: &Common, kind: &'static str) -> Flags {
        Flags {
            s_down: c.s_down,
            kind,
            disconnected: !c.link.connected,
            script_kill_sent: c.script_kill_sent,
            ..Flags::default()
        }
    }

    fn text(&self) -> String {
        let words = [
            (self.s_down, "s_down"),
            (self.o_down, "o_down"),
            (self.kind == "master", "master"),
            (self.kind == "slave", "slave"),
            (self.kind == "sentinel", "sentinel"),
            (self.disconnected, "disconnected"),
            (self.master_down, "master_down"),
            (self.failover_in_progress, "failover_in_progress"),
            (self.promoted, "promoted"),
            (self.reconf == Some(Reconf::Sent), "reconf_sent"),
            (self.reconf == Some(Reconf::InProgress), "reconf_inprog"),
            (self.reconf == Some(Reconf::Done), "reconf_done"),
            (self.force_failover, "force_failover"),
            (self.script_kill_sent, "script_kill_sent"),
            (self.master_reboot, "master_reboot"),
        ];
        words
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| *w)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The fields every kind of instance has, up to `down-after-milliseconds`,
/// then `info-refresh`, `role-reported`, `role-reported-time` for masters
/// and replicas.
struct CommonPart<'a> {
    c: &'a Common,
    flags: Flags,
    refcount: usize,
    failover_state: Option<&'static str>,
    o_down_since: Option<u64>,
    down_after: u64,
    with_role: bool,
}

impl CommonPart<'_> {
    fn write(&self, f: &mut Fields, now: u64) {
        let c = self.c;
        f.add("name", &c.name);
        f.add("ip", &c.addr.host);
        f.add("port", c.addr.port);
        f.add("runid", c.run_id.as_deref().unwrap_or(""));
        f.add("flags", self.flags.text());
        // Commands in flight are the driver's business; none is reported.
        f.add("link-pending-commands", 0);
        f.add("link-refcount", self.refcount);
        if let Some(state) = self.failover_state {
            f.add("failover-state", state);
        }
        f.add("last-ping-sent", ago_or_zero(now, c.link.act_ping_time));
        f.add("last-ok-ping-reply", ago(now, c.link.last_avail_time));
        f.add("last-ping-reply", ago(now, c.link.last_pong_time));
        if c.s_down {
            f.add("s-down-time", ago_or_zero(now, c.s_down_since));
        }
        if self.flags.o_down {
            f.add("o-down-time", ago_or_zero(now, self.o_down_since));
        }
        f.add("down-after-milliseconds", self.down_after);
        if self.with_role {
            f.add("info-refresh", ago_or_zero(now, c.info_refresh));
            let role = match c.role_reported {
                Role::Master => "master",
                Role::Replica => "slave",
            };
            f.add("role-reported", role);
            f.add("role-reported-time", ago(now, c.role_reported_time));
        }
    }
}

fn master_fields(m: &Master, now: u64) -> Reply {
    let mut flags = Flags::new(&m.c, "master");
    flags.o_down = m.o_down;
    flags.failover_in_progress = m.in_failover();
    flags.force_failover = m.force_failover;
    flags.master_reboot = m.reboot_since.is_some();
    let mut f = Fields::default();
    CommonPart {
        c: &m.c,
        flags,
        refcount: 1,
        failover_state: m.in_failover().then(|| m.failover_state.as_str()),
        o_down_since: m.o_down_since,
        down_after: m.conf.down_after_ms,
        with_role: true,
    }
    .write(&mut f, now);
    f.add("config-epoch", m.config_epoch);
    f.add("num-slaves", m.replicas.len());
    f.add("num-other-sentinels", m.sentinels.len());
    f.add("quorum", m.conf.quorum);
    f.add("failover-timeout", m.conf.failover_timeout_ms);
    f.add("parallel-syncs", m.conf.parallel_syncs);
    if let Some(script) = &m.conf.notification_script {
        f.add("notification-script", script);
    }
    if let Some(script) = &m.conf.client_reconfig_script {
        f.add("client-reconfig-script", script);
    }
    Reply::Map(f.0)
}

fn replica_fields(m: &Master, r: &Replica, now: u64) -> Reply {
    let mut flags = Flags::new(&r.c, "slave");
    flags.promoted = r.promoted;
    flags.reconf = Some(r.reconf);
    let mut f = Fields::default();
    CommonPart {
        c: &r.c,
        flags,
        refcount: 1,
        failover_state: None,
        o_down_since: None,
        down_after: m.conf.down_after_ms,
        with_role: true,
    }
    .write(&mut f, now);
    f.add("master-link-down-time", r.master_link_down_ms);
    f.add(
        "master-link-status",
        if r.master_link_up { "ok" } else { "err" },
    );
    f.add("master-host", r.master_host.as_deref().unwrap_or("?"));
    f.add("master-port", r.master_port);
    f.add("slave-priority", r.priority);
    f.add("slave-repl-offset", r.repl_offset);
    f.add("replica-announced", u8::from(r.replica_announced));
    Reply::Map(f.0)
}

/// Upstream shares one link between the entries of a sentinel (same id,
/// same address) under several masters: the refcount is their number.
fn peer_refcount(s: &Sentinel, p: &Peer) -> usize {
    s.masters_state()
        .iter()
        .flat_map(|m| &m.sentinels)
        .filter(|q| q.c.run_id == p.c.run_id && q.c.addr == p.c.addr)
        .count()
        .max(1)
}

fn sentinel_fields(s: &Sentinel, m: &Master, p: &Peer, now: u64) -> Reply {
    let mut flags = Flags::new(&p.c, "sentinel");
    flags.master_down = p.master_down;
    let mut f = Fields::default();
    CommonPart {
        c: &p.c,
        flags,
        refcount: peer_refcount(s, p),
        failover_state: None,
        o_down_since: None,
        down_after: m.conf.down_after_ms,
        with_role: false,
    }
    .write(&mut f, now);
    f.add("last-hello-message", ago_or_zero(now, p.last_hello_time));
    f.add("voted-leader", p.leader.as_deref().unwrap_or("?"));
    f.add("voted-leader-epoch", p.leader_epoch);
    Reply::Map(f.0)
}

/// The masters sorted by name (upstream's order is its hash table's).
fn masters_by_name(s: &Sentinel) -> Vec<&Master> {
    let mut all: Vec<&Master> = s.masters_state().iter().collect();
    all.sort_by(|a, b| a.c.name.cmp(&b.c.name));
    all
}

fn find_master<'a>(s: &'a Sentinel, name: &str) -> Option<&'a Master> {
    s.masters_state().iter().find(|m| m.c.name == name)
}

// ---------------------------------------------------------------------
// SENTINEL subcommands
// ---------------------------------------------------------------------

/// `SENTINEL MASTERS`: one field map per master, by name.
pub fn masters(s: &Sentinel, now: u64) -> Reply {
    Reply::Array(
        masters_by_name(s)
            .into_iter()
            .map(|m| master_fields(m, now))
            .collect(),
    )
}

/// `SENTINEL MASTER <name>`.
pub fn master(s: &Sentinel, name: &str, now: u64) -> Reply {
    find_master(s, name).map_or_else(no_such_master, |m| master_fields(m, now))
}

/// `SENTINEL REPLICAS <name>` (and `SLAVES`): the announced replicas.
pub fn replicas(s: &Sentinel, name: &str, now: u64) -> Reply {
    let Some(m) = find_master(s, name) else {
        return no_such_master();
    };
    Reply::Array(
        m.replicas
            .iter()
            .filter(|r| r.replica_announced)
            .map(|r| replica_fields(m, r, now))
            .collect(),
    )
}

/// `SENTINEL SENTINELS <name>`: the other sentinels of a master.
pub fn sentinels(s: &Sentinel, name: &str, now: u64) -> Reply {
    let Some(m) = find_master(s, name) else {
        return no_such_master();
    };
    Reply::Array(
        m.sentinels
            .iter()
            .map(|p| sentinel_fields(s, m, p, now))
            .collect(),
    )
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME <name>`: `[ip, port]` (the promoted
/// replica's once the failover reached the reconfiguration phase), or a
/// null array.
pub fn get_master_addr_by_name(s: &Sentinel, name: &str) -> Reply {
    match s.master_addr(name) {
        Some(Addr { host, port }) => {
            Reply::Array(vec![Reply::Bulk(host), Reply::Bulk(port.to_string())])
        }
        None => Reply::NullArray,
    }
}

/// `SENTINEL MYID`.
pub fn myid(s: &Sentinel) -> Reply {
    Reply::bulk(s.myid())
}

/// `SENTINEL CKQUORUM <name>`: whether the sentinels not seen down are
/// enough for the quorum and for a majority.
pub fn ckquorum(s: &Sentinel, name: &str) -> Reply {
    let Some(m) = find_master(s, name) else {
        return no_such_master();
    };
    let voters = m.sentinels.len() + 1;
    let usable = 1 + m.sentinels.iter().filter(|p| !p.c.s_down).count();
    let no_quorum = u64::from(m.conf.quorum) > usable as u64;
    let no_auth = usable < voters / 2 + 1;
    if !no_quorum && !no_auth {
        return Reply::Status(format!(
            "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
        ));
    }
    let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
    if no_quorum {
        e.push_str("Not enough available Sentinels to reach the specified quorum for this master");
    }
    if no_auth {
        if no_quorum {
            e.push_str(". ");
        }
        e.push_str("Not enough available Sentinels to reach the majority and authorize a failover");
    }
    Reply::Error(e)
}

/// `SENTINEL INFO-CACHE <name> ...`: for each named master (unknown names
/// skipped, duplicates once), its name then `[age-ms, info-or-null]` for
/// the master and each replica. No names means every master.
pub fn info_cache(
    s: &Sentinel,
    names: &[&str],
    now: u64,
    cached_info: &dyn Fn(InstanceId) -> Option<String>,
) -> Reply {
    let mut chosen: Vec<&Master> = Vec::new();
    if names.is_empty() {
        chosen = masters_by_name(s);
    } else {
        for name in names {
            if let Some(m) = find_master(s, name) {
                if !chosen.iter().any(|c| c.c.id == m.c.id) {
                    chosen.push(m);
                }
            }
        }
    }
    let entry = |c: &Common| {
        let age = ago_or_zero(now, c.info_refresh);
        Reply::Array(vec![
            Reply::Int(i64::try_from(age).unwrap_or(i64::MAX)),
            cached_info(c.id).map_or(Reply::Null, Reply::Bulk),
        ])
    };
    let mut out = Vec::with_capacity(chosen.len() * 2);
    for m in chosen {
        out.push(Reply::bulk(m.c.name.as_str()));
        let mut list = vec![entry(&m.c)];
        list.extend(m.replicas.iter().map(|r| entry(&r.c)));
        out.push(Reply::Array(list));
    }
    Reply::Array(out)
}

/// `SENTINEL PENDING-SCRIPTS`: the script queue lives in the driver, so
/// the state machine reports none.
pub fn pending_scripts() -> Reply {
    Reply::Array(Vec::new())
}

/// The lines of `SENTINEL HELP` between upstream's standard header and
/// its closing `HELP` entry.
const HELP_LINES: &[&str] = &[
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
];

/// `SENTINEL HELP`: status lines, framed like every 7.0 `HELP` reply.
pub fn help() -> Reply {
    let mut lines =
        vec!["SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".to_string()];
    lines.extend(HELP_LINES.iter().map(|l| l.to_string()));
    lines.push("HELP".to_string());
    lines.push("    Prints this help.".to_string());
    Reply::Array(lines.into_iter().map(Reply::Status).collect())
}

/// The reply to `SENTINEL IS-MASTER-DOWN-BY-ADDR`:
/// `[down, leader, leader-epoch]` with integers around the bulk leader.
pub fn is_master_down_by_addr(r: &IsMasterDownReply) -> Reply {
    Reply::Array(vec![
        Reply::Int(i64::from(r.down)),
        Reply::bulk(r.leader.as_str()),
        Reply::Int(i64::try_from(r.leader_epoch).unwrap_or(i64::MAX)),
    ])
}

/// The reply to `SENTINEL FAILOVER`: `+OK` or the refusal.
pub fn failover<T>(result: &Result<T, FailoverError>) -> Reply {
    match result {
        Ok(_) => Reply::ok(),
        Err(e) => Reply::Error(e.to_string()),
    }
}

// ---------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------

/// The process facts of `# Server`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerInfo {
    /// `redis_version`.
    pub version: String,
    /// `os` (`Linux 6.1.0 x86_64`).
    pub os: String,
    /// `process_id`.
    pub process_id: u32,
    /// `process_supervised` (`no`, `upstart`, `systemd`).
    pub process_supervised: String,
    /// `run_id`: upstream shows the process run id here, not the
    /// sentinel id; pass [`Sentinel::myid`] to show that instead.
    pub run_id: String,
    /// `tcp_port`.
    pub tcp_port: u16,
    /// `server_time_usec`.
    pub server_time_usec: u64,
    /// `uptime_in_seconds` (`uptime_in_days` is derived).
    pub uptime_in_seconds: u64,
    /// `hz`.
    pub hz: u32,
    /// `configured_hz`.
    pub configured_hz: u32,
    /// `lru_clock`.
    pub lru_clock: u32,
    /// `executable`.
    pub executable: String,
    /// `config_file`.
    pub config_file: String,
}

/// The figures of `# Clients`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientsInfo {
    /// `connected_clients`.
    pub connected_clients: u64,
    /// `maxclients`.
    pub maxclients: u64,
    /// `client_recent_max_input_buffer`.
    pub client_recent_max_input_buffer: u64,
    /// `client_recent_max_output_buffer`.
    pub client_recent_max_output_buffer: u64,
    /// `blocked_clients`.
    pub blocked_clients: u64,
    /// `clients_in_timeout_table`.
    pub clients_in_timeout_table: u64,
}

/// Everything `INFO` needs besides the state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoParams {
    /// `# Server`.
    pub server: ServerInfo,
    /// `# Clients`.
    pub clients: ClientsInfo,
    /// The body of `# CPU` (its `key:value\r\n` lines), if shown.
    pub cpu: Option<String>,
    /// The body of `# Stats`, if shown.
    pub stats: Option<String>,
    /// `sentinel_running_scripts`.
    pub running_scripts: u64,
    /// `sentinel_scripts_queue_length`.
    pub scripts_queue_length: u64,
    /// `sentinel_simulate_failure_flags`: ORed with
    /// [`Sentinel::simulate_failure_flags`], so 0 shows the state
    /// machine's flags.
    pub simulate_failure_flags: u64,
}

/// The sections a sentinel's `INFO` knows, in output order.
const INFO_SECTIONS: [&str; 5] = ["server", "clients", "stats", "cpu", "sentinel"];

/// `INFO [section ...]` of a sentinel. No argument, `default`, `all` and
/// `everything` give every section; unknown names add nothing. Sections
/// are separated by an empty line; every line ends with `\r\n`.
pub fn info(s: &Sentinel, now: u64, p: &InfoParams, sections: &[&str]) -> String {
    let mut wanted = [false; INFO_SECTIONS.len()];
    for name in sections {
        let name = name.to_ascii_lowercase();
        if matches!(name.as_str(), "default" | "all" | "everything") {
            wanted = [true; INFO_SECTIONS.len()];
        } else if let Some(i) = INFO_SECTIONS.iter().position(|n| *n == name) {
            wanted[i] = true;
        }
    }
    if sections.is_empty() {
        wanted = [true; INFO_SECTIONS.len()];
    }
    let mut parts = Vec::new();
    for (i, name) in INFO_SECTIONS.iter().enumerate() {
        if !wanted[i] {
            continue;
        }
        let text = match *name {
            "server" => Some(server_section(&p.server)),
            "clients" => Some(clients_section(&p.clients)),
            "cpu" => p.cpu.as_ref().map(|b| format!("# CPU\r\n{b}")),
            "stats" => p.stats.as_ref().map(|b| format!("# Stats\r\n{b}")),
            _ => Some(sentinel_section(s, now, p)),
        };
        parts.extend(text);
    }
    parts.join("\r\n")
}

fn server_section(p: &ServerInfo) -> String {
    let mut o = String::from("# Server\r\n");
    let lines: [(&str, String); 24] = [
        ("redis_version", p.version.clone()),
        ("redis_git_sha1", "00000000".into()),
        ("redis_git_dirty", "0".into()),
        ("redis_build_id", "0".into()),
        ("redis_mode", "sentinel".into()),
        ("os", p.os.clone()),
        ("arch_bits", "64".into()),
        ("monotonic_clock", "POSIX clock_gettime".into()),
        ("multiplexing_api", "epoll".into()),
        ("atomicvar_api", "c11-builtin".into()),
        ("gcc_version", "0.0.0".into()),
        ("process_id", p.process_id.to_string()),
        ("process_supervised", p.process_supervised.clone()),
        ("run_id", p.run_id.clone()),
        ("tcp_port", p.tcp_port.to_string()),
        ("server_time_usec", p.server_time_usec.to_string()),
        ("uptime_in_seconds", p.uptime_in_seconds.to_string()),
        ("uptime_in_days", (p.uptime_in_seconds / 86_400).to_string()),
        ("hz", p.hz.to_string()),
        ("configured_hz", p.configured_hz.to_string()),
        ("lru_clock", p.lru_clock.to_string()),
        ("executable", p.executable.clone()),
        ("config_file", p.config_file.clone()),
        ("io_threads_active", "0".into()),
    ];
    for (k, v) in lines {
        let _ = write!(o, "{k}:{v}\r\n");
    }
    o
}

fn clients_section(c: &ClientsInfo) -> String {
    format!(
        "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
         client_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:{}\r\n\
         blocked_clients:{}\r\ntracking_clients:0\r\nclients_in_timeout_table:{}\r\n",
        c.connected_clients,
        c.maxclients,
        c.client_recent_max_input_buffer,
        c.client_recent_max_output_buffer,
        c.blocked_clients,
        c.clients_in_timeout_table,
    )
}

/// The `# Sentinel` section. `sentinel_total_tilt` is our addition (later
/// upstream versions have it at the same place).
pub fn sentinel_section(s: &Sentinel, now: u64, p: &InfoParams) -> String {
    let tilt_since = match s.tilt_since() {
        Some(t) => (ago(now, t) / 1000).to_string(),
        None => "-1".to_string(),
    };
    let mut o = String::from("# Sentinel\r\n");
    let _ = write!(
        o,
        "sentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\n\
         sentinel_total_tilt:{}\r\nsentinel_running_scripts:{}\r\n\
         sentinel_scripts_queue_length:{}\r\nsentinel_simulate_failure_flags:{}\r\n",
        s.masters_state().len(),
        u8::from(s.is_tilt()),
        tilt_since,
        s.total_tilt(),
        p.running_scripts,
        p.scripts_queue_length,
        p.simulate_failure_flags | s.simulate_failure_flags(),
    );
    for (i, m) in masters_by_name(s).into_iter().enumerate() {
        let status = if m.o_down {
            "odown"
        } else if m.c.s_down {
            "sdown"
        } else {
            "ok"
        };
        let _ = write!(
            o,
            "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
            m.c.name,
            m.c.addr.host,
            m.c.addr.port,
            m.replicas.len(),
            m.sentinels.len() + 1,
        );
    }
    o
}
