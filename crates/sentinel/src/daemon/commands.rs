//! The commands a sentinel serves, as Redis 7.0's sentinel command table:
//! `PING`, `SENTINEL`, `SUBSCRIBE` / `PSUBSCRIBE` / `UNSUBSCRIBE` /
//! `PUNSUBSCRIBE`, `PUBLISH` (hello messages only), `INFO`, `ROLE`,
//! `CLIENT`, `SHUTDOWN`, `AUTH`, `HELLO`, `ACL` (the `default` user only),
//! `COMMAND`, plus `QUIT`. One declarative table; the central checks
//! (authentication, the RESP2 subscribed context, arity) run before any
//! handler, with upstream's error texts.

use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use redis_common::time::now_ms;
use redis_resp::{Frame, Protocol};

use crate::reply::{self, ClientsInfo, InfoParams, Reply, ServerInfo};

use super::client::{ClientSession, MAX_CLIENTS};
use super::core::{Core, Exit};

/// Version reported by `INFO` and `HELLO`.
pub const VERSION: &str = "7.0.15";

type Handler = fn(&mut Ctx<'_>) -> Frame;

/// One command of the table.
struct Cmd {
    name: &'static str,
    /// Upstream's arity: exact when positive, a minimum when negative.
    arity: i32,
    /// Flags shown by `COMMAND INFO`.
    flags: &'static [&'static str],
    /// ACL categories shown by `COMMAND INFO`.
    categories: &'static [&'static str],
    handler: Handler,
}

/// The sentinel's command table, in upstream's order.
const TABLE: &[Cmd] = &[
    Cmd {
        name: "ping",
        arity: -1,
        flags: &["fast"],
        categories: &["@fast", "@connection"],
        handler: ping,
    },
    Cmd {
        name: "sentinel",
        arity: -2,
        flags: &["admin", "sentinel", "only_sentinel"],
        categories: &["@admin", "@slow", "@dangerous"],
        handler: sentinel,
    },
    Cmd {
        name: "subscribe",
        arity: -2,
        flags: &["pubsub", "noscript", "loading", "stale"],
        categories: &["@pubsub", "@slow"],
        handler: subscribe,
    },
    Cmd {
        name: "unsubscribe",
        arity: -1,
        flags: &["pubsub", "noscript", "loading", "stale"],
        categories: &["@pubsub", "@slow"],
        handler: unsubscribe,
    },
    Cmd {
        name: "psubscribe",
        arity: -2,
        flags: &["pubsub", "noscript", "loading", "stale"],
        categories: &["@pubsub", "@slow"],
        handler: psubscribe,
    },
    Cmd {
        name: "punsubscribe",
        arity: -1,
        flags: &["pubsub", "noscript", "loading", "stale"],
        categories: &["@pubsub", "@slow"],
        handler: punsubscribe,
    },
    Cmd {
        name: "publish",
        arity: 3,
        flags: &["pubsub", "loading", "stale", "fast"],
        categories: &["@pubsub", "@fast"],
        handler: publish,
    },
    Cmd {
        name: "info",
        arity: -1,
        flags: &["loading", "stale", "sentinel"],
        categories: &["@slow", "@dangerous"],
        handler: info,
    },
    Cmd {
        name: "role",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "sentinel"],
        categories: &["@admin", "@fast", "@dangerous"],
        handler: role,
    },
    Cmd {
        name: "client",
        arity: -2,
        flags: &["sentinel"],
        categories: &["@slow"],
        handler: client,
    },
    Cmd {
        name: "shutdown",
        arity: -1,
        flags: &[
            "admin", "noscript", "loading", "stale", "no_multi", "sentinel",
        ],
        categories: &["@admin", "@slow", "@dangerous"],
        handler: shutdown,
    },
    Cmd {
        name: "auth",
        arity: -2,
        flags: &[
            "noscript", "loading", "stale", "fast", "no_auth", "sentinel",
        ],
        categories: &["@fast", "@connection"],
        handler: auth,
    },
    Cmd {
        name: "hello",
        arity: -1,
        flags: &[
            "noscript", "loading", "stale", "fast", "no_auth", "sentinel",
        ],
        categories: &["@fast", "@connection"],
        handler: hello,
    },
    Cmd {
        name: "acl",
        arity: -2,
        flags: &["sentinel"],
        categories: &["@slow"],
        handler: acl,
    },
    Cmd {
        name: "command",
        arity: -1,
        flags: &["loading", "stale", "sentinel"],
        categories: &["@slow", "@connection"],
        handler: command,
    },
];

/// What a handler works with.
struct Ctx<'a> {
    core: &'a mut Core,
    client: &'a mut ClientSession,
    args: &'a [Bytes],
    now: u64,
    /// Replies written before the handler's (one per channel of a
    /// multi-channel SUBSCRIBE).
    before: Vec<Frame>,
}

impl Ctx<'_> {
    /// Argument `i` as text (lossy).
    fn arg(&self, i: usize) -> String {
        self.args
            .get(i)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or_default()
    }

    fn args_from(&self, i: usize) -> Vec<String> {
        (i..self.args.len()).map(|j| self.arg(j)).collect()
    }

    fn proto(&self) -> Protocol {
        if self.client.is_resp3() {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }

    fn subscriptions(&self) -> usize {
        self.core
            .clients
            .get(&self.client.id)
            .map_or(0, |c| c.channels.len() + c.patterns.len())
    }
}

fn err(text: impl Into<String>) -> Frame {
    Frame::Error(Bytes::from(text.into()))
}

fn bulk(text: impl Into<String>) -> Frame {
    Frame::Bulk(Bytes::from(text.into()))
}

/// A [`Reply`] of the sentinel library as a frame.
fn from_reply(r: Reply) -> Frame {
    match r {
        Reply::Status(s) => Frame::Simple(Bytes::from(s)),
        Reply::Error(s) => Frame::Error(Bytes::from(s)),
        Reply::Int(n) => Frame::Integer(n),
        Reply::Bulk(s) => bulk(s),
        Reply::Null => Frame::Null,
        Reply::NullArray => Frame::NullArray,
        Reply::Array(v) => Frame::Array(v.into_iter().map(from_reply).collect()),
        Reply::Map(v) => Frame::Map(
            v.into_iter()
                .map(|(k, v)| (from_reply(k), from_reply(v)))
                .collect(),
        ),
    }
}

/// `ERR unknown command '<name>', with args beginning with: '<a>' ...`.
fn unknown_command(args: &[Bytes]) -> Frame {
    let show = |b: &Bytes| {
        let s = String::from_utf8_lossy(b);
        let cut: String = s.chars().take(128).collect();
        cut.replace(['\r', '\n'], " ")
    };
    let mut e = format!(
        "ERR unknown command '{}', with args beginning with: ",
        args.first().map(show).unwrap_or_default()
    );
    for a in args.iter().skip(1) {
        if e.len() >= 128 {
            break;
        }
        let _ = write!(e, "'{}' ", show(a));
    }
    err(e)
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    if arity >= 0 {
        argc == i64::from(arity)
    } else {
        argc >= -i64::from(arity)
    }
}

/// Runs one request and appends its reply to `out`.
pub fn run(core: &mut Core, client: &mut ClientSession, args: &[Bytes], out: &mut BytesMut) {
    let Some(first) = args.first() else { return };
    let name = String::from_utf8_lossy(first).to_ascii_lowercase();
    let proto = if client.is_resp3() {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    core.stats.commands += 1;
    if name == "quit" {
        client.close = true;
        Frame::ok().encode(proto, out);
        return;
    }
    let Some(cmd) = TABLE.iter().find(|c| c.name == name) else {
        unknown_command(args).encode(proto, out);
        return;
    };
    if let Some(c) = core.clients.get_mut(&client.id) {
        c.last_cmd_ms = now_ms();
        // Container commands show as `name|subcommand` (CLIENT LIST cmd=).
        c.last_cmd = match args.get(1) {
            Some(sub) if matches!(cmd.name, "sentinel" | "client" | "acl" | "command") => {
                format!(
                    "{}|{}",
                    cmd.name,
                    String::from_utf8_lossy(sub).to_ascii_lowercase()
                )
            }
            _ => cmd.name.to_string(),
        };
    }
    if !client.authenticated && !matches!(cmd.name, "auth" | "hello") {
        err("NOAUTH Authentication required.").encode(proto, out);
        return;
    }
    if !arity_ok(cmd.arity, args.len()) {
        err(format!(
            "ERR wrong number of arguments for '{}' command",
            cmd.name
        ))
        .encode(proto, out);
        return;
    }
    let mut ctx = Ctx {
        core,
        client,
        args,
        now: u64::try_from(now_ms()).unwrap_or(0),
        before: Vec::new(),
    };
    let subscribed_ctx = !ctx.client.is_resp3()
        && ctx.subscriptions() > 0
        && !matches!(
            cmd.name,
            "ping" | "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe"
        );
    if subscribed_ctx {
        err(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        ))
        .encode(proto, out);
        return;
    }
    let reply = (cmd.handler)(&mut ctx);
    // HELLO may have switched the protocol: its reply uses the new one.
    let proto = ctx.proto();
    for f in &ctx.before {
        f.encode(proto, out);
    }
    reply.encode(proto, out);
}

fn ping(c: &mut Ctx<'_>) -> Frame {
    if c.args.len() > 2 {
        return err("ERR wrong number of arguments for 'ping' command");
    }
    let arg = c.args.get(1).cloned();
    if !c.client.is_resp3() && c.subscriptions() > 0 {
        return Frame::Array(vec![bulk("pong"), Frame::Bulk(arg.unwrap_or_default())]);
    }
    match arg {
        Some(a) => Frame::Bulk(a),
        None => Frame::simple("PONG"),
    }
}

fn sentinel(c: &mut Ctx<'_>) -> Frame {
    let args = c.args_from(1);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let now = c.now;
    if argv
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case("pending-scripts"))
        && argv.len() == 1
    {
        return from_reply(c.core.scripts.pending_reply(now));
    }
    let cache = &c.core.info_cache;
    let cached = |id| cache.get(&id).cloned();
    if let Some(r) = reply::introspect(&c.core.s, &argv, now, &cached) {
        return from_reply(r);
    }
    let (r, actions) = super::admin_bridge::run_subcommand(c.core, &argv, now);
    c.core.apply(actions);
    from_reply(r)
}

/// Which list a (un)subscription changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
}

fn sub_reply(word: &str, name: Option<&str>, count: usize) -> Frame {
    Frame::Push(vec![
        bulk(word),
        name.map_or(Frame::Null, bulk),
        Frame::Integer(i64::try_from(count).unwrap_or(i64::MAX)),
    ])
}

/// Subscription replies are pushed through the connection's mailbox in
/// order with messages, except the last, which is the command's reply.
fn change_subs(c: &mut Ctx<'_>, kind: Kind, add: bool) -> Frame {
    let names = c.args_from(1);
    let id = c.client.id;
    let Some(entry) = c.core.clients.get_mut(&id) else {
        return err("ERR client gone");
    };
    let word = match (kind, add) {
        (Kind::Channel, true) => "subscribe",
        (Kind::Channel, false) => "unsubscribe",
        (Kind::Pattern, true) => "psubscribe",
        (Kind::Pattern, false) => "punsubscribe",
    };
    let mut replies = Vec::new();
    let targets: Vec<String> = if add || !names.is_empty() {
        names
    } else {
        match kind {
            Kind::Channel => entry.channels.clone(),
            Kind::Pattern => entry.patterns.clone(),
        }
    };
    for n in &targets {
        let list = match kind {
            Kind::Channel => &mut entry.channels,
            Kind::Pattern => &mut entry.patterns,
        };
        if add {
            if !list.contains(n) {
                list.push(n.clone());
            }
        } else {
            list.retain(|x| x != n);
        }
        let count = entry.channels.len() + entry.patterns.len();
        replies.push(sub_reply(word, Some(n), count));
    }
    if targets.is_empty() {
        let count = entry.channels.len() + entry.patterns.len();
        replies.push(sub_reply(word, None, count));
    }
    let last = replies.pop().unwrap_or(Frame::Null);
    c.before.extend(replies);
    last
}

fn subscribe(c: &mut Ctx<'_>) -> Frame {
    change_subs(c, Kind::Channel, true)
}

fn unsubscribe(c: &mut Ctx<'_>) -> Frame {
    change_subs(c, Kind::Channel, false)
}

fn psubscribe(c: &mut Ctx<'_>) -> Frame {
    change_subs(c, Kind::Pattern, true)
}

fn punsubscribe(c: &mut Ctx<'_>) -> Frame {
    change_subs(c, Kind::Pattern, false)
}

fn publish(c: &mut Ctx<'_>) -> Frame {
    if c.arg(1) != crate::hello::HELLO_CHANNEL {
        return err("ERR Only HELLO messages are accepted by Sentinel instances.");
    }
    let payload = c.arg(2);
    let now = c.now;
    c.core.hello(&payload, now);
    Frame::Integer(1)
}

/// `INFO [section ...]`.
fn info(c: &mut Ctx<'_>) -> Frame {
    let sections = c.args_from(1);
    let sections: Vec<&str> = sections.iter().map(String::as_str).collect();
    let text = info_text(c.core, c.now, &sections);
    Frame::Verbatim {
        format: *b"txt",
        text: Bytes::from(text),
    }
}

/// The `INFO` text of the sentinel.
pub fn info_text(core: &Core, now: u64, sections: &[&str]) -> String {
    let f = &core.facts;
    let (u, s) = redis_common::os::cpu_times();
    let st = &core.stats;
    let now_i = i64::try_from(now).unwrap_or(0);
    let stats = format!(
        "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\n\
         total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\n\
         total_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\n\
         instantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\n\
         sync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:0\r\nexpired_stale_perc:0.00\r\n\
         expired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:0\r\nevicted_clients:0\r\n\
         total_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\n\
         pubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:0\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\n\
         migrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\n\
         active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\n\
         current_active_defrag_time:0\r\ntracking_total_keys:0\r\ntracking_total_items:0\r\n\
         tracking_total_prefixes:0\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\n\
         dump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\n\
         io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\n\
         reply_buffer_expands:0\r\n",
        st.connections,
        st.commands,
        st.net_input,
        st.net_output,
        st.rejected,
        channel_count(core, false),
        channel_count(core, true),
        st.error_replies,
        st.reads,
        st.writes,
    );
    let cpu = format!(
        "used_cpu_sys:{s:.6}\r\nused_cpu_user:{u:.6}\r\nused_cpu_sys_children:0.000000\r\n\
         used_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{s:.6}\r\n\
         used_cpu_user_main_thread:{u:.6}\r\n"
    );
    let uptime = u64::try_from((now_i - f.started_ms) / 1000).unwrap_or(0);
    let params = InfoParams {
        server: ServerInfo {
            version: VERSION.to_string(),
            os: redis_common::os::os_line(),
            process_id: std::process::id(),
            process_supervised: f.supervised.clone(),
            run_id: f.run_id.clone(),
            tcp_port: f.port,
            server_time_usec: now.saturating_mul(1000),
            uptime_in_seconds: uptime,
            hz: 10,
            configured_hz: 10,
            lru_clock: u32::try_from((now / 1000) & 0xFF_FFFF).unwrap_or(0),
            executable: f.executable.clone(),
            config_file: core.config_path.display().to_string(),
        },
        clients: ClientsInfo {
            connected_clients: core.clients.len() as u64,
            maxclients: MAX_CLIENTS as u64,
            ..ClientsInfo::default()
        },
        cpu: Some(cpu),
        stats: Some(stats),
        running_scripts: core.scripts.running() as u64,
        scripts_queue_length: core.scripts.queued() as u64,
        simulate_failure_flags: super::admin_bridge::simulate_failure_flags(core),
    };
    let mut text = reply::info(&core.s, now, &params, sections);
    if !text.is_empty() && !text.ends_with("\r\n") {
        text.push_str("\r\n");
    }
    text
}

/// Distinct channels (or patterns) with subscribers.
fn channel_count(core: &Core, patterns: bool) -> usize {
    let mut all: Vec<&String> = core
        .clients
        .values()
        .flat_map(|c| if patterns { &c.patterns } else { &c.channels })
        .collect();
    all.sort();
    all.dedup();
    all.len()
}

fn role(c: &mut Ctx<'_>) -> Frame {
    let names = c.core.s.master_names();
    Frame::Array(vec![
        bulk("sentinel"),
        Frame::Array(names.into_iter().map(bulk).collect()),
    ])
}

/// One `CLIENT LIST` line.
fn client_line(core: &Core, id: u64, resp3: bool, now: i64) -> String {
    let Some(e) = core.clients.get(&id) else {
        return String::new();
    };
    let flags = if !e.channels.is_empty() || !e.patterns.is_empty() {
        "P"
    } else {
        "N"
    };
    format!(
        "id={id} addr={} laddr={} fd={} name={} age={} idle={} flags={flags} db=0 sub={} psub={} ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={}\n",
        e.addr,
        e.laddr,
        e.fd,
        e.name,
        (now - e.created_ms) / 1000,
        (now - e.last_cmd_ms) / 1000,
        e.channels.len(),
        e.patterns.len(),
        e.last_cmd,
        if resp3 { 3 } else { 2 },
    )
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Prints this help.",
];

fn client(c: &mut Ctx<'_>) -> Frame {
    let sub = c.arg(1).to_ascii_lowercase();
    let argc = c.args.len();
    let now = now_ms();
    let wrong = |s: &str| {
        err(format!(
            "ERR wrong number of arguments for 'client|{s}' command"
        ))
    };
    match sub.as_str() {
        "id" if argc == 2 => Frame::Integer(i64::try_from(c.client.id).unwrap_or(0)),
        "getname" if argc == 2 => match c.core.clients.get(&c.client.id) {
            Some(e) if !e.name.is_empty() => bulk(e.name.clone()),
            _ => Frame::Null,
        },
        "setname" if argc == 3 => {
            let name = c.arg(2);
            if name.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
                return err(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            if let Some(e) = c.core.clients.get_mut(&c.client.id) {
                e.name = name;
            }
            Frame::ok()
        }
        "info" if argc == 2 => {
            let resp3 = c.client.is_resp3();
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from(client_line(c.core, c.client.id, resp3, now)),
            }
        }
        "list" => {
            let mut out = String::new();
            let ids: Vec<u64> = c.core.clients.keys().copied().collect();
            for id in ids {
                let resp3 = c
                    .core
                    .clients
                    .get(&id)
                    .is_some_and(|e| e.resp3.load(std::sync::atomic::Ordering::Relaxed));
                out.push_str(&client_line(c.core, id, resp3, now));
            }
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from(out),
            }
        }
        "kill" if argc >= 3 => client_kill(c),
        "no-evict" if argc == 3 => match c.arg(2).to_ascii_lowercase().as_str() {
            "on" | "off" => Frame::ok(),
            _ => err("ERR syntax error"),
        },
        "help" if argc == 2 => Frame::Array(
            CLIENT_HELP
                .iter()
                .map(|l| Frame::simple(Bytes::from_static(l.as_bytes())))
                .collect(),
        ),
        "id" | "getname" | "setname" | "info" | "kill" | "help" | "no-evict" => wrong(&sub),
        _ => err(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            c.arg(1)
        )),
    }
}

fn client_kill(c: &mut Ctx<'_>) -> Frame {
    let args = c.args_from(2);
    if args.len() == 1 {
        // Old form: CLIENT KILL ip:port.
        let target = &args[0];
        let found = c
            .core
            .clients
            .iter()
            .find(|(_, e)| &e.addr == target)
            .map(|(id, _)| *id);
        return match found {
            Some(id) => {
                if let Some(e) = c.core.clients.get(&id) {
                    e.signal.kill();
                }
                Frame::ok()
            }
            None => err("ERR No such client"),
        };
    }
    if args.len() % 2 != 0 {
        return err("ERR syntax error");
    }
    let mut skipme = true;
    let mut filters: Vec<(String, String)> = Vec::new();
    for pair in args.chunks(2) {
        let key = pair[0].to_ascii_lowercase();
        let val = pair[1].clone();
        match key.as_str() {
            "id" => {
                if val.parse::<u64>().is_err() {
                    return err("ERR client-id should be greater than 0");
                }
                filters.push((key, val));
            }
            "addr" | "laddr" => filters.push((key, val)),
            "skipme" => match val.to_ascii_lowercase().as_str() {
                "yes" => skipme = true,
                "no" => skipme = false,
                _ => return err("ERR syntax error"),
            },
            _ => return err("ERR syntax error"),
        }
    }
    let me = c.client.id;
    let mut killed = 0;
    for (id, e) in &c.core.clients {
        if skipme && *id == me {
            continue;
        }
        let ok = filters.iter().all(|(k, v)| match k.as_str() {
            "id" => id.to_string() == *v,
            "addr" => e.addr == *v,
            _ => e.laddr == *v,
        });
        if ok {
            e.signal.kill();
            killed += 1;
        }
    }
    if !skipme
        && filters
            .iter()
            .all(|(k, v)| k != "id" || *v == me.to_string())
    {
        c.client.close = c.client.close
            || c.core
                .clients
                .get(&me)
                .is_some_and(|e| e.signal.is_killed());
    }
    Frame::Integer(killed)
}

fn shutdown(c: &mut Ctx<'_>) -> Frame {
    for a in c.args_from(1) {
        let ok = ["nosave", "save", "now", "force", "abort"]
            .iter()
            .any(|w| a.eq_ignore_ascii_case(w));
        if !ok {
            return err("ERR syntax error");
        }
        if a.eq_ignore_ascii_case("abort") {
            return err("ERR No shutdown in progress.");
        }
    }
    redis_common::logger::warning("User requested shutdown...");
    c.core.request_exit(Exit::Shutdown);
    Frame::ok()
}

/// Checks a password for the `default` user.
fn password_ok(core: &Core, user: &str, pass: &str) -> bool {
    if user != "default" {
        return false;
    }
    match &core.cfg.requirepass {
        Some(p) => p == pass,
        None => true,
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(c: &mut Ctx<'_>) -> Frame {
    match c.args.len() {
        2 => {
            if c.core.cfg.requirepass.is_none() {
                return err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            }
            if password_ok(c.core, "default", &c.arg(1)) {
                c.client.authenticated = true;
                Frame::ok()
            } else {
                err(WRONGPASS)
            }
        }
        3 => {
            if password_ok(c.core, &c.arg(1), &c.arg(2)) {
                c.client.authenticated = true;
                Frame::ok()
            } else {
                err(WRONGPASS)
            }
        }
        _ => err("ERR syntax error"),
    }
}

fn hello(c: &mut Ctx<'_>) -> Frame {
    let mut proto = None;
    let mut i = 1;
    if c.args.len() > 1 {
        match c.arg(1).parse::<i64>() {
            Ok(v @ 2..=3) => proto = Some(v),
            Ok(_) => return err("NOPROTO unsupported protocol version"),
            Err(_) => return err("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    let mut setname = None;
    while i < c.args.len() {
        let opt = c.arg(i).to_ascii_lowercase();
        let more = c.args.len() - i - 1;
        if opt == "auth" && more >= 2 {
            if !password_ok(c.core, &c.arg(i + 1), &c.arg(i + 2)) {
                return err(WRONGPASS);
            }
            c.client.authenticated = true;
            i += 3;
        } else if opt == "setname" && more >= 1 {
            setname = Some(c.arg(i + 1));
            i += 2;
        } else {
            return err(format!("ERR Syntax error in HELLO option '{}'", c.arg(i)));
        }
    }
    if !c.client.authenticated {
        return err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = setname {
        if let Some(e) = c.core.clients.get_mut(&c.client.id) {
            e.name = n;
        }
    }
    if let Some(p) = proto {
        c.client
            .resp3
            .store(p == 3, std::sync::atomic::Ordering::Relaxed);
    }
    let p = if c.client.is_resp3() { 3 } else { 2 };
    Frame::Map(vec![
        (bulk("server"), bulk("redis")),
        (bulk("version"), bulk(VERSION)),
        (bulk("proto"), Frame::Integer(p)),
        (
            bulk("id"),
            Frame::Integer(i64::try_from(c.client.id).unwrap_or(0)),
        ),
        (bulk("mode"), bulk("sentinel")),
        (bulk("modules"), Frame::Array(Vec::new())),
    ])
}

/// `ACL CAT`: 7.0's command categories, in its order.
const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

fn acl(c: &mut Ctx<'_>) -> Frame {
    let sub = c.arg(1).to_ascii_lowercase();
    match (sub.as_str(), c.args.len()) {
        ("whoami", 2) => bulk("default"),
        ("users", 2) => Frame::Array(vec![bulk("default")]),
        ("list", 2) => {
            let pass = match &c.core.cfg.requirepass {
                Some(p) => format!("#{}", redis_common::sha256::sha256_hex(p.as_bytes())),
                None => "nopass".to_string(),
            };
            Frame::Array(vec![bulk(format!("user default on {pass} ~* &* +@all"))])
        }
        ("cat", 2) => Frame::Array(ACL_CATEGORIES.iter().map(|c| bulk(*c)).collect()),
        ("whoami" | "users" | "list" | "cat", _) => err(format!(
            "ERR wrong number of arguments for 'acl|{sub}' command"
        )),
        _ => err(format!(
            "ERR unknown subcommand '{}'. Try ACL HELP.",
            c.arg(1)
        )),
    }
}

fn command_info(cmd: &Cmd) -> Frame {
    let list = |v: &[&str]| Frame::Set(v.iter().map(|f| Frame::simple(f.to_string())).collect());
    Frame::Array(vec![
        bulk(cmd.name),
        Frame::Integer(i64::from(cmd.arity)),
        list(cmd.flags),
        Frame::Integer(0),
        Frame::Integer(0),
        Frame::Integer(0),
        list(cmd.categories),
        Frame::Set(Vec::new()),
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
    ])
}

fn command(c: &mut Ctx<'_>) -> Frame {
    if c.args.len() == 1 {
        return Frame::Array(TABLE.iter().map(command_info).collect());
    }
    let sub = c.arg(1).to_ascii_lowercase();
    match sub.as_str() {
        "count" if c.args.len() == 2 => Frame::Integer(i64::try_from(TABLE.len()).unwrap_or(0)),
        "list" => Frame::Array(TABLE.iter().map(|t| bulk(t.name)).collect()),
        "info" => {
            let names = c.args_from(2);
            if names.is_empty() {
                return Frame::Array(TABLE.iter().map(command_info).collect());
            }
            Frame::Array(
                names
                    .iter()
                    .map(|n| {
                        TABLE
                            .iter()
                            .find(|t| t.name.eq_ignore_ascii_case(n))
                            .map_or(Frame::NullArray, command_info)
                    })
                    .collect(),
            )
        }
        "docs" => Frame::Map(Vec::new()),
        _ => err(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            c.arg(1)
        )),
    }
}
