//! Selectors: one set of command, key and channel permissions.
//!
//! Every user has a root selector (the rules given outside parentheses)
//! and any number of extra selectors (`(+get ~x*)`); a command runs if any
//! one selector allows the command together with all its keys and
//! channels. This module holds the selector model of upstream 7.0:
//!
//! - commands are a bitmap over [`CmdId`]s (a subcommand has its own bit),
//!   plus upstream's reserved "future commands" bit that only `+@all`
//!   sets, the `allcommands` flag that any removal clears, and the
//!   deprecated "first-arg" allowances (`+select|0`);
//! - key patterns carry read/write permissions (`~p`, `%R~p`, `%W~p`);
//! - channel patterns, where `PSUBSCRIBE` patterns must match literally.
//!
//! [`Selector::apply_rule`] parses one rule; [`Selector::describe`] and
//! [`Selector::describe_commands`] rebuild the text `ACL LIST` and
//! `ACL GETUSER` show, using upstream's bitmap approximation (greedy best
//! fitting categories, then single commands).

use std::collections::BTreeMap;

use redis_common::glob::string_match;

use crate::catalog::{Catalog, Category, CmdId};
use crate::error::RuleError;

/// What `acl-pubsub-default` gives new users and selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PubsubDefault {
    /// `resetchannels`: no channel access (7.0's default).
    #[default]
    ResetChannels,
    /// `allchannels`: access to every channel.
    AllChannels,
}

/// How a command touches a key, from its key spec flags. Upstream maps
/// `ACCESS` to read and `INSERT`/`DELETE`/`UPDATE` to write; a key with
/// neither (e.g. `EXISTS`, `DEL`'s `RM` without access) only needs some
/// pattern that matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyAccess {
    /// The command reads the key's value (`ACCESS`).
    pub read: bool,
    /// The command inserts, deletes or updates (`INSERT`/`DELETE`/`UPDATE`).
    pub write: bool,
}

impl KeyAccess {
    /// Neither read nor write: any matching pattern will do.
    pub const NONE: KeyAccess = KeyAccess {
        read: false,
        write: false,
    };
    /// Reads only.
    pub const READ: KeyAccess = KeyAccess {
        read: true,
        write: false,
    };
    /// Writes only.
    pub const WRITE: KeyAccess = KeyAccess {
        read: false,
        write: true,
    };
    /// Reads and writes.
    pub const READ_WRITE: KeyAccess = KeyAccess {
        read: true,
        write: true,
    };
}

/// One key pattern with its permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// The glob pattern.
    pub pattern: Vec<u8>,
    /// `R` permission.
    pub read: bool,
    /// `W` permission.
    pub write: bool,
    /// The length of the literal head when the pattern is `head*` with no
    /// other glob character (the usual `app:*`): matching is then a
    /// prefix comparison, done in line.
    prefix: Option<usize>,
}

impl KeyPattern {
    /// `~pat`, `%R~pat` or `%W~pat`, as upstream's `sdsCatPatternString`.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = match (self.read, self.write) {
            (true, false) => b"%R~".to_vec(),
            (false, true) => b"%W~".to_vec(),
            _ => b"~".to_vec(),
        };
        out.extend_from_slice(&self.pattern);
        out
    }

    /// A pattern with `read`/`write` permissions.
    pub fn new(pattern: &[u8], read: bool, write: bool) -> KeyPattern {
        let prefix = match pattern.split_last() {
            Some((b'*', head)) if !head.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\')) => {
                Some(head.len())
            }
            _ => None,
        };
        KeyPattern {
            pattern: pattern.to_vec(),
            read,
            write,
            prefix,
        }
    }

    fn allows(&self, access: KeyAccess) -> bool {
        (!access.read || self.read) && (!access.write || self.write)
    }

    /// Whether `key` matches the pattern (upstream's `stringmatchlen`,
    /// under which the empty key matches nothing but the empty pattern).
    #[inline]
    fn matches(&self, key: &[u8]) -> bool {
        match self.prefix {
            Some(n) if !key.is_empty() => {
                // A byte loop: these heads are short, and a call to
                // memcmp per key showed in profiles.
                key.len() >= n && self.pattern.iter().zip(key).take(n).all(|(a, b)| a == b)
            }
            _ => string_match(&self.pattern, key, false),
        }
    }
}

/// A channel (or, for `PSUBSCRIBE`-style commands, a channel pattern) a
/// command is about to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRef<'a> {
    /// The channel name or pattern as given.
    pub name: &'a [u8],
    /// Whether `name` is itself a pattern (`PSUBSCRIBE`, `PUNSUBSCRIBE`):
    /// 7.0 then requires an ACL pattern literally equal to it.
    pub is_pattern: bool,
}

/// The command bitmap: bits for ids past the stored words read as `fill`,
/// which is upstream's reserved "future commands" bit (set by `+@all`,
/// cleared by `-@all`, untouched by single changes).
#[derive(Debug, Clone, Default)]
pub(crate) struct CommandBits {
    words: Vec<u64>,
    fill: bool,
}

impl PartialEq for CommandBits {
    fn eq(&self, other: &Self) -> bool {
        if self.fill != other.fill {
            return false;
        }
        let n = self.words.len().max(other.words.len());
        (0..n).all(|i| self.word(i) == other.word(i))
    }
}

impl Eq for CommandBits {}

impl CommandBits {
    fn filled(fill: bool) -> CommandBits {
        CommandBits {
            words: Vec::new(),
            fill,
        }
    }

    fn word(&self, i: usize) -> u64 {
        match self.words.get(i) {
            Some(w) => *w,
            None if self.fill => u64::MAX,
            None => 0,
        }
    }

    pub(crate) fn get(&self, id: CmdId) -> bool {
        let i = id.0 as usize;
        self.word(i / 64) & (1u64 << (i % 64)) != 0
    }

    fn set(&mut self, id: CmdId, on: bool) {
        let i = id.0 as usize;
        let w = i / 64;
        if self.words.len() <= w {
            let fill = if self.fill { u64::MAX } else { 0 };
            self.words.resize(w + 1, fill);
        }
        let bit = 1u64 << (i % 64);
        if let Some(word) = self.words.get_mut(w) {
            if on {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }
}

/// Command permissions: the part of a selector the command rules change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CommandPerms {
    bits: CommandBits,
    /// Upstream's `SELECTOR_FLAG_ALLCOMMANDS`: set by `+@all`, cleared by
    /// any rule that clears a bit.
    all: bool,
    /// `+select|0` style allowances, per command id, in insertion order.
    first_args: BTreeMap<u32, Vec<Vec<u8>>>,
}

impl CommandPerms {
    fn none() -> CommandPerms {
        CommandPerms {
            bits: CommandBits::filled(false),
            all: false,
            first_args: BTreeMap::new(),
        }
    }

    fn set_all(&mut self, on: bool) {
        self.bits = CommandBits::filled(on);
        self.all = on;
        self.first_args.clear();
    }

    fn set_bit(&mut self, id: CmdId, on: bool) {
        self.bits.set(id, on);
        if !on {
            self.all = false;
        }
    }

    /// Upstream's `ACLChangeSelectorPerm`: the command, its first-args and
    /// all its subcommands.
    fn change(&mut self, catalog: &dyn Catalog, cmd: CmdId, on: bool) {
        self.set_bit(cmd, on);
        self.first_args.remove(&cmd.0);
        for &sub in catalog.subcommands(cmd) {
            self.set_bit(sub, on);
        }
    }

    fn change_category(&mut self, catalog: &dyn Catalog, cat: Category, on: bool) {
        for &cmd in catalog.commands() {
            if catalog.categories(cmd).contains(cat) {
                self.change(catalog, cmd, on);
            }
            for &sub in catalog.subcommands(cmd) {
                if catalog.categories(sub).contains(cat) {
                    self.change(catalog, sub, on);
                }
            }
        }
    }

    /// How many commands of `cat` are allowed and not allowed.
    fn count_category(&self, catalog: &dyn Catalog, cat: Category) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for &cmd in catalog.commands() {
            for id in std::iter::once(cmd).chain(catalog.subcommands(cmd).iter().copied()) {
                if catalog.categories(id).contains(cat) {
                    if self.bits.get(id) {
                        on += 1;
                    } else {
                        off += 1;
                    }
                }
            }
        }
        (on, off)
    }
}

/// One selector. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    commands: CommandPerms,
    all_keys: bool,
    keys: Vec<KeyPattern>,
    all_channels: bool,
    channels: Vec<Vec<u8>>,
}

/// Whether upstream's `ACLStringHasSpaces` objects to `s`.
pub(crate) fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | 0))
}

fn lower(s: &[u8]) -> Option<String> {
    String::from_utf8(s.to_ascii_lowercase()).ok()
}

impl Selector {
    /// A selector with no permissions, except all channels when
    /// `acl-pubsub-default` is `allchannels`.
    pub fn new(pubsub: PubsubDefault) -> Selector {
        Selector {
            commands: CommandPerms::none(),
            all_keys: false,
            keys: Vec::new(),
            all_channels: pubsub == PubsubDefault::AllChannels,
            channels: Vec::new(),
        }
    }

    /// Whether `allkeys`/`~*` is in effect.
    pub fn all_keys(&self) -> bool {
        self.all_keys
    }

    /// Whether `allchannels`/`&*` is in effect.
    pub fn all_channels(&self) -> bool {
        self.all_channels
    }

    /// Whether `allcommands`/`+@all` is in effect with nothing removed
    /// since.
    pub fn all_commands(&self) -> bool {
        self.commands.all
    }

    /// The key patterns (empty when [`all_keys`](Self::all_keys)).
    pub fn key_patterns(&self) -> &[KeyPattern] {
        &self.keys
    }

    /// The channel patterns (empty when
    /// [`all_channels`](Self::all_channels)).
    pub fn channel_patterns(&self) -> &[Vec<u8>] {
        &self.channels
    }

    /// Whether the bit of `cmd` is set (ignores first-arg allowances).
    pub fn command_bit(&self, cmd: CmdId) -> bool {
        self.commands.bits.get(cmd)
    }

    /// Applies one selector rule (everything but the user-level rules
    /// such as `on` or `>pass`), like upstream's `ACLSetSelector`.
    pub fn apply_rule(&mut self, op: &[u8], catalog: &dyn Catalog) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || op == b"~*" {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || op == b"&*" {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.commands.set_all(true);
        } else if is("nocommands") || is("-@all") {
            self.commands.set_all(false);
        } else if op.first() == Some(&b'~') || op.first() == Some(&b'%') {
            self.add_key_pattern(op)?;
        } else if op.first() == Some(&b'&') {
            self.add_channel_pattern(&op[1..])?;
        } else if op.len() >= 2 && (op[0] == b'+' || op[0] == b'-') && op[1] == b'@' {
            let cat = Category::from_name(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.commands.change_category(catalog, cat, op[0] == b'+');
        } else if op.first() == Some(&b'+') {
            self.allow_command(&op[1..], catalog)?;
        } else if op.first() == Some(&b'-') {
            let name = lower(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            let cmd = catalog
                .lookup_full(&name)
                .ok_or(RuleError::UnknownCommand)?;
            self.commands.change(catalog, cmd, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyPatternAfterAllKeys);
        }
        let (mut read, mut write) = (true, true);
        let mut offset = 1;
        if op[0] == b'%' {
            read = false;
            write = false;
            while offset < op.len() {
                let c = op[offset];
                offset += 1;
                match c.to_ascii_uppercase() {
                    b'R' if !read => read = true,
                    b'W' if !write => write = true,
                    b'~' => break,
                    _ => return Err(RuleError::Syntax),
                }
            }
            if !read && !write {
                return Err(RuleError::Syntax);
            }
        }
        let pattern = &op[offset.min(op.len())..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => {
                existing.read |= read;
                existing.write |= write;
            }
            None => self.keys.push(KeyPattern::new(pattern, read, write)),
        }
        Ok(())
    }

    fn add_channel_pattern(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(RuleError::ChannelPatternAfterAllChannels);
        }
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        if !self.channels.iter().any(|c| c == pattern) {
            self.channels.push(pattern.to_vec());
        }
        Ok(())
    }

    /// `+name`, `+name|sub` (a real subcommand) or `+name|arg` (a
    /// first-arg allowance for a command without subcommands).
    fn allow_command(&mut self, rest: &[u8], catalog: &dyn Catalog) -> Result<(), RuleError> {
        let Some(bar) = rest.iter().rposition(|&c| c == b'|') else {
            let name = lower(rest).ok_or(RuleError::UnknownCommand)?;
            let cmd = catalog.lookup(&name).ok_or(RuleError::UnknownCommand)?;
            self.commands.change(catalog, cmd, true);
            return Ok(());
        };
        let base = lower(&rest[..bar]).ok_or(RuleError::UnknownCommand)?;
        let cmd = catalog
            .lookup_full(&base)
            .ok_or(RuleError::UnknownCommand)?;
        if catalog.parent(cmd).is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        let arg = &rest[bar + 1..];
        if arg.is_empty() {
            return Err(RuleError::Syntax);
        }
        if catalog.subcommands(cmd).is_empty() {
            let args = self.commands.first_args.entry(cmd.0).or_default();
            if !args.iter().any(|a| a == arg) {
                args.push(arg.to_vec());
            }
        } else {
            let sub = lower(arg)
                .and_then(|sub| catalog.subcommand(cmd, &sub))
                .ok_or(RuleError::UnknownCommand)?;
            self.commands.change(catalog, sub, true);
        }
        Ok(())
    }

    /// The command rules as `ACL GETUSER`'s `commands` field and the end of
    /// an `ACL LIST` line show them (upstream's
    /// `ACLDescribeSelectorCommandRules`): `+@all` or `-@all`, then the
    /// best fitting categories one at a time, then single commands,
    /// subcommands and first-args to fix the difference.
    pub fn describe_commands(&self, catalog: &dyn Catalog) -> String {
        let additive = !self.commands.bits.fill;
        let mut rules = vec![if additive { "-@all" } else { "+@all" }.to_string()];
        let mut fake = CommandPerms::none();
        fake.set_all(!additive);
        let mut temp = self.commands.clone();
        loop {
            let mut best: Option<Category> = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0usize);
            for cat in Category::ALL {
                let (on, off) = temp.count_category(catalog, cat);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(cat);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(cat) = best else { break };
            fake.change_category(catalog, cat, additive);
            temp.change_category(catalog, cat, !additive);
            rules.push(format!(
                "{}@{}",
                if additive { '+' } else { '-' },
                cat.name()
            ));
        }
        for &cmd in catalog.commands() {
            self.describe_single(catalog, cmd, &mut fake, &mut rules);
            for &sub in catalog.subcommands(cmd) {
                self.describe_single(catalog, sub, &mut fake, &mut rules);
            }
        }
        rules.join(" ")
    }

    fn describe_single(
        &self,
        catalog: &dyn Catalog,
        cmd: CmdId,
        fake: &mut CommandPerms,
        rules: &mut Vec<String>,
    ) {
        let user_bit = self.commands.bits.get(cmd);
        if user_bit != fake.bits.get(cmd) {
            let sign = if user_bit { '+' } else { '-' };
            rules.push(format!("{sign}{}", catalog.full_name(cmd)));
            fake.change(catalog, cmd, user_bit);
        }
        if !user_bit {
            if let Some(args) = self.commands.first_args.get(&cmd.0) {
                for arg in args {
                    rules.push(format!(
                        "+{}|{}",
                        catalog.full_name(cmd),
                        String::from_utf8_lossy(arg)
                    ));
                }
            }
        }
    }

    /// `ACL GETUSER`'s `keys` field: `~*`, or the patterns joined by
    /// spaces (empty when there are none).
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        join(self.keys.iter().map(KeyPattern::describe))
    }

    /// `ACL GETUSER`'s `channels` field: `&*`, or `&pat` joined by spaces.
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        join(self.channels.iter().map(|c| {
            let mut out = b"&".to_vec();
            out.extend_from_slice(c);
            out
        }))
    }

    /// The whole selector as `ACL LIST` shows it (upstream's
    /// `ACLDescribeSelector`): keys, then channels (`resetchannels` and
    /// patterns unless `&*`), then command rules.
    pub fn describe(&self, catalog: &dyn Catalog) -> Vec<u8> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        if self.all_keys {
            parts.push(b"~*".to_vec());
        } else {
            parts.extend(self.keys.iter().map(KeyPattern::describe));
        }
        if self.all_channels {
            parts.push(b"&*".to_vec());
        } else {
            parts.push(b"resetchannels".to_vec());
            parts.extend(self.channels.iter().map(|c| {
                let mut out = b"&".to_vec();
                out.extend_from_slice(c);
                out
            }));
        }
        parts.push(self.describe_commands(catalog).into_bytes());
        join(parts.into_iter())
    }

    /// Whether the command itself may run (upstream's bit and first-arg
    /// test). `first_arg` is the argument after the command name, if any;
    /// commands flagged `no-auth` upstream (`AUTH`, `HELLO`) skip this
    /// test: see [`crate::CheckRequest::no_auth`].
    pub fn allows_command(&self, cmd: CmdId, first_arg: Option<&[u8]>) -> bool {
        if self.commands.all || self.commands.bits.get(cmd) {
            return true;
        }
        match (first_arg, self.commands.first_args.get(&cmd.0)) {
            (Some(arg), Some(args)) => args.iter().any(|a| a.eq_ignore_ascii_case(arg)),
            _ => false,
        }
    }

    /// Whether `key` may be accessed as `access` (upstream's
    /// `ACLSelectorCheckKey`).
    pub fn allows_key(&self, key: &[u8], access: KeyAccess) -> bool {
        self.all_keys || self.keys.iter().any(|p| p.allows(access) && p.matches(key))
    }

    /// Whether `channel` may be used. A plain channel is glob-matched
    /// against the patterns; a pattern (`PSUBSCRIBE`) must equal one of
    /// them literally, as in 7.0.
    pub fn allows_channel(&self, channel: ChannelRef<'_>) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if channel.is_pattern {
                    p.as_slice() == channel.name
                } else {
                    string_match(p, channel.name, false)
                }
            })
    }
}

/// Joins byte strings with single spaces.
pub(crate) fn join(parts: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&p);
    }
    out
}

#[cfg(test)]
#[path = "selector_tests.rs"]
mod tests;
