//! The state-changing `SENTINEL` subcommands (`MONITOR`, `REMOVE`, `SET`,
//! `RESET`, `CONFIG`, `DEBUG`, `SIMULATE-FAILURE`, `FLUSHCONFIG`,
//! `IS-MASTER-DOWN-BY-ADDR`, `FAILOVER`): argument checks with Redis
//! 7.0's error texts, the change to the state machine and to the global
//! configuration, and the reply. One pure entry point,
//! [`run_subcommand`]; the read-only subcommands are answered by
//! [`crate::reply::introspect`].
//!
//! Like upstream, a multi-option `SET` or `DEBUG` applies the options one
//! by one and stops at the first bad one: the options before it stay
//! applied (and, for `SET`, saved).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use redis_common::glob::string_match;
use redis_common::units::parse_bool;

use crate::config::{is_executable, Addr, MasterConfig, SentinelConfig};
use crate::reply::{
    self, check_subcommand, introspect, no_such_master, wrong_arity, Reply, Subcommand,
};
use crate::state::instance::Master;
use crate::state::{
    Action, EventLevel, IsMasterDownReply, Sentinel, SIMFAILURE_CRASH_AFTER_ELECTION,
    SIMFAILURE_CRASH_AFTER_PROMOTION,
};

/// Runs a valid call of a state-changing SENTINEL subcommand (the ones
/// `reply::introspect` returns None for). `args` excludes the word SENTINEL.
/// `cfg` is the daemon's base configuration (global settings live there:
/// announce-ip/port, resolve-hostnames, announce-hostnames, sentinel-user/pass,
/// deny-scripts-reconfig); the function updates it and the state machine.
///
/// Unknown subcommands and wrong arities get upstream's errors; a
/// read-only subcommand is answered as [`introspect`] does, without
/// cached INFO texts. The masters of `cfg` are not kept up to date:
/// [`Sentinel::to_config`] replaces them with the live ones.
pub fn run_subcommand(
    s: &mut Sentinel,
    cfg: &mut SentinelConfig,
    args: &[&str],
    now: u64,
) -> (Reply, Vec<Action>) {
    let sub = match check_subcommand(args) {
        Ok(sub) => sub,
        Err(e) => return (e, Vec::new()),
    };
    match sub {
        Subcommand::Monitor => monitor(s, cfg, args, now),
        Subcommand::Remove => remove(s, arg(args, 1)),
        Subcommand::Set => set(s, cfg, args),
        Subcommand::Reset => {
            let (count, actions) = s.reset_masters(arg(args, 1), now);
            (Reply::Int(to_i64(count as u64)), actions)
        }
        Subcommand::Config => config(s, cfg, args),
        Subcommand::Debug => debug(s, args),
        Subcommand::SimulateFailure => simulate_failure(s, args),
        Subcommand::Flushconfig => (Reply::ok(), s.save_config()),
        Subcommand::IsMasterDownByAddr => is_master_down_by_addr(s, args, now),
        Subcommand::Failover => {
            let result = s.failover(arg(args, 1), now);
            let r = reply::failover(&result);
            (r, result.unwrap_or_default())
        }
        _ => {
            let r = introspect(s, args, now, &|_| None)
                .unwrap_or_else(|| reply::unknown_subcommand(arg(args, 0)));
            (r, Vec::new())
        }
    }
}

fn arg<'a>(args: &[&'a str], i: usize) -> &'a str {
    args.get(i).copied().unwrap_or_default()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An error reply built from user input: line breaks become spaces, as
/// upstream's `addReplyErrorFormat` does, so the protocol stays valid.
fn error(text: String) -> Reply {
    Reply::Error(
        text.chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect(),
    )
}

fn fail(text: &str) -> (Reply, Vec<Action>) {
    (Reply::Error(text.to_string()), Vec::new())
}

/// Upstream's `string2ll`: an optional `-`, then digits without a
/// leading zero (except `0` itself), nothing else, within `i64`.
fn parse_ll(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let b = digits.as_bytes();
    let first_ok = match b.first() {
        Some(b'1'..=b'9') => true,
        Some(b'0') => s == "0",
        _ => false,
    };
    if !first_ok || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------

/// One part of an `inet_aton` address: decimal, octal (leading `0`) or
/// hexadecimal (`0x`).
fn aton_part(p: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        if h.is_empty() {
            return None;
        }
        (h, 16)
    } else if let Some(o) = p.strip_prefix('0') {
        (o, 8)
    } else if p.is_empty() {
        return None;
    } else {
        (p, 10)
    };
    let mut v: u64 = 0;
    for c in digits.chars() {
        v = v * u64::from(radix) + u64::from(c.to_digit(radix)?);
        if v > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(v)
}

/// The IPv4 forms the C library's numeric host parsing accepts: one to
/// four parts, the last one filling the remaining bytes (`127.1`,
/// `0x7f.0.0.1`, `2130706433`).
fn parse_ipv4_aton(s: &str) -> Option<Ipv4Addr> {
    let mut parts = s.split('.').map(aton_part).collect::<Option<Vec<u64>>>()?;
    if parts.len() > 4 {
        return None;
    }
    let last = parts.pop()?;
    let mut v: u64 = 0;
    for (i, p) in parts.iter().enumerate() {
        if *p > 255 {
            return None;
        }
        v |= p << (24 - 8 * i);
    }
    let room = 32 - 8 * parts.len();
    if room < 32 && last >> room != 0 {
        return None;
    }
    v |= last;
    u32::try_from(v).ok().map(Ipv4Addr::from)
}

/// An IPv6 address as the C library's `inet_ntop` writes it: the first
/// longest run of two or more zero groups shortened to `::`, and the
/// last 32 bits in dotted form after six zero groups (`::1.2.3.4`) or
/// five and `ffff` (`::ffff:1.2.3.4`).
fn format_ipv6(ip: &Ipv6Addr) -> String {
    let w = ip.segments();
    let (mut best, mut best_len) = (None, 0);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = Some(start);
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = None;
    }
    let mut out = String::new();
    for (i, word) in w.iter().enumerate() {
        if let Some(b) = best.filter(|b| i >= *b && i < b + best_len) {
            if i == b {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        let embedded = best == Some(0) && (best_len == 6 || (best_len == 5 && w[5] == 0xffff));
        if i == 6 && embedded {
            let o = ip.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return out;
        }
        let _ = write!(out, "{word:x}");
    }
    if best.is_some_and(|b| b + best_len == 8) {
        out.push(':');
    }
    out
}

/// A numeric host in its canonical text form (as upstream's resolver
/// prints it), or `None` when `host` is not an IP address.
fn numeric_host(host: &str) -> Option<String> {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => Some(format_ipv6(&ip)),
        Ok(IpAddr::V4(ip)) => Some(ip.to_string()),
        Err(_) => parse_ipv4_aton(host).map(|ip| ip.to_string()),
    }
}

/// The address to monitor: a numeric host canonicalized, or a host name
/// kept as given when `resolve-hostnames` is on (its resolution is the
/// driver's business).
fn monitor_host(host: &str, resolve_hostnames: bool) -> Option<String> {
    match numeric_host(host) {
        Some(ip) => Some(ip),
        None if resolve_hostnames && !host.is_empty() => Some(host.to_string()),
        None => None,
    }
}

// ---------------------------------------------------------------------
// MONITOR, REMOVE
// ---------------------------------------------------------------------

/// `MONITOR <name> <ip> <port> <quorum>`.
fn monitor(
    s: &mut Sentinel,
    cfg: &SentinelConfig,
    args: &[&str],
    now: u64,
) -> (Reply, Vec<Action>) {
    let [_, name, host, port, quorum] = args else {
        return (wrong_arity("sentinel|monitor"), Vec::new());
    };
    let Some(quorum) = parse_ll(quorum) else {
        return fail("ERR Invalid quorum");
    };
    let Some(port) = parse_ll(port) else {
        return fail("ERR Invalid port");
    };
    if quorum <= 0 {
        return fail("ERR Quorum must be 1 or greater.");
    }
    let Some(host) = monitor_host(host, cfg.resolve_hostnames) else {
        return fail("ERR Invalid IP address or hostname specified");
    };
    let Ok(port) = u16::try_from(port) else {
        return fail("ERR Invalid port number.");
    };
    // Upstream keeps the quorum in an unsigned int.
    let mut conf = MasterConfig::new(*name, Addr::new(host, port), quorum as u32);
    conf.down_after_ms = s.timings().default_down_after;
    conf.failover_timeout_ms = s.timings().default_failover_timeout;
    match s.add_master(conf, now) {
        Some(actions) => (Reply::ok(), actions),
        None => fail("ERR Duplicate master name."),
    }
}

/// `REMOVE <name>`.
fn remove(s: &mut Sentinel, name: &str) -> (Reply, Vec<Action>) {
    match s.remove_master(name) {
        Some(actions) => (Reply::ok(), actions),
        None => (no_such_master(), Vec::new()),
    }
}

// ---------------------------------------------------------------------
// SET
// ---------------------------------------------------------------------

/// Why one `SET` option was refused.
enum SetError {
    /// The value at this index is invalid.
    BadArg(usize),
    /// Any other refusal, already worded.
    Reply(Reply),
}

/// What applying one option did.
struct Applied {
    /// The value is a secret: the event shows `******`.
    redacted: bool,
    /// The links to the master and its replicas must be reopened.
    reconnect: bool,
}

const SCRIPTS_DENIED: &str = "ERR Reconfiguration of scripts path is denied for security \
     reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel \
     configuration";

fn positive(v: &str) -> Option<u64> {
    parse_ll(v)
        .filter(|v| *v > 0)
        .and_then(|v| u64::try_from(v).ok())
}

/// A script path for `notification-script` / `client-reconfig-script`:
/// empty clears it, otherwise it must be executable.
fn script_value(deny: bool, value: &str, not_executable: &str) -> Result<Option<String>, SetError> {
    if deny {
        return Err(SetError::Reply(Reply::Error(SCRIPTS_DENIED.to_string())));
    }
    if value.is_empty() {
        return Ok(None);
    }
    if !is_executable(value) {
        return Err(SetError::Reply(Reply::Error(not_executable.to_string())));
    }
    Ok(Some(value.to_string()))
}

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

/// Applies the option at `args[*j]`, advancing `*j` past its values.
fn apply_set_option(
    m: &mut Master,
    deny_scripts: bool,
    args: &[&str],
    j: &mut usize,
) -> Result<Applied, SetError> {
    let option = args[*j].to_ascii_lowercase();
    let more = args.len() - 1 - *j;
    let plain = Applied {
        redacted: false,
        reconnect: false,
    };
    let unknown = || {
        SetError::Reply(error(format!(
            "ERR Unknown option or number of arguments for SENTINEL SET '{}'",
            args[*j]
        )))
    };
    if more == 0 {
        return Err(unknown());
    }
    let two_values = option == "rename-command";
    if two_values && more < 2 {
        return Err(unknown());
    }
    let vi = *j + 1;
    let value = args[vi];
    let conf = &mut m.conf;
    let applied = match option.as_str() {
        "down-after-milliseconds" => {
            conf.down_after_ms = positive(value).ok_or(SetError::BadArg(vi))?;
            plain
        }
        "failover-timeout" => {
            conf.failover_timeout_ms = positive(value).ok_or(SetError::BadArg(vi))?;
            plain
        }
        "parallel-syncs" => {
            let v = positive(value).ok_or(SetError::BadArg(vi))?;
            // Upstream stores it in an int.
            conf.parallel_syncs = v as u32;
            plain
        }
        "quorum" => {
            let v = positive(value).ok_or(SetError::BadArg(vi))?;
            // Upstream stores it in an unsigned int.
            conf.quorum = v as u32;
            plain
        }
        "master-reboot-down-after-period" => {
            let v = parse_ll(value)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or(SetError::BadArg(vi))?;
            conf.master_reboot_down_after_ms = v;
            plain
        }
        "notification-script" => {
            conf.notification_script = script_value(
                deny_scripts,
                value,
                "ERR Notification script seems non existing or non executable",
            )?;
            plain
        }
        "client-reconfig-script" => {
            conf.client_reconfig_script = script_value(
                deny_scripts,
                value,
                "ERR Client reconfiguration script seems non existing or non executable",
            )?;
            plain
        }
        "auth-pass" => {
            conf.auth_pass = non_empty(value);
            Applied {
                redacted: true,
                reconnect: true,
            }
        }
        "auth-user" => {
            conf.auth_user = non_empty(value);
            Applied {
                redacted: false,
                reconnect: true,
            }
        }
        "rename-command" => {
            let new = args[vi + 1];
            if value.is_empty() {
                return Err(SetError::BadArg(vi));
            }
            if new.is_empty() {
                return Err(SetError::BadArg(vi + 1));
            }
            conf.renamed_commands
                .retain(|(old, _)| !old.eq_ignore_ascii_case(value));
            if !value.eq_ignore_ascii_case(new) {
                conf.renamed_commands
                    .push((value.to_string(), new.to_string()));
            }
            Applied {
                redacted: false,
                reconnect: true,
            }
        }
        _ => return Err(unknown()),
    };
    *j = if two_values { vi + 1 } else { vi };
    Ok(applied)
}

/// `SET <name> <option> <value> [<option> <value> ...]`: one `+set`
/// event per option (with the option as typed); the configuration is
/// saved when anything changed, even if a later option is refused.
fn set(s: &mut Sentinel, cfg: &SentinelConfig, args: &[&str]) -> (Reply, Vec<Action>) {
    let Some((ctx, m)) = s.master_parts(arg(args, 1)) else {
        return (no_such_master(), Vec::new());
    };
    let mut changes = 0;
    let mut outcome = Reply::ok();
    let mut j = 2;
    while j < args.len() {
        let start = j;
        match apply_set_option(m, cfg.deny_scripts_reconfig, args, &mut j) {
            Ok(applied) => {
                changes += 1;
                if applied.reconnect {
                    crate::state::drop_master_links(ctx, m);
                }
                let mut text = format!("{} {}", m.describe(), args[start]);
                for (k, v) in args[start + 1..=j].iter().enumerate() {
                    let shown = if applied.redacted && k == 0 {
                        "******"
                    } else {
                        v
                    };
                    text.push(' ');
                    text.push_str(shown);
                }
                let script = m.conf.notification_script.clone();
                ctx.event(EventLevel::Warning, "+set", text, script.as_deref());
            }
            Err(SetError::BadArg(i)) => {
                outcome = error(format!(
                    "ERR Invalid argument '{}' for SENTINEL SET '{}'",
                    args[i], args[start]
                ));
                break;
            }
            Err(SetError::Reply(r)) => {
                outcome = r;
                break;
            }
        }
        j += 1;
    }
    if changes > 0 {
        ctx.flush_config();
    }
    (outcome, s.take_actions())
}

// ---------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------

/// The global parameters of `SENTINEL CONFIG`, in upstream's order.
const CONFIG_PARAMS: [&str; 6] = [
    "resolve-hostnames",
    "announce-hostnames",
    "announce-ip",
    "announce-port",
    "sentinel-user",
    "sentinel-pass",
];

/// `CONFIG GET <pattern>` / `CONFIG SET <param> <value>`.
fn config(s: &mut Sentinel, cfg: &mut SentinelConfig, args: &[&str]) -> (Reply, Vec<Action>) {
    let op = arg(args, 1);
    if op.eq_ignore_ascii_case("set") && args.len() == 4 {
        config_set(s, cfg, args[2], args[3])
    } else if op.eq_ignore_ascii_case("get") && args.len() == 3 {
        (config_get(cfg, args[2]), Vec::new())
    } else {
        fail("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.")
    }
}

/// The value `CONFIG GET` shows for a parameter.
fn config_value(cfg: &SentinelConfig, param: &str) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    match param {
        "resolve-hostnames" => yes_no(cfg.resolve_hostnames),
        "announce-hostnames" => yes_no(cfg.announce_hostnames),
        "announce-ip" => text(&cfg.announce_ip),
        "announce-port" => cfg.announce_port.to_string(),
        "sentinel-user" => text(&cfg.sentinel_user),
        _ => text(&cfg.sentinel_pass),
    }
}

/// `CONFIG GET <pattern>`: the matching parameters (case-insensitive
/// glob) with their values, as a map.
pub fn config_get(cfg: &SentinelConfig, pattern: &str) -> Reply {
    Reply::Map(
        CONFIG_PARAMS
            .iter()
            .filter(|p| string_match(pattern.as_bytes(), p.as_bytes(), true))
            .map(|p| (Reply::bulk(*p), Reply::Bulk(config_value(cfg, p))))
            .collect(),
    )
}

/// `CONFIG SET <param> <value>`.
fn config_set(
    s: &mut Sentinel,
    cfg: &mut SentinelConfig,
    param: &str,
    value: &str,
) -> (Reply, Vec<Action>) {
    let bad_value = || {
        (
            error(format!(
                "ERR Invalid value '{value}' to SENTINEL CONFIG SET '{param}'"
            )),
            Vec::new(),
        )
    };
    let mut actions = Vec::new();
    match param.to_ascii_lowercase().as_str() {
        "resolve-hostnames" => match parse_bool(value) {
            Some(b) => cfg.resolve_hostnames = b,
            None => return bad_value(),
        },
        "announce-hostnames" => match parse_bool(value) {
            Some(b) => cfg.announce_hostnames = b,
            None => return bad_value(),
        },
        "announce-ip" => {
            cfg.announce_ip = non_empty(value);
            s.set_announce(cfg.announce_ip.clone(), cfg.announce_port);
        }
        "announce-port" => match parse_ll(value).and_then(|p| u16::try_from(p).ok()) {
            Some(p) => {
                cfg.announce_port = p;
                s.set_announce(cfg.announce_ip.clone(), cfg.announce_port);
            }
            None => return bad_value(),
        },
        "sentinel-user" => {
            cfg.sentinel_user = non_empty(value);
            actions = s.drop_sentinel_links();
        }
        "sentinel-pass" => {
            cfg.sentinel_pass = non_empty(value);
            actions = s.drop_sentinel_links();
        }
        _ => {
            return (
                error(format!(
                    "ERR Invalid argument '{param}' to SENTINEL CONFIG SET"
                )),
                Vec::new(),
            )
        }
    }
    actions.extend(s.save_config());
    (Reply::ok(), actions)
}

// ---------------------------------------------------------------------
// DEBUG, SIMULATE-FAILURE
// ---------------------------------------------------------------------

/// `DEBUG` (the timing parameters as a map of bulk strings) or `DEBUG
/// <param> <value> ...` (each value a positive integer).
fn debug(s: &mut Sentinel, args: &[&str]) -> (Reply, Vec<Action>) {
    if args.len() <= 1 {
        let list = s
            .timings()
            .list()
            .iter()
            .map(|(k, v)| (Reply::bulk(*k), Reply::Bulk(v.to_string())))
            .collect();
        return (Reply::Map(list), Vec::new());
    }
    let mut j = 1;
    while j < args.len() {
        let option = args[j];
        let has_value = j + 1 < args.len();
        let t = s.timings_mut();
        let Some(field) = t.field_mut(option).filter(|_| has_value) else {
            return (
                error(format!(
                    "ERR Unknown option or number of arguments for SENTINEL DEBUG '{option}'"
                )),
                Vec::new(),
            );
        };
        j += 1;
        match positive(args[j]) {
            Some(v) => *field = v,
            None => {
                return (
                    error(format!(
                        "ERR Invalid argument '{}' for SENTINEL DEBUG '{option}'",
                        args[j]
                    )),
                    Vec::new(),
                )
            }
        }
        j += 1;
    }
    (Reply::ok(), Vec::new())
}

/// `SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION]
/// [HELP]`: the flags start from none; `HELP` lists the flags, an unknown
/// word is refused (the flags before either stay set).
fn simulate_failure(s: &mut Sentinel, args: &[&str]) -> (Reply, Vec<Action>) {
    let mut flags = 0;
    let mut reply = Reply::ok();
    for a in &args[1..] {
        if a.eq_ignore_ascii_case("crash-after-election") {
            flags |= SIMFAILURE_CRASH_AFTER_ELECTION;
            s.log(
                EventLevel::Warning,
                "Failure simulation: this Sentinel will crash after being successfully \
                 elected as failover leader",
            );
        } else if a.eq_ignore_ascii_case("crash-after-promotion") {
            flags |= SIMFAILURE_CRASH_AFTER_PROMOTION;
            s.log(
                EventLevel::Warning,
                "Failure simulation: this Sentinel will crash after promoting the selected \
                 replica to master",
            );
        } else if a.eq_ignore_ascii_case("help") {
            reply = Reply::Array(vec![
                Reply::bulk("crash-after-election"),
                Reply::bulk("crash-after-promotion"),
            ]);
            break;
        } else {
            reply = Reply::Error("ERR Unknown failure simulation specified".to_string());
            break;
        }
    }
    s.set_simulate_failure_flags(flags);
    (reply, s.take_actions())
}

// ---------------------------------------------------------------------
// IS-MASTER-DOWN-BY-ADDR
// ---------------------------------------------------------------------

/// `IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>`.
fn is_master_down_by_addr(s: &mut Sentinel, args: &[&str], now: u64) -> (Reply, Vec<Action>) {
    let [_, ip, port, epoch, run_id] = args else {
        return (wrong_arity("sentinel|is-master-down-by-addr"), Vec::new());
    };
    let (Some(port), Some(epoch)) = (parse_ll(port), parse_ll(epoch)) else {
        return fail("ERR value is not an integer or out of range");
    };
    let Ok(port) = u16::try_from(port) else {
        // No master can listen there.
        let none = IsMasterDownReply {
            down: false,
            leader: "*".to_string(),
            leader_epoch: 0,
        };
        return (reply::is_master_down_by_addr(&none), Vec::new());
    };
    let ip = numeric_host(ip).unwrap_or_else(|| ip.to_string());
    // Upstream casts the signed epoch to its unsigned epochs.
    let (r, actions) = s.on_vote_request(&ip, port, epoch as u64, run_id, now);
    (reply::is_master_down_by_addr(&r), actions)
}
