//! The command table: which handler serves which command.
//!
//! Arity, flags, key positions and documentation come from the declarative
//! metadata in [`crate::meta`] (recorded from upstream's command JSON via the
//! reference server); this table only binds names to handlers. Everything
//! the dispatcher checks (arity, authentication, flags) is read from here
//! once, in [`crate::state::State::call`]; handlers never repeat those checks.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::ctx::Ctx;
use crate::error::CmdResult;
use crate::meta::{self, CommandMeta};
use crate::{
    aof, bitops, blocking, client_cmd, config_cmd, debug, failover, geo, hash, hyperloglog, info,
    keys, list, persist, pubsub, replica, server, set, sort, stream, string, zset,
};

/// A command handler. `argv[0]` is the command name as sent.
pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// Flag bits precomputed from the metadata for the hot path.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const NO_AUTH: u32 = 1 << 4;
    pub const LOADING: u32 = 1 << 5;
    pub const STALE: u32 = 1 << 6;
    pub const SKIP_MONITOR: u32 = 1 << 7;
    pub const SKIP_SLOWLOG: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NOSCRIPT: u32 = 1 << 10;
    pub const PUBSUB: u32 = 1 << 11;
    pub const NO_MULTI: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
}

/// One registered command or subcommand.
#[derive(Debug)]
pub struct Cmd {
    pub meta: &'static CommandMeta,
    /// `get`, or `config|get` for a subcommand.
    pub full_name: String,
    pub flags: u32,
    /// Index into the per-command statistics.
    pub idx: usize,
    /// `None` for a container command (`CONFIG`), which only dispatches.
    pub handler: Option<Handler>,
    pub subs: NameMap<Cmd>,
}

impl Cmd {
    /// True if every bit of `f` is set.
    pub fn has(&self, f: u32) -> bool {
        self.flags & f == f
    }
}

/// FNV-1a: command names are few, short and fixed, so a keyed hash buys
/// nothing here and SipHash showed up in profiles of the request path.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Map keyed by lower-case command names.
pub type NameMap<V> = HashMap<Vec<u8>, V, std::hash::BuildHasherDefault<Fnv>>;

/// The registered commands.
#[derive(Debug)]
pub struct Registry {
    pub by_name: NameMap<Cmd>,
    /// Full names by statistics index.
    pub names: Vec<String>,
}

/// The bindings of each type module, concatenated with [`TABLE`]. A type
/// module declares `pub const COMMANDS: &[(&str, Handler)]`.
const MODULES: &[&[(&str, Handler)]] = &[
    TABLE,
    list::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    zset::COMMANDS,
    stream::COMMANDS,
    bitops::COMMANDS,
    hyperloglog::COMMANDS,
    geo::COMMANDS,
    sort::COMMANDS,
];

/// The bindings of implemented commands to their handlers.
const TABLE: &[(&str, Handler)] = &[
    // Strings.
    ("append", string::append),
    ("decr", string::decr),
    ("decrby", string::decrby),
    ("get", string::get),
    ("getdel", string::getdel),
    ("getex", string::getex),
    ("getrange", string::getrange),
    ("getset", string::getset),
    ("incr", string::incr),
    ("incrby", string::incrby),
    ("incrbyfloat", string::incrbyfloat),
    ("lcs", string::lcs),
    ("mget", string::mget),
    ("mset", string::mset),
    ("msetnx", string::msetnx),
    ("psetex", string::psetex),
    ("set", string::set),
    ("setex", string::setex),
    ("setnx", string::setnx),
    ("setrange", string::setrange),
    ("strlen", string::strlen),
    ("substr", string::getrange),
    // Generic keyspace.
    ("copy", keys::copy),
    ("del", keys::del),
    ("exists", keys::exists),
    ("expire", keys::expire),
    ("expireat", keys::expireat),
    ("expiretime", keys::expiretime),
    ("keys", keys::keys),
    ("move", keys::move_),
    ("object|encoding", keys::object_encoding),
    ("object|freq", keys::object_freq),
    ("object|help", keys::object_help),
    ("object|idletime", keys::object_idletime),
    ("object|refcount", keys::object_refcount),
    ("persist", keys::persist),
    ("pexpire", keys::pexpire),
    ("pexpireat", keys::pexpireat),
    ("pexpiretime", keys::pexpiretime),
    ("pttl", keys::pttl),
    ("randomkey", keys::randomkey),
    ("rename", keys::rename),
    ("renamenx", keys::renamenx),
    ("scan", keys::scan),
    ("touch", keys::touch),
    ("ttl", keys::ttl),
    ("type", keys::type_),
    ("unlink", keys::del),
    ("dbsize", keys::dbsize),
    ("flushall", keys::flushall),
    ("flushdb", keys::flushdb),
    ("select", keys::select),
    ("swapdb", keys::swapdb),
    // Connection and server.
    ("auth", server::auth),
    ("echo", server::echo),
    ("hello", server::hello),
    ("ping", server::ping),
    ("quit", server::quit),
    ("reset", server::reset),
    ("time", server::time),
    ("lastsave", server::lastsave),
    ("save", persist::cmd_save),
    ("bgsave", persist::cmd_bgsave),
    ("bgrewriteaof", aof::bgrewriteaof),
    ("dump", persist::cmd_dump),
    ("restore", persist::cmd_restore),
    ("shutdown", server::shutdown),
    ("monitor", server::monitor),
    ("multi", server::multi),
    ("exec", server::exec),
    ("discard", server::discard),
    ("watch", server::watch),
    // Replication.
    ("replicaof", replica::replicaof),
    ("slaveof", replica::replicaof),
    ("replconf", replica::replconf),
    ("psync", replica::psync),
    ("sync", replica::sync),
    ("role", replica::role),
    ("wait", replica::wait),
    ("failover", failover::failover),
    // Blocking commands.
    ("blpop", blocking::blpop),
    ("brpop", blocking::brpop),
    ("blmove", blocking::blmove),
    ("brpoplpush", blocking::brpoplpush),
    ("blmpop", blocking::blmpop),
    ("bzpopmin", blocking::bzpopmin),
    ("bzpopmax", blocking::bzpopmax),
    ("bzmpop", blocking::bzmpop),
    ("unwatch", server::unwatch),
    // Pub/Sub.
    ("subscribe", pubsub::cmd_subscribe),
    ("psubscribe", pubsub::cmd_psubscribe),
    ("ssubscribe", pubsub::cmd_ssubscribe),
    ("unsubscribe", pubsub::cmd_unsubscribe),
    ("punsubscribe", pubsub::cmd_punsubscribe),
    ("sunsubscribe", pubsub::cmd_sunsubscribe),
    ("publish", pubsub::cmd_publish),
    ("spublish", pubsub::cmd_spublish),
    ("pubsub|channels", pubsub::cmd_pubsub_channels),
    ("pubsub|shardchannels", pubsub::cmd_pubsub_shardchannels),
    ("pubsub|numsub", pubsub::cmd_pubsub_numsub),
    ("pubsub|shardnumsub", pubsub::cmd_pubsub_shardnumsub),
    ("pubsub|numpat", pubsub::cmd_pubsub_numpat),
    ("pubsub|help", pubsub::cmd_pubsub_help),
    ("command", server::command),
    ("command|count", server::command_count),
    ("command|docs", server::command_docs),
    ("command|getkeys", server::command_getkeys),
    ("command|help", server::command_help),
    ("command|info", server::command_info),
    ("command|list", server::command_list),
    ("slowlog|get", server::slowlog_get),
    ("slowlog|len", server::slowlog_len),
    ("slowlog|reset", server::slowlog_reset),
    ("slowlog|help", server::slowlog_help),
    ("latency|latest", server::latency_latest),
    ("latency|history", server::latency_history),
    ("latency|reset", server::latency_reset),
    ("latency|help", server::latency_help),
    ("memory|usage", server::memory_usage),
    ("memory|help", server::memory_help),
    ("info", info::info),
    ("client|id", client_cmd::id),
    ("client|setname", client_cmd::setname),
    ("client|getname", client_cmd::getname),
    ("client|list", client_cmd::list),
    ("client|info", client_cmd::info),
    ("client|kill", client_cmd::kill),
    ("client|pause", client_cmd::pause),
    ("client|unpause", client_cmd::unpause),
    ("client|unblock", client_cmd::unblock),
    ("client|reply", client_cmd::reply),
    ("client|no-evict", client_cmd::no_evict),
    ("client|help", client_cmd::help),
    ("config|get", config_cmd::get),
    ("config|set", config_cmd::set),
    ("config|resetstat", config_cmd::resetstat),
    ("config|rewrite", config_cmd::rewrite),
    ("config|help", config_cmd::help),
    ("debug", debug::debug),
];

fn flag_bits(m: &CommandMeta) -> u32 {
    use flags::*;
    let mut f = 0;
    for (name, bit) in [
        ("write", WRITE),
        ("readonly", READONLY),
        ("denyoom", DENYOOM),
        ("admin", ADMIN),
        ("no_auth", NO_AUTH),
        ("loading", LOADING),
        ("stale", STALE),
        ("skip_monitor", SKIP_MONITOR),
        ("skip_slowlog", SKIP_SLOWLOG),
        ("fast", FAST),
        ("noscript", NOSCRIPT),
        ("pubsub", PUBSUB),
        ("no_multi", NO_MULTI),
        ("allow_busy", ALLOW_BUSY),
    ] {
        if m.has_flag(name) {
            f |= bit;
        }
    }
    f
}

fn new_cmd(meta: &'static CommandMeta, names: &mut Vec<String>) -> Cmd {
    let idx = names.len();
    names.push(meta.name.clone());
    Cmd {
        meta,
        full_name: meta.name.clone(),
        flags: flag_bits(meta),
        idx,
        handler: None,
        subs: NameMap::default(),
    }
}

fn build() -> Registry {
    let mut reg = Registry {
        by_name: NameMap::default(),
        names: Vec::new(),
    };
    for (name, handler) in MODULES.iter().flat_map(|m| m.iter()) {
        let (top, sub) = match name.split_once('|') {
            Some((t, s)) => (t, Some(s)),
            None => (*name, None),
        };
        // A binding without metadata is a programming error caught by the
        // `every_binding_has_metadata` test; skip it rather than panic.
        let Some(top_meta) = meta::find(top.as_bytes()) else {
            continue;
        };
        if !reg.by_name.contains_key(top.as_bytes()) {
            let c = new_cmd(top_meta, &mut reg.names);
            reg.by_name.insert(top.as_bytes().to_vec(), c);
        }
        let Some(parent) = reg.by_name.get_mut(top.as_bytes()) else {
            continue;
        };
        match sub {
            None => parent.handler = Some(*handler),
            Some(s) => {
                let Some(sub_meta) = meta::find_sub(top_meta, s.as_bytes()) else {
                    continue;
                };
                let mut c = new_cmd(sub_meta, &mut reg.names);
                c.handler = Some(*handler);
                parent.subs.insert(s.as_bytes().to_vec(), c);
            }
        }
    }
    reg
}

/// The process-wide registry.
pub fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(build)
}

impl Registry {
    /// Looks a command up by name, case-insensitively, without allocating
    /// for names of ordinary length.
    pub fn lookup(&self, name: &[u8]) -> Option<&Cmd> {
        let mut buf = [0u8; 32];
        if name.len() <= buf.len() {
            let lower = &mut buf[..name.len()];
            lower.copy_from_slice(name);
            lower.make_ascii_lowercase();
            self.by_name.get(&*lower)
        } else {
            self.by_name.get(&name.to_ascii_lowercase())
        }
    }

    /// Looks up a subcommand of `parent`.
    pub fn lookup_sub<'a>(&self, parent: &'a Cmd, sub: &[u8]) -> Option<&'a Cmd> {
        let mut buf = [0u8; 32];
        if sub.len() <= buf.len() {
            let lower = &mut buf[..sub.len()];
            lower.copy_from_slice(sub);
            lower.make_ascii_lowercase();
            parent.subs.get(&*lower)
        } else {
            parent.subs.get(&sub.to_ascii_lowercase())
        }
    }

    /// Number of statistics slots.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_has_metadata() {
        for (name, _) in MODULES.iter().flat_map(|m| m.iter()) {
            let (top, sub) = match name.split_once('|') {
                Some((t, s)) => (t, Some(s)),
                None => (*name, None),
            };
            let m = meta::find(top.as_bytes()).unwrap_or_else(|| panic!("no metadata for {top}"));
            if let Some(s) = sub {
                assert!(
                    meta::find_sub(m, s.as_bytes()).is_some(),
                    "no metadata for {name}"
                );
            }
        }
    }
}
