//! The command table: which handler serves which command, under which name
//! (`rename-command` applied), and the lookup of a request's command or
//! subcommand ([`Registry::resolve`]).
//!
//! Arity, flags, key positions and documentation come from the declarative
//! metadata in [`crate::meta`] (recorded from upstream's command JSON via the
//! reference server); this table binds names to the handlers each
//! `redis-commands` module exports and precomputes flag bits. Everything
//! the dispatcher checks (arity, authentication, flags) is read from here
//! once, in [`crate::dispatch`]; handlers never repeat those checks. A table
//! that cannot be built fails with a [`RegistryError`].

use std::collections::HashMap;

use bytes::Bytes;

use crate::ctx::Ctx;
use crate::error::{self, truncated, CmdError, CmdResult};
use crate::meta::{self, CommandMeta};

/// A command handler. `argv[0]` is the command name as sent.
pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// Why the command table cannot be built. The `rename-command` texts are
/// upstream's configuration errors; the others are for developers (a
/// handler bound under a name the metadata does not know).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A handler is bound to a command without metadata.
    #[error("no metadata for command '{0}'")]
    NoCommandMeta(String),
    /// A handler is bound to a subcommand (`parent|sub`) without metadata.
    #[error("no metadata for subcommand '{0}'")]
    NoSubcommandMeta(String),
    /// `rename-command` names a command that does not exist (any more).
    #[error("No such command in rename-command")]
    NoSuchCommand,
    /// `rename-command`'s new name is taken.
    #[error("Target command name already exists")]
    TargetExists,
}

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
    /// Upstream's internal `MAY_REPLICATE` (not shown by `COMMAND INFO`,
    /// so set by name from [`MAY_REPLICATE_COMMANDS`](super::MAY_REPLICATE_COMMANDS)).
    pub const MAY_REPLICATE: u32 = 1 << 14;
    /// Refused with `-LOADING` during an async (swapdb) load.
    pub const NO_ASYNC_LOADING: u32 = 1 << 15;
}

/// Commands the dispatcher treats specially, recognised once when the
/// table is built so the checks compare an enum, not names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    None,
    Exec,
    Discard,
    Multi,
    Watch,
    Quit,
    Reset,
    Ping,
    /// Protected by `enable-debug-command`.
    Debug,
    /// `EVAL`/`EVAL_RO` and `EVALSHA`/`EVALSHA_RO`: their flags come from
    /// the script's shebang.
    Eval,
    EvalSha,
    /// `FCALL`/`FCALL_RO`: their flags come from the function's.
    Fcall,
    /// Protected by `enable-module-command`.
    Module,
    /// The (P|S)(UN)SUBSCRIBE family, allowed in RESP2 pub/sub mode.
    Subscription,
}

impl Special {
    fn of(full_name: &str) -> Special {
        match full_name {
            "exec" => Special::Exec,
            "discard" => Special::Discard,
            "multi" => Special::Multi,
            "watch" => Special::Watch,
            "quit" => Special::Quit,
            "reset" => Special::Reset,
            "ping" => Special::Ping,
            "debug" => Special::Debug,
            "eval" | "eval_ro" => Special::Eval,
            "evalsha" | "evalsha_ro" => Special::EvalSha,
            "fcall" | "fcall_ro" => Special::Fcall,
            "module" => Special::Module,
            "subscribe" | "ssubscribe" | "psubscribe" | "unsubscribe" | "sunsubscribe"
            | "punsubscribe" => Special::Subscription,
            _ => Special::None,
        }
    }
}

/// One registered command or subcommand.
#[derive(Debug)]
pub struct Cmd {
    pub meta: &'static CommandMeta,
    /// `get`, or `config|get` for a subcommand.
    pub full_name: String,
    pub flags: u32,
    /// What the dispatcher needs to know about this command by name.
    pub special: Special,
    /// Index into the per-command statistics.
    pub idx: usize,
    /// A subcommand (`config|get`): its first argument is `argv[2]`.
    pub is_sub: bool,
    /// Which arguments are pub/sub channels, for the ACL check.
    pub channel_args: ChannelArgs,
    /// `None` for a container command (`CONFIG`), which only dispatches.
    pub handler: Option<Handler>,
    pub subs: NameMap<Cmd>,
}

/// The arguments of a command an ACL check must match against the user's
/// channel patterns (upstream's `getChannelsFromCommand`, without the
/// unsubscribe family), decided once per command rather than per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelArgs {
    /// No channel arguments.
    None,
    /// `PUBLISH`/`SPUBLISH`: the first argument.
    First,
    /// `SUBSCRIBE`/`SSUBSCRIBE`: every argument.
    All,
    /// `PSUBSCRIBE`: every argument, each a pattern.
    AllPatterns,
}

impl ChannelArgs {
    fn of(full_name: &str) -> ChannelArgs {
        match full_name {
            "publish" | "spublish" => ChannelArgs::First,
            "subscribe" | "ssubscribe" => ChannelArgs::All,
            "psubscribe" => ChannelArgs::AllPatterns,
            _ => ChannelArgs::None,
        }
    }
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
#[derive(Debug, Default)]
pub struct Registry {
    pub by_name: NameMap<Cmd>,
    /// Full names by statistics index.
    pub names: Vec<String>,
}

/// Commands upstream flags `MAY_REPLICATE`: held by `CLIENT PAUSE WRITE`
/// and refused to replica links like writes.
pub const MAY_REPLICATE_COMMANDS: &[&str] =
    &["publish", "spublish", "pfcount", "eval", "evalsha", "fcall"];

fn flag_bits(m: &CommandMeta) -> u32 {
    use flags::*;
    let mut f = 0;
    if MAY_REPLICATE_COMMANDS.contains(&m.name.as_str()) {
        f |= MAY_REPLICATE;
    }
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
        ("no_async_loading", NO_ASYNC_LOADING),
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
        special: Special::of(&meta.name),
        idx,
        is_sub: meta.name.contains('|'),
        channel_args: ChannelArgs::of(&meta.name),
        handler: None,
        subs: NameMap::default(),
    }
}

impl Registry {
    /// Builds the table from handler lists (each command module exports
    /// one). A binding whose name has no metadata is an error: it would
    /// serve a command `COMMAND INFO` cannot describe.
    pub fn build(modules: &[&[(&str, Handler)]]) -> Result<Registry, RegistryError> {
        Registry::build_with(modules, true)
    }

    /// [`Registry::build`], then `rename-command` applied in order:
    /// `(from, to)` moves the command `from` to the name `to`, or removes
    /// it when `to` is empty. As upstream, a renamed command keeps its
    /// own name everywhere else (`COMMAND INFO`, `INFO commandstats`,
    /// error texts): only the name it is looked up by changes. The error
    /// is upstream's config error text.
    pub fn build_with_renames(
        modules: &[&[(&str, Handler)]],
        renames: &[(String, String)],
    ) -> Result<Registry, RegistryError> {
        let mut reg = Registry::build(modules)?;
        reg.rename_all(renames)?;
        Ok(reg)
    }

    /// Applies `rename-command` pairs (see [`Registry::build_with_renames`]).
    pub fn rename_all(&mut self, renames: &[(String, String)]) -> Result<(), RegistryError> {
        for (from, to) in renames {
            let Some(cmd) = self.by_name.remove(from.to_ascii_lowercase().as_bytes()) else {
                return Err(RegistryError::NoSuchCommand);
            };
            if to.is_empty() {
                continue;
            }
            let key = to.to_ascii_lowercase().into_bytes();
            if self.by_name.contains_key(&key) {
                return Err(RegistryError::TargetExists);
            }
            self.by_name.insert(key, cmd);
        }
        Ok(())
    }

    /// [`Registry::build`] skipping bindings without metadata.
    pub fn lenient(modules: &[&[(&str, Handler)]]) -> Registry {
        // Only the strict mode fails.
        Registry::build_with(modules, false).unwrap_or_default()
    }

    /// An empty table (engine unit tests that run no command).
    pub fn empty() -> &'static Registry {
        static EMPTY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Registry::default)
    }

    fn build_with(modules: &[&[(&str, Handler)]], strict: bool) -> Result<Registry, RegistryError> {
        let mut reg = Registry {
            by_name: NameMap::default(),
            names: Vec::new(),
        };
        for (name, handler) in modules.iter().flat_map(|m| m.iter()) {
            let (top, sub) = match name.split_once('|') {
                Some((t, s)) => (t, Some(s)),
                None => (*name, None),
            };
            let Some(top_meta) = meta::find(top.as_bytes()) else {
                if strict {
                    return Err(RegistryError::NoCommandMeta(top.to_string()));
                }
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
                        if strict {
                            return Err(RegistryError::NoSubcommandMeta(name.to_string()));
                        }
                        continue;
                    };
                    let mut c = new_cmd(sub_meta, &mut reg.names);
                    c.handler = Some(*handler);
                    parent.subs.insert(s.as_bytes().to_vec(), c);
                }
            }
        }
        Ok(reg)
    }

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

impl Registry {
    /// Finds the command (or subcommand) `argv` names. The error carries the
    /// statistics slot to count a rejection against, if any.
    pub fn resolve(&self, argv: &[Bytes]) -> Result<&Cmd, (CmdError, Option<usize>)> {
        let reg = self;
        let Some(name) = argv.first() else {
            return Err((CmdError::fixed("ERR empty command"), None));
        };
        let Some(top) = reg.lookup(name) else {
            // Upstream appends `'arg' ` while the list is under 128 bytes, each
            // argument cut to the room left.
            let mut args = String::new();
            for a in argv.iter().skip(1) {
                if args.len() >= 128 {
                    break;
                }
                let room = 128 - args.len();
                args.push('\'');
                args.push_str(&truncated(a, room));
                args.push_str("' ");
            }
            let msg = format!(
                "ERR unknown command '{}', with args beginning with: {args}",
                truncated(name, 128)
            );
            return Err((CmdError::msg(msg), None));
        };
        if top.subs.is_empty() {
            return Ok(top);
        }
        // A container command dispatches on its first argument; COMMAND alone
        // also has a handler of its own.
        match argv.get(1) {
            None if top.handler.is_some() => Ok(top),
            None => Err((error::wrong_arity(&top.full_name), Some(top.idx))),
            Some(sub) => match reg.lookup_sub(top, sub) {
                Some(c) => Ok(c),
                // Named as sent: a renamed container says `Try NEWNAME HELP`.
                None => Err((
                    error::unknown_subcommand(sub, &String::from_utf8_lossy(name)),
                    None,
                )),
            },
        }
    }
}
