//! ACL wiring: the engine's [`Catalog`] over its command table
//! ([`EngineCatalog`]), the users and the ACL LOG behind the server lock
//! ([`Acl`]), and the permission check the dispatcher, `EXEC` and scripts
//! run (upstream's `ACLCheckAllPerm` and `addACLLogEntry`). The ACL model
//! itself is `redis-acl`.
//!
//! Hot path: a client of the `default` user while that user may run
//! everything (`on`, `+@all ~* &*`, the default) skips the check entirely
//! ([`State::acl_needs_check`] is a flag test and a short compare).

use std::collections::HashMap;

use bytes::Bytes;
use redis_acl::{
    AclLog, Catalog, Category, CategorySet, ChannelRef, CheckRequest, CmdId, Denied, KeyAccess,
    LogContext, LogEntry, LogReason, PubsubDefault, User, Users, DEFAULT_USER,
};

use crate::client::Client;
use crate::meta::{CommandMeta, KeySpec};
use crate::table::{flags, ChannelArgs, Cmd, Registry};
use crate::State;

/// The command table as the ACL model sees it: every registered command
/// and subcommand, its statistics index as its [`CmdId`].
#[derive(Debug, Default)]
pub struct EngineCatalog {
    top: Vec<CmdId>,
    subs: Vec<Vec<CmdId>>,
    parent: Vec<Option<CmdId>>,
    names: Vec<String>,
    cats: Vec<CategorySet>,
    by_name: HashMap<String, CmdId>,
    sub_by_name: HashMap<(u32, String), CmdId>,
}

fn categories_of(m: &CommandMeta) -> CategorySet {
    let cats: Vec<Category> = m
        .acl_categories
        .iter()
        .filter_map(|c| Category::from_name(c.as_bytes()))
        .collect();
    CategorySet::of(&cats)
}

fn id_of(cmd: &Cmd) -> CmdId {
    CmdId(u32::try_from(cmd.idx).unwrap_or(u32::MAX))
}

impl EngineCatalog {
    /// The catalog of `reg` (commands sorted by name, so `ACL LIST` is
    /// stable across runs).
    pub fn new(reg: &Registry) -> EngineCatalog {
        let n = reg.len();
        let mut c = EngineCatalog {
            top: Vec::new(),
            subs: vec![Vec::new(); n],
            parent: vec![None; n],
            names: reg.names.clone(),
            cats: vec![CategorySet::EMPTY; n],
            by_name: HashMap::new(),
            sub_by_name: HashMap::new(),
        };
        let mut tops: Vec<&Cmd> = reg.by_name.values().collect();
        tops.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        for cmd in tops {
            let id = id_of(cmd);
            c.top.push(id);
            c.by_name.insert(cmd.full_name.clone(), id);
            if let Some(slot) = c.cats.get_mut(cmd.idx) {
                *slot = categories_of(cmd.meta);
            }
            let mut subs: Vec<&Cmd> = cmd.subs.values().collect();
            subs.sort_by(|a, b| a.full_name.cmp(&b.full_name));
            let mut ids = Vec::with_capacity(subs.len());
            for sub in subs {
                let sid = id_of(sub);
                ids.push(sid);
                if let Some(slot) = c.cats.get_mut(sub.idx) {
                    *slot = categories_of(sub.meta);
                }
                if let Some(slot) = c.parent.get_mut(sub.idx) {
                    *slot = Some(id);
                }
                let short = sub
                    .full_name
                    .split_once('|')
                    .map_or(sub.full_name.as_str(), |(_, s)| s);
                c.sub_by_name.insert((id.0, short.to_string()), sid);
            }
            if let Some(slot) = c.subs.get_mut(cmd.idx) {
                *slot = ids;
            }
        }
        c
    }
}

impl Catalog for EngineCatalog {
    fn commands(&self) -> &[CmdId] {
        &self.top
    }

    fn subcommands(&self, cmd: CmdId) -> &[CmdId] {
        self.subs.get(cmd.0 as usize).map_or(&[], Vec::as_slice)
    }

    fn lookup(&self, name: &str) -> Option<CmdId> {
        self.by_name.get(name).copied()
    }

    fn subcommand(&self, parent: CmdId, name: &str) -> Option<CmdId> {
        self.sub_by_name.get(&(parent.0, name.to_string())).copied()
    }

    fn parent(&self, cmd: CmdId) -> Option<CmdId> {
        self.parent.get(cmd.0 as usize).copied().flatten()
    }

    fn full_name(&self, cmd: CmdId) -> String {
        self.names.get(cmd.0 as usize).cloned().unwrap_or_default()
    }

    fn categories(&self, cmd: CmdId) -> CategorySet {
        self.cats
            .get(cmd.0 as usize)
            .copied()
            .unwrap_or(CategorySet::EMPTY)
    }
}

/// The ACL state behind the server lock.
#[derive(Debug)]
pub struct Acl {
    pub users: Users,
    pub log: AclLog,
    pub catalog: EngineCatalog,
    /// The `default` user is on and may run everything: its clients are
    /// not checked.
    pub default_open: bool,
    /// The `default` user is on and needs no password: new clients start
    /// authenticated and nothing asks for `AUTH`.
    pub default_nopass: bool,
    /// The `requirepass` value last applied to the default user.
    applied_requirepass: Option<String>,
}

impl Acl {
    /// Only the default user, over `reg`'s commands.
    pub fn new(reg: &Registry) -> Acl {
        let mut a = Acl {
            users: Users::new(),
            log: AclLog::default(),
            catalog: EngineCatalog::new(reg),
            default_open: true,
            default_nopass: true,
            applied_requirepass: None,
        };
        a.refresh();
        a
    }

    /// Recomputes the cached facts about the default user; call after any
    /// change to the users.
    pub fn refresh(&mut self) {
        let d = self.users.default_user();
        let root = d.root();
        self.default_open =
            d.enabled() && root.all_commands() && root.all_keys() && root.all_channels();
        self.default_nopass = d.enabled() && d.nopass();
    }

    /// The ACL directives of the configuration: `requirepass`,
    /// `acllog-max-len`, `acl-pubsub-default`.
    pub fn apply_config(&mut self, c: &redis_config::Config) {
        self.apply_requirepass(c.get_str("requirepass"));
        self.log
            .set_max_len(usize::try_from(c.get_int("acllog-max-len")).unwrap_or(0));
        let pubsub = if c.get_enum("acl-pubsub-default") == "allchannels" {
            PubsubDefault::AllChannels
        } else {
            PubsubDefault::ResetChannels
        };
        self.users.set_pubsub_default(pubsub);
    }

    /// `requirepass` (at startup and on `CONFIG SET`): applied to the
    /// default user when it changed.
    pub fn apply_requirepass(&mut self, pass: &str) {
        if self.applied_requirepass.as_deref() == Some(pass) {
            return;
        }
        self.applied_requirepass = Some(pass.to_string());
        let p = (!pass.is_empty()).then_some(pass.as_bytes());
        self.users.set_requirepass(p, &self.catalog);
        self.refresh();
    }
}

/// What a key spec lets an ACL check ask: read for `ACCESS`, write for
/// `INSERT`/`DELETE`/`UPDATE`.
fn access_of_spec(s: &KeySpec) -> KeyAccess {
    KeyAccess {
        read: s.has_bits(KeySpec::ACCESS),
        write: s.has_bits(KeySpec::WRITE),
    }
}

fn access_of(spec: Option<&KeySpec>, m: &CommandMeta) -> KeyAccess {
    match spec {
        Some(s) => access_of_spec(s),
        None => m.key_specs.iter().fold(KeyAccess::NONE, |acc, s| {
            let a = access_of_spec(s);
            KeyAccess {
                read: acc.read || a.read,
                write: acc.write || a.write,
            }
        }),
    }
}

/// The access upstream's key functions give the keys of the commands whose
/// spec says `variable_flags` (`SET` reads only with `GET`, `BITFIELD`
/// writes unless it only has `GET`/`OVERFLOW`): read from the same flags
/// `COMMAND GETKEYSANDFLAGS` shows ([`crate::meta::variable_key_flags`]).
fn variable_access(cmd: &Cmd, argv: &[Bytes]) -> KeyAccess {
    match crate::meta::variable_key_flags(cmd.meta, argv) {
        Some(flags) => KeyAccess {
            read: flags.reads(),
            write: flags.writes(),
        },
        None => KeyAccess::READ_WRITE,
    }
}

/// The channels a command publishes or subscribes to (upstream's
/// `getChannelsFromCommand`, without the unsubscribe family).
fn channels_of<'a>(cmd: &Cmd, argv: &'a [Bytes]) -> Vec<ChannelRef<'a>> {
    let lit = |b: &'a Bytes| ChannelRef {
        name: b,
        is_pattern: false,
    };
    match cmd.channel_args {
        ChannelArgs::None => Vec::new(),
        ChannelArgs::First => argv.get(1).map(lit).into_iter().collect(),
        ChannelArgs::All => argv.iter().skip(1).map(lit).collect(),
        ChannelArgs::AllPatterns => argv
            .iter()
            .skip(1)
            .map(|b| ChannelRef {
                name: b,
                is_pattern: true,
            })
            .collect(),
    }
}

/// Checks `argv` (resolved to `cmd`) for `user`; on refusal, why and the
/// refused object (the command's full name, the key or the channel).
pub fn check_user(user: &User, cmd: &Cmd, argv: &[Bytes]) -> Result<(), (Denied, Vec<u8>)> {
    let id = id_of(cmd);
    let no_auth = cmd.has(flags::NO_AUTH);
    let first_arg = if cmd.is_sub { argv.get(2) } else { argv.get(1) }.map(|b| &b[..]);
    let m = cmd.meta;
    // A selector that allows the command and every key and channel it
    // could name settles it without looking at the arguments (a user
    // with `~*`, or a keyless command): upstream's shortcut too.
    let needs_channels = cmd.channel_args != ChannelArgs::None;
    let mut has_keys = None;
    for s in user.all_selectors() {
        if (no_auth || s.allows_command(id, first_arg))
            && (s.all_channels() || !needs_channels)
            && (s.all_keys() || !*has_keys.get_or_insert_with(|| m.has_keys()))
        {
            return Ok(());
        }
    }
    let access = |spec: Option<&KeySpec>| match spec {
        Some(s) if s.has_bits(KeySpec::VARIABLE_FLAGS) => variable_access(cmd, argv),
        _ => access_of(spec, cmd.meta),
    };
    // A user of one selector (most are) and a command without channels:
    // each key goes straight from the specs to the selector, in
    // `check_selector`'s order (command, then keys), building nothing.
    // Measured: a third of the general path's cost in the server.
    if user.selectors().is_empty() && !needs_channels && m.arity_ok(argv.len()) {
        let s = user.root();
        if !no_auth && !s.allows_command(id, first_arg) {
            return Err((Denied::Command, cmd.full_name.as_bytes().to_vec()));
        }
        let mut seen = 0usize;
        let mut refused: Option<(usize, &[u8])> = None;
        let complete = crate::meta::each_spec_key(m, argv, |pos, i| {
            let Some(k) = argv.get(pos) else {
                return;
            };
            if refused.is_none() && !s.allows_key(k, access(m.key_specs.get(i))) {
                refused = Some((seen, &k[..]));
            }
            seen += 1;
        });
        if complete.is_some() {
            return match refused {
                None => Ok(()),
                Some((i, k)) => Err((Denied::Key(i), k.to_vec())),
            };
        }
        // A spec that cannot be applied: the general path below.
    }
    // The keys straight from the specs, on the stack up to INLINE_KEYS
    // (this runs for every command of a restricted user); the
    // per-command extraction when the specs cannot be applied.
    const INLINE_KEYS: usize = 8;
    let mut inline = [(&b""[..], KeyAccess::NONE); INLINE_KEYS];
    let mut n = 0;
    let mut spilled: Vec<(&[u8], KeyAccess)> = Vec::new();
    let from_specs = !m.has_keys()
        || !m.arity_ok(argv.len())
        || crate::meta::each_spec_key(m, argv, |pos, i| {
            let Some(k) = argv.get(pos) else {
                return;
            };
            let key = (&k[..], access(m.key_specs.get(i)));
            match inline.get_mut(n) {
                Some(slot) if spilled.is_empty() => {
                    *slot = key;
                    n += 1;
                }
                _ => {
                    if spilled.is_empty() {
                        spilled.extend_from_slice(&inline[..n]);
                    }
                    spilled.push(key);
                }
            }
        })
        .is_some();
    if !from_specs {
        spilled = crate::meta::keys_with_specs(m, argv)
            .into_iter()
            .filter_map(|(pos, spec)| argv.get(pos).map(|k| (&k[..], access(spec))))
            .collect();
        n = 0;
    }
    let keys: &[(&[u8], KeyAccess)] = if spilled.is_empty() {
        inline.get(..n).unwrap_or_default()
    } else {
        &spilled
    };
    let channels = channels_of(cmd, argv);
    let req = CheckRequest {
        cmd: id,
        no_auth,
        first_arg,
        keys,
        channels: &channels,
    };
    user.check(&req).map_err(|d| {
        let object = match d {
            Denied::Command => cmd.full_name.as_bytes().to_vec(),
            Denied::Key(i) => keys.get(i).map(|k| k.0.to_vec()).unwrap_or_default(),
            Denied::Channel(i) => channels.get(i).map(|c| c.name.to_vec()).unwrap_or_default(),
        };
        (d, object)
    })
}

/// The reply of a command refused when queued commands run in `EXEC`.
pub fn exec_denied_message(d: Denied) -> String {
    let reason = match d {
        Denied::Command => "no permission to execute the command or subcommand",
        Denied::Key(_) => "no permission to touch the specified keys",
        Denied::Channel(_) => "no permission to access one of the channels used as arguments",
    };
    format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"
    )
}

/// The error a script's `redis.call` gets for a refused command.
pub fn script_denied_message(d: Denied) -> &'static str {
    match d {
        Denied::Command => "ERR The user executing the script can't run this command or subcommand",
        Denied::Key(_) => "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments",
        Denied::Channel(_) => "ERR The user executing the script can't publish to the channel mentioned in the command",
    }
}

impl State {
    /// Whether `client`'s commands must be checked at all (false on the
    /// hot path: the unrestricted default user).
    #[inline]
    pub fn acl_needs_check(&self, client: &Client) -> bool {
        !(self.acl.default_open && client.user.as_bytes() == DEFAULT_USER)
    }

    /// Whether `client`'s user may run `argv` with read access to every
    /// key (upstream's `ACLUserCheckCmdWithUnrestrictedKeyAccess`, for
    /// SORT's BY and GET patterns).
    pub fn acl_full_key_read(&self, client: &Client, argv: &[Bytes]) -> bool {
        if !self.acl_needs_check(client) {
            return true;
        }
        let Ok(cmd) = self.registry.resolve(argv) else {
            return false;
        };
        let Some(user) = self.acl.users.get(client.user.as_bytes()) else {
            return false;
        };
        let first_arg = argv.get(1).map(|b| &b[..]);
        user.all_selectors().any(|s| {
            s.allows_command(id_of(cmd), first_arg)
                && (s.all_keys() || s.key_patterns().iter().any(|p| p.pattern == b"*" && p.read))
        })
    }

    /// Whether clients must authenticate before running commands (the
    /// default user is off or has passwords).
    #[inline]
    pub fn acl_auth_required(&self) -> bool {
        !self.acl.default_nopass
    }

    /// Checks a command of `client` and logs a refusal in `context`.
    pub fn acl_check_command(
        &mut self,
        client: &Client,
        cmd: &Cmd,
        argv: &[Bytes],
        context: LogContext,
        now: i64,
    ) -> Result<(), Denied> {
        let Some(user) = self.acl.users.get(client.user.as_bytes()) else {
            // The user was deleted under this client (it is being closed).
            return Err(Denied::Command);
        };
        match check_user(user, cmd, argv) {
            Ok(()) => Ok(()),
            Err((d, object)) => {
                let username = client.user.clone().into_bytes();
                let name = cmd.full_name.as_str();
                self.acl_log(client.id, &username, d.into(), context, &object, name, now);
                Err(d)
            }
        }
    }

    /// Adds an ACL LOG entry for `client_id`.
    /// `cmd_name` is the command being refused (the client's `cmd=` from
    /// now on, as upstream sets it before its checks).
    #[allow(clippy::too_many_arguments)]
    pub fn acl_log(
        &mut self,
        client_id: u64,
        username: &[u8],
        reason: LogReason,
        context: LogContext,
        object: &[u8],
        cmd_name: &str,
        now: i64,
    ) {
        let info = match self.clients.get_mut(&client_id) {
            Some(c) => {
                if c.last_cmd != cmd_name {
                    c.last_cmd = cmd_name.to_string();
                }
                c.line(now)
            }
            None => String::new(),
        };
        self.acl.log.add(LogEntry::new(
            reason,
            context,
            object,
            username,
            info.as_bytes(),
            now,
        ));
    }

    /// Authenticates `client` as `name`/`pass` (`AUTH`, `HELLO AUTH`); a
    /// failure is logged and answered `WRONGPASS` by the caller.
    pub fn acl_authenticate(
        &mut self,
        client: &mut Client,
        name: &[u8],
        pass: &[u8],
        now: i64,
    ) -> bool {
        if self.acl.users.authenticate(name, pass) {
            let name = String::from_utf8_lossy(name).into_owned();
            if let Some(info) = self.clients.get_mut(&client.id) {
                info.user.clone_from(&name);
            }
            client.user = name;
            client.authenticated = true;
            true
        } else {
            let context = if client.multi.is_some() {
                LogContext::Multi
            } else {
                LogContext::TopLevel
            };
            self.acl_log(
                client.id,
                name,
                LogReason::Auth,
                context,
                b"AUTH",
                "auth",
                now,
            );
            false
        }
    }

    /// After users changed: closes the clients of users that no longer
    /// exist (`only`: just those names; `None`: every client whose user is
    /// not `default`, as `ACL LOAD` replaces every user) and the pub/sub
    /// clients of changed users that lost a subscription's permission.
    /// `me` is the client that made the change: it is closed after its
    /// reply.
    pub fn acl_users_changed(&mut self, me: &mut Client, deleted: Option<&[Vec<u8>]>) {
        let mut victims: Vec<u64> = Vec::new();
        for info in self.clients.values() {
            let gone = match deleted {
                Some(names) => names.iter().any(|n| n.as_slice() == info.user.as_bytes()),
                None => info.user.as_bytes() != DEFAULT_USER,
            };
            if gone {
                victims.push(info.id);
            }
        }
        for id in self.acl_revoked_subscribers() {
            if !victims.contains(&id) {
                victims.push(id);
            }
        }
        self.acl.refresh();
        for id in victims {
            if id == me.id {
                me.close_after_reply = true;
            } else if let Some(c) = self.clients.get(&id) {
                c.signal.kill();
            }
        }
    }

    /// Clients subscribed to a channel or pattern their user may no
    /// longer access.
    fn acl_revoked_subscribers(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let user_of = |id: &u64| self.clients.get(id).map(|c| c.user.clone());
        let mut check = |map: &HashMap<Bytes, Vec<u64>>, is_pattern: bool| {
            for (name, ids) in map {
                for id in ids {
                    let Some(uname) = user_of(id) else { continue };
                    let Some(user) = self.acl.users.get(uname.as_bytes()) else {
                        continue;
                    };
                    if !user.can_access_channel(ChannelRef { name, is_pattern })
                        && !out.contains(id)
                    {
                        out.push(*id);
                    }
                }
            }
        };
        check(&self.pubsub.channels, false);
        check(&self.pubsub.shard_channels, false);
        check(&self.pubsub.patterns, true);
        out
    }
}

/// The check of a `user` line while the configuration is read.
pub use redis_acl::check_config_line;

/// Upstream's refusal to start with both `user` directives and `aclfile`.
pub const USERS_AND_ACLFILE: &str = "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.";

impl State {
    /// At startup: the `user` directives of the configuration, or the
    /// `aclfile` (not both). The error is the lines to log before exiting.
    pub fn acl_startup(&mut self) -> Result<(), String> {
        let declared = self.config.extra_directives("user");
        let aclfile = self.config.get_str("aclfile").to_string();
        if !declared.is_empty() && !aclfile.is_empty() {
            return Err(USERS_AND_ACLFILE.to_string());
        }
        let acl = &mut self.acl;
        let notices = acl
            .users
            .load_configured(&declared, &acl.catalog)
            .map_err(|e| format!("{e}\nCritical error while loading ACLs. Exiting."))?;
        for n in notices {
            self.log(crate::state::LogLevel::Notice, &n);
        }
        self.acl.refresh();
        if !aclfile.is_empty() {
            self.acl_load_file(&aclfile)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        }
        Ok(())
    }

    /// The `user` lines `CONFIG REWRITE` writes (every user, as `ACL LIST`
    /// shows it), or `None` when an `aclfile` holds the users (the file's
    /// `user` lines are then dropped, as upstream does).
    pub fn acl_config_lines(&self) -> Option<Vec<String>> {
        if !self.config.get_str("aclfile").is_empty() {
            return None;
        }
        Some(
            self.acl
                .users
                .list(&self.acl.catalog)
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect(),
        )
    }

    /// `ACL LOAD` (and startup with `aclfile`): replaces every user with
    /// the file's, or changes nothing and returns upstream's error text.
    pub fn acl_load_file(&mut self, path: &str) -> Result<(), String> {
        let text = std::fs::read(path).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{path}': {}",
                redis_common::os::strerror(&e)
            )
        })?;
        let acl = &mut self.acl;
        acl.users.load_acl_file(path, &text, &acl.catalog)?;
        acl.refresh();
        Ok(())
    }

    /// `ACL SAVE`: writes every user to `path` through a temporary file
    /// renamed over it. The error is the line to log.
    pub fn acl_save_file(&self, path: &str) -> Result<(), String> {
        let text = self.acl.users.to_acl_file(&self.acl.catalog);
        let tmp = format!("{path}.tmp-{}", std::process::id());
        std::fs::write(&tmp, &text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!(
                    "Opening temp ACL file for ACL SAVE: {}",
                    redis_common::os::strerror(&e)
                )
            })
    }
}

#[cfg(test)]
#[path = "acl_tests.rs"]
mod tests;
