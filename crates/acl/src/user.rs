//! One ACL user: flags, password hashes, the root selector and extra
//! selectors; rule parsing (upstream's `ACLSetUser`), the `ACL LIST`
//! description, the `ACL GETUSER` reply and permission checks (upstream's
//! `ACLCheckAllUserCommandPerm`).

use redis_common::args::split_args;
use redis_common::sha256::sha256_hex;

use crate::catalog::{Catalog, CmdId};
use crate::error::RuleError;
use crate::selector::{join, ChannelRef, KeyAccess, PubsubDefault, Selector};
use crate::value::Value;

/// The `sanitize-payload` / `skip-sanitize-payload` flag of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SanitizePayload {
    /// Neither flag (new users; the `sanitize-dump-payload` config
    /// decides).
    #[default]
    Unset,
    /// `sanitize-payload` (set by `reset`).
    Sanitize,
    /// `skip-sanitize-payload`.
    Skip,
}

/// Everything one command is about to touch, for [`User::check`].
#[derive(Debug, Clone, Copy)]
pub struct CheckRequest<'a> {
    /// The command, or the subcommand for container commands
    /// (`config|get`).
    pub cmd: CmdId,
    /// Upstream's `CMD_NO_AUTH` flag (`AUTH`, `HELLO`): such commands pass
    /// the command test of every selector (keys and channels still count).
    pub no_auth: bool,
    /// The first argument after the command name (after the subcommand
    /// name for subcommands), for `+select|0`-style allowances.
    pub first_arg: Option<&'a [u8]>,
    /// The keys with how the command uses them, in the order the engine's
    /// key extraction reports them (upstream reports the failing key with
    /// the highest position among the selectors).
    pub keys: &'a [(&'a [u8], KeyAccess)],
    /// The channels (or channel patterns) the command publishes or
    /// subscribes to.
    pub channels: &'a [ChannelRef<'a>],
}

/// Why [`User::check`] refused a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No selector allows the command itself.
    Command,
    /// Key `keys[i]` of the [`CheckRequest`] was refused.
    Key(usize),
    /// Channel `channels[i]` of the [`CheckRequest`] was refused.
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }

    /// The error reply of a refused command, `NOPERM` prefix included;
    /// `cmd_name` is the full lower-case name (`config|set`).
    pub fn noperm_message(self, cmd_name: &str) -> String {
        match self {
            Denied::Command => {
                format!("NOPERM this user has no permissions to run the '{cmd_name}' command")
            }
            Denied::Key(_) => "NOPERM this user has no permissions to access one of the keys \
                               used as arguments"
                .to_string(),
            Denied::Channel(_) => "NOPERM this user has no permissions to access one of the \
                                   channels used as arguments"
                .to_string(),
        }
    }

    /// The bulk reply of `ACL DRYRUN` for a refused command; `object` is
    /// the refused key or channel (ignored for [`Denied::Command`]).
    pub fn dryrun_message(self, cmd_name: &str, object: &[u8]) -> Vec<u8> {
        let (head, tail): (&[u8], &[u8]) = match self {
            Denied::Command => {
                return format!("This user has no permissions to run the '{cmd_name}' command")
                    .into_bytes()
            }
            Denied::Key(_) => (b"This user has no permissions to access the '", b"' key"),
            Denied::Channel(_) => (
                b"This user has no permissions to access the '",
                b"' channel",
            ),
        };
        let mut out = head.to_vec();
        out.extend_from_slice(object);
        out.extend_from_slice(tail);
        out
    }
}

/// One ACL user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    name: Vec<u8>,
    enabled: bool,
    nopass: bool,
    sanitize: SanitizePayload,
    passwords: Vec<String>,
    root: Selector,
    selectors: Vec<Selector>,
}

/// Whether `s` is a SHA-256 hex digest as upstream accepts in `#`/`!`.
fn is_password_hash(s: &[u8]) -> bool {
    s.len() == 64 && s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: `off`, no passwords,
    /// no keys, channels per `acl-pubsub-default`, no commands.
    pub fn new(name: &[u8], pubsub: PubsubDefault) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: SanitizePayload::Unset,
            passwords: Vec::new(),
            root: Selector::new(pubsub),
            selectors: Vec::new(),
        }
    }

    /// The `default` user of a fresh server: `on nopass ~* &* +@all`
    /// (whatever `acl-pubsub-default` says).
    pub fn default_user() -> User {
        let mut u = User::new(b"default", PubsubDefault::AllChannels);
        u.enabled = true;
        u.nopass = true;
        // These rules need no catalog: they never name a command.
        let mut root = Selector::new(PubsubDefault::AllChannels);
        for rule in [&b"+@all"[..], b"~*", b"&*"] {
            let _ = root.apply_rule(rule, &crate::catalog::StaticCatalog::new());
        }
        u.root = root;
        u
    }

    /// The user name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// `on` (true) or `off`.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The `nopass` flag.
    pub fn nopass(&self) -> bool {
        self.nopass
    }

    /// The payload sanitizing flag.
    pub fn sanitize_payload(&self) -> SanitizePayload {
        self.sanitize
    }

    /// The SHA-256 hex digests of the passwords, in the order added.
    pub fn passwords(&self) -> &[String] {
        &self.passwords
    }

    /// The root selector.
    pub fn root(&self) -> &Selector {
        &self.root
    }

    /// The extra selectors, in the order added.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// The root selector followed by the extra ones.
    pub fn all_selectors(&self) -> impl Iterator<Item = &Selector> {
        std::iter::once(&self.root).chain(self.selectors.iter())
    }

    /// Applies one rule, like upstream's `ACLSetUser`: user-level rules
    /// (`on`, `off`, `nopass`, `resetpass`, `>pass`, `<pass`, `#hash`,
    /// `!hash`, `(selector)`, `clearselectors`, `reset`,
    /// `[skip-]sanitize-payload`) or any selector rule, which goes to the
    /// root selector. An empty rule does nothing. On error the user may be
    /// partly changed: callers wanting atomicity work on a copy, as
    /// [`crate::Users::set_user`] does.
    pub fn apply_rule(
        &mut self,
        op: &[u8],
        catalog: &dyn Catalog,
        pubsub: PubsubDefault,
    ) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
        } else if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = SanitizePayload::Skip;
        } else if is("sanitize-payload") {
            self.sanitize = SanitizePayload::Sanitize;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                sha256_hex(&op[1..])
            } else if is_password_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadPasswordHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                sha256_hex(&op[1..])
            } else if is_password_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadPasswordHash);
            };
            let before = self.passwords.len();
            self.passwords.retain(|p| *p != hash);
            if self.passwords.len() == before {
                return Err(RuleError::NoSuchPassword);
            }
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::new(pubsub);
            // Unbalanced quotes inside give an empty selector, as upstream.
            let inner = op.get(1..op.len() - 1).unwrap_or_default();
            for arg in split_args(inner).unwrap_or_default() {
                selector.apply_rule(&arg, catalog)?;
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.clear();
        } else if is("reset") {
            self.nopass = false;
            self.passwords.clear();
            self.root.apply_rule(b"resetkeys", catalog)?;
            self.root.apply_rule(b"resetchannels", catalog)?;
            if pubsub == PubsubDefault::AllChannels {
                self.root.apply_rule(b"allchannels", catalog)?;
            }
            self.enabled = false;
            self.sanitize = SanitizePayload::Sanitize;
            self.selectors.clear();
            self.root.apply_rule(b"-@all", catalog)?;
        } else {
            self.root.apply_rule(op, catalog)?;
        }
        Ok(())
    }

    /// The flag names in upstream's order (`on`/`off`, `nopass`,
    /// `skip-sanitize-payload`, `sanitize-payload`).
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            SanitizePayload::Skip => flags.push("skip-sanitize-payload"),
            SanitizePayload::Sanitize => flags.push("sanitize-payload"),
            SanitizePayload::Unset => {}
        }
        flags
    }

    /// The rules as `ACL LIST` shows them after `user <name> `: flags,
    /// `#<hash>` per password, the root selector, then ` (<selector>)` per
    /// extra selector. Bytes, since patterns may be binary.
    pub fn describe(&self, catalog: &dyn Catalog) -> Vec<u8> {
        let mut parts: Vec<Vec<u8>> = self
            .flag_names()
            .into_iter()
            .map(|f| f.as_bytes().to_vec())
            .collect();
        parts.extend(self.passwords.iter().map(|p| format!("#{p}").into_bytes()));
        parts.push(self.root.describe(catalog));
        let mut out = join(parts.into_iter());
        for s in &self.selectors {
            out.extend_from_slice(b" (");
            out.extend_from_slice(&s.describe(catalog));
            out.push(b')');
        }
        out
    }

    /// The whole `ACL LIST` line: `user <name> <describe>`.
    pub fn acl_list_line(&self, catalog: &dyn Catalog) -> Vec<u8> {
        let mut out = b"user ".to_vec();
        out.extend_from_slice(&self.name);
        out.push(b' ');
        out.extend_from_slice(&self.describe(catalog));
        out
    }

    /// The `ACL GETUSER` reply: a map of `flags` (a set), `passwords`,
    /// `commands`, `keys`, `channels` (the root selector) and `selectors`
    /// (an array of maps with `commands`, `keys`, `channels`).
    pub fn getuser(&self, catalog: &dyn Catalog) -> Value {
        let selector_fields = |s: &Selector| {
            vec![
                ("commands", Value::bulk(s.describe_commands(catalog))),
                ("keys", Value::Bulk(s.describe_keys())),
                ("channels", Value::Bulk(s.describe_channels())),
            ]
        };
        let mut fields = vec![
            (
                "flags",
                Value::Set(self.flag_names().into_iter().map(Value::bulk).collect()),
            ),
            (
                "passwords",
                Value::Array(self.passwords.iter().map(Value::bulk).collect()),
            ),
        ];
        fields.extend(selector_fields(&self.root));
        fields.push((
            "selectors",
            Value::Array(
                self.selectors
                    .iter()
                    .map(|s| Value::map(selector_fields(s)))
                    .collect(),
            ),
        ));
        Value::map(fields)
    }

    /// Whether `password` logs this user in: the user is `on` and either
    /// `nopass` or one of its hashes matches (compared without early exit).
    pub fn check_password(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hash = sha256_hex(password);
        let mut found = false;
        for p in &self.passwords {
            found |= constant_time_eq(p.as_bytes(), hash.as_bytes());
        }
        found
    }

    /// Checks a command against every selector: allowed if any selector
    /// allows the command and all its keys and channels. When none does,
    /// reports like upstream: channel beats key beats command, and among
    /// equals the highest index wins.
    pub fn check(&self, req: &CheckRequest<'_>) -> Result<(), Denied> {
        let mut relevant = Denied::Command;
        for s in self.all_selectors() {
            match check_selector(s, req) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    if d.rank() > relevant.rank() {
                        relevant = d;
                    }
                }
            }
        }
        Err(relevant)
    }

    /// Whether some selector may access `key` as `access`, whatever the
    /// command (upstream's `ACLUserCheckKeyPerm`, used for keys that
    /// scripts or `SORT BY` reach).
    pub fn can_access_key(&self, key: &[u8], access: KeyAccess) -> bool {
        self.all_selectors().any(|s| s.allows_key(key, access))
    }

    /// Whether some selector allows `channel` (upstream's
    /// `ACLUserCheckChannelPerm`; the engine uses it to drop subscriptions
    /// a rule change revoked).
    pub fn can_access_channel(&self, channel: ChannelRef<'_>) -> bool {
        self.all_selectors().any(|s| s.allows_channel(channel))
    }
}

fn check_selector(s: &Selector, req: &CheckRequest<'_>) -> Result<(), Denied> {
    if !req.no_auth && !s.allows_command(req.cmd, req.first_arg) {
        return Err(Denied::Command);
    }
    for (i, (key, access)) in req.keys.iter().enumerate() {
        if !s.allows_key(key, *access) {
            return Err(Denied::Key(i));
        }
    }
    for (i, ch) in req.channels.iter().enumerate() {
        if !s.allows_channel(*ch) {
            return Err(Denied::Channel(i));
        }
    }
    Ok(())
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "user_tests.rs"]
mod tests;
