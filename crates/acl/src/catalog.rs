//! What the ACL model needs to know about the server's command table.
//!
//! The ACL crate knows nothing of the engine: every command and every
//! subcommand (`config|get`) is just a [`CmdId`] handed out by the engine,
//! and the [`Catalog`] trait answers the few questions ACL rules and
//! `ACL LIST` descriptions ask (name lookups, subcommands, categories).
//! [`Category`] is upstream 7.0's fixed list of ACL categories, in the order
//! `ACL CAT` prints them. [`StaticCatalog`] is a small in-memory catalog for
//! tests and tools; the engine builds its own from its command metadata.

use std::collections::HashMap;

/// Identifies one command or one subcommand (`config|get` has its own id,
/// distinct from `config`'s), like upstream's `redisCommand::id`.
///
/// Ids should be small and dense (they index a bitmap); the engine assigns
/// them once when it builds its command table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CmdId(pub u32);

/// The ACL categories of upstream 7.0, in `ACL CAT` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Keyspace,
    Read,
    Write,
    Set,
    SortedSet,
    List,
    Hash,
    String,
    Bitmap,
    HyperLogLog,
    Geo,
    Stream,
    PubSub,
    Admin,
    Fast,
    Slow,
    Blocking,
    Dangerous,
    Connection,
    Transaction,
    Scripting,
}

impl Category {
    /// Every category in `ACL CAT` order (also the order upstream tries
    /// them in when it rebuilds command rules for `ACL LIST`).
    pub const ALL: [Category; 21] = [
        Category::Keyspace,
        Category::Read,
        Category::Write,
        Category::Set,
        Category::SortedSet,
        Category::List,
        Category::Hash,
        Category::String,
        Category::Bitmap,
        Category::HyperLogLog,
        Category::Geo,
        Category::Stream,
        Category::PubSub,
        Category::Admin,
        Category::Fast,
        Category::Slow,
        Category::Blocking,
        Category::Dangerous,
        Category::Connection,
        Category::Transaction,
        Category::Scripting,
    ];

    /// The name without the `@`, as `ACL CAT` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Category::Keyspace => "keyspace",
            Category::Read => "read",
            Category::Write => "write",
            Category::Set => "set",
            Category::SortedSet => "sortedset",
            Category::List => "list",
            Category::Hash => "hash",
            Category::String => "string",
            Category::Bitmap => "bitmap",
            Category::HyperLogLog => "hyperloglog",
            Category::Geo => "geo",
            Category::Stream => "stream",
            Category::PubSub => "pubsub",
            Category::Admin => "admin",
            Category::Fast => "fast",
            Category::Slow => "slow",
            Category::Blocking => "blocking",
            Category::Dangerous => "dangerous",
            Category::Connection => "connection",
            Category::Transaction => "transaction",
            Category::Scripting => "scripting",
        }
    }

    /// Looks a category up by name (without `@`), ignoring ASCII case as
    /// upstream does (`+@READ` works).
    pub fn from_name(name: &[u8]) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.name().as_bytes().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of [`Category`] values (a small bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct CategorySet(u32);

impl CategorySet {
    /// The empty set.
    pub const EMPTY: CategorySet = CategorySet(0);

    /// The set holding exactly `cats`.
    pub fn of(cats: &[Category]) -> CategorySet {
        let mut set = CategorySet::EMPTY;
        for &c in cats {
            set.insert(c);
        }
        set
    }

    /// Adds `cat`.
    pub fn insert(&mut self, cat: Category) {
        self.0 |= cat.bit();
    }

    /// Whether `cat` is in the set.
    pub fn contains(self, cat: Category) -> bool {
        self.0 & cat.bit() != 0
    }

    /// The members, in `ACL CAT` order.
    pub fn iter(self) -> impl Iterator<Item = Category> {
        Category::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

/// The engine's command table as the ACL model sees it.
///
/// Names passed in are already lower-cased by the caller (the ACL code
/// lower-cases rule text before asking). Iteration order of
/// [`commands`](Catalog::commands) and
/// [`subcommands`](Catalog::subcommands) decides the order of single
/// `+cmd`/`-cmd` rules in `ACL LIST` output (upstream uses its hash-table
/// order there, which is not stable across processes).
pub trait Catalog {
    /// Every top-level command.
    fn commands(&self) -> &[CmdId];
    /// The subcommands of `cmd` (empty when it has none).
    fn subcommands(&self, cmd: CmdId) -> &[CmdId];
    /// A top-level command by lower-case name.
    fn lookup(&self, name: &str) -> Option<CmdId>;
    /// A subcommand of `parent` by lower-case name (`"get"` for
    /// `config|get`).
    fn subcommand(&self, parent: CmdId, name: &str) -> Option<CmdId>;
    /// The parent of a subcommand, `None` for top-level commands.
    fn parent(&self, cmd: CmdId) -> Option<CmdId>;
    /// The full lower-case name: `get`, `config|get`.
    fn full_name(&self, cmd: CmdId) -> String;
    /// The ACL categories of `cmd`.
    fn categories(&self, cmd: CmdId) -> CategorySet;

    /// The commands and subcommands in `cat`, in catalog order (what
    /// `ACL CAT <category>` lists).
    fn commands_in_category(&self, cat: Category) -> Vec<CmdId> {
        let mut out = Vec::new();
        for &cmd in self.commands() {
            if self.categories(cmd).contains(cat) {
                out.push(cmd);
            }
            for &sub in self.subcommands(cmd) {
                if self.categories(sub).contains(cat) {
                    out.push(sub);
                }
            }
        }
        out
    }

    /// Resolves `name` or `name|sub` like upstream's `lookupCommandBySds`:
    /// a `|` form needs a parent with subcommands, and more than one `|` is
    /// never a command.
    fn lookup_full(&self, name: &str) -> Option<CmdId> {
        let mut parts = name.split('|');
        let base = parts.next()?;
        let sub = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let cmd = self.lookup(base)?;
        match sub {
            None => Some(cmd),
            Some(sub) => self.subcommand(cmd, sub),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    full_name: String,
    parent: Option<CmdId>,
    categories: CategorySet,
    subs: Vec<CmdId>,
}

/// A simple in-memory [`Catalog`], filled with [`add`](Self::add) and
/// [`add_subcommand`](Self::add_subcommand). Ids are handed out densely
/// in insertion order.
#[derive(Debug, Clone, Default)]
pub struct StaticCatalog {
    entries: Vec<Entry>,
    top: Vec<CmdId>,
    by_name: HashMap<String, CmdId>,
}

impl StaticCatalog {
    /// An empty catalog.
    pub fn new() -> StaticCatalog {
        StaticCatalog::default()
    }

    fn push(&mut self, full_name: String, parent: Option<CmdId>, cats: &[Category]) -> CmdId {
        let id = CmdId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        self.entries.push(Entry {
            full_name: full_name.clone(),
            parent,
            categories: CategorySet::of(cats),
            subs: Vec::new(),
        });
        self.by_name.insert(full_name, id);
        id
    }

    /// Adds a top-level command (name is lower-cased).
    pub fn add(&mut self, name: &str, cats: &[Category]) -> CmdId {
        let id = self.push(name.to_ascii_lowercase(), None, cats);
        self.top.push(id);
        id
    }

    /// Adds subcommand `name` of `parent` (name is lower-cased); returns
    /// `None` if `parent` is unknown or itself a subcommand.
    pub fn add_subcommand(
        &mut self,
        parent: CmdId,
        name: &str,
        cats: &[Category],
    ) -> Option<CmdId> {
        let p = self.entries.get(parent.0 as usize)?;
        if p.parent.is_some() {
            return None;
        }
        let full = format!("{}|{}", p.full_name, name.to_ascii_lowercase());
        let id = self.push(full, Some(parent), cats);
        self.entries.get_mut(parent.0 as usize)?.subs.push(id);
        Some(id)
    }

    /// A small but realistic catalog: a few dozen commands with their real
    /// 7.0 categories, plus the `config` and `client` containers. Used by
    /// this crate's tests and handy for experiments.
    pub fn sample() -> StaticCatalog {
        use Category::*;
        let mut c = StaticCatalog::new();
        let table: &[(&str, &[Category])] = &[
            ("get", &[Read, String, Fast]),
            ("set", &[Write, String, Slow]),
            ("append", &[Write, String, Fast]),
            ("strlen", &[Read, String, Fast]),
            ("incr", &[Write, String, Fast]),
            ("mget", &[Read, String, Fast]),
            ("mset", &[Write, String, Slow]),
            ("del", &[Keyspace, Write, Slow]),
            ("exists", &[Keyspace, Read, Fast]),
            ("keys", &[Keyspace, Read, Slow, Dangerous]),
            ("type", &[Keyspace, Read, Fast]),
            ("flushall", &[Keyspace, Write, Slow, Dangerous]),
            ("hset", &[Write, Hash, Fast]),
            ("hget", &[Read, Hash, Fast]),
            ("hgetall", &[Read, Hash, Slow]),
            ("lpush", &[Write, List, Fast]),
            ("lrange", &[Read, List, Slow]),
            ("blpop", &[Write, List, Slow, Blocking]),
            ("sadd", &[Write, Set, Fast]),
            ("smembers", &[Read, Set, Slow]),
            ("zadd", &[Write, SortedSet, Fast]),
            ("zrange", &[Read, SortedSet, Slow]),
            ("xadd", &[Write, Stream, Fast]),
            ("sort", &[Write, Set, SortedSet, List, Slow, Dangerous]),
            ("publish", &[PubSub, Fast]),
            ("subscribe", &[PubSub, Slow]),
            ("psubscribe", &[PubSub, Slow]),
            ("ping", &[Fast, Connection]),
            ("select", &[Fast, Connection]),
            ("auth", &[Fast, Connection]),
            ("hello", &[Fast, Connection]),
            ("multi", &[Fast, Transaction]),
            ("exec", &[Slow, Transaction]),
            ("eval", &[Slow, Scripting]),
            ("debug", &[Admin, Slow, Dangerous]),
        ];
        for (name, cats) in table {
            c.add(name, cats);
        }
        let config = c.add("config", &[]);
        for sub in ["get", "set", "resetstat"] {
            c.add_subcommand(config, sub, &[Admin, Slow, Dangerous]);
        }
        let client = c.add("client", &[]);
        for sub in ["list", "kill"] {
            c.add_subcommand(client, sub, &[Admin, Slow, Dangerous, Connection]);
        }
        c.add_subcommand(client, "id", &[Slow, Connection]);
        c
    }
}

impl Catalog for StaticCatalog {
    fn commands(&self) -> &[CmdId] {
        &self.top
    }

    fn subcommands(&self, cmd: CmdId) -> &[CmdId] {
        self.entries
            .get(cmd.0 as usize)
            .map(|e| e.subs.as_slice())
            .unwrap_or(&[])
    }

    fn lookup(&self, name: &str) -> Option<CmdId> {
        self.by_name
            .get(name)
            .copied()
            .filter(|id| self.parent(*id).is_none())
    }

    fn subcommand(&self, parent: CmdId, name: &str) -> Option<CmdId> {
        let p = self.entries.get(parent.0 as usize)?;
        self.by_name
            .get(&format!("{}|{}", p.full_name, name))
            .copied()
            .filter(|id| self.parent(*id) == Some(parent))
    }

    fn parent(&self, cmd: CmdId) -> Option<CmdId> {
        self.entries.get(cmd.0 as usize).and_then(|e| e.parent)
    }

    fn full_name(&self, cmd: CmdId) -> String {
        self.entries
            .get(cmd.0 as usize)
            .map(|e| e.full_name.clone())
            .unwrap_or_default()
    }

    fn categories(&self, cmd: CmdId) -> CategorySet {
        self.entries
            .get(cmd.0 as usize)
            .map(|e| e.categories)
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
