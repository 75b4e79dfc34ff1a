//! `nodes.conf`, the cluster configuration file, as Redis 7.0 reads and
//! writes it: the model ([`NodesConf`], [`NodeLine`]), the loader
//! ([`parse`], [`load`]) with upstream's exact failure behaviour, and the
//! writer ([`format()`]) whose output is byte-identical to what 7.0 writes
//! for the same state. Nothing here does I/O; the file handling rules the
//! server must reproduce are documented below with the messages as
//! constants.
//!
//! # The format
//!
//! One line per known node (nodes in `handshake` are never written), in
//! the order of the node table, then the `vars` line:
//!
//! ```text
//! <id> <ip>:<port>@<cport>[,<hostname>] <flags> <master-id|-> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
//! vars currentEpoch <n> lastVoteEpoch <n>
//! ```
//!
//! Every line, the last one included, ends with `\n`. `<ip>` is empty while
//! a node does not know its own address (a new node writes `:0@0` in its
//! very first save, `:<port>@<cport>` after that until a `MEET`). The
//! hostname part is written only when non-empty. `<flags>` are the words
//! `myself master slave fail? fail handshake noaddr nofailover`, in that
//! order, comma-separated, or `noflags`. A replica's `<config-epoch>` is
//! its master's. `<link-state>` is `connected` for `myself` and for nodes
//! with a bus link, else `disconnected`. Slots are maximal ranges `a-b`
//! (or single slots `a`) in ascending order, then — on the `myself` line
//! only — the open slots in ascending slot order: `[slot->-<node>]` for a
//! slot being migrated to `<node>`, else `[slot-<-<node>]` for a slot
//! being imported from it (a slot both migrating and importing shows only
//! the migrating entry).
//!
//! # How 7.0 loads it (`clusterLoadConfig`), measured against 7.0.15
//!
//! - An absent or zero-length file means a new node: upstream logs
//!   `No cluster configuration found, I'm <id>` (notice) and saves at once,
//!   with fsync ([`load`] returns [`Load::NewNode`]). A file with only
//!   blank lines, or only a `vars` line, is *not* new: it has no `myself`
//!   line, so it is corrupted.
//! - The file is read with `fgets` into a buffer of
//!   `1024 + 16384 * 128` bytes, so a longer line is split; each line is a
//!   C string (bytes after a NUL are ignored). A line that is empty or
//!   starts with `\n` or NUL is skipped. Otherwise it is split with
//!   `sdssplitargs` (quotes and escapes as in `redis.conf`; unbalanced
//!   quotes corrupt the file). A line that splits into no argument at all
//!   (only blanks, `\r\n`) crashes 7.0.15 with SIGSEGV.
//! - `vars` (any case) takes name/value pairs, later lines and pairs
//!   overriding earlier ones; `currentEpoch` and `lastVoteEpoch` (any case)
//!   are read with `strtoull` (garbage is 0, `-1` is 2^64-1); other names
//!   log `Skipping unknown cluster config variable '<name>'` (warning). An
//!   odd number of words after `vars` corrupts the file; `vars` alone is
//!   fine; the `vars` line may come anywhere.
//! - A node line needs at least 8 fields. The node id must be exactly 40
//!   bytes of `a-z0-9` (upstream's `verifyClusterNodeId`; upper case is
//!   refused), as must the master id (unless the field starts with `-`)
//!   and the node of an open slot.
//! - Address: the hostname is what follows the first `,`; the port is
//!   after the *last* `:` (so IPv6 addresses need no brackets:
//!   `2001:db8::1:7000@17000`); no `:` corrupts the file; `@cport` is
//!   optional (the bus port is then port + 10000); ports are read with
//!   `atoi` (garbage is 0, 99999 is kept). The address buffer holds 45
//!   bytes: a longer IP overflows it (46 survived, 50 crashed with SIGSEGV
//!   right after loading); [`parse`] refuses more than 45.
//! - Flags are matched case-insensitively; an unknown (or empty) word is a
//!   `serverPanic`, a second `myself` anywhere in the file a failed
//!   `serverAssert`. Right after loading, `myself`'s `nofailover` is set
//!   or cleared from `cluster-replica-no-failover`, whatever the file says.
//! - `ping-sent`/`pong-recv` only matter as zero or not (`atoi`): non-zero
//!   loads as "now". `config-epoch` is `strtoull`. `link-state` is ignored.
//! - Slots: `a-b` splits at the first `-` and reads both sides with `atoi`
//!   (so `abc` is slot 0, `-5` is `0-5`, `10-5` is nothing); either end
//!   outside `0..16384` corrupts the file. A slot already owned by an
//!   earlier line stays with that line's node. An entry starting with `[`
//!   without a `-` is a failed assertion; its slot (`atoi` of what is
//!   between `[` and the first `-`) outside `0..16384` or its node (from
//!   two bytes after that `-` up to the first `]`) not a valid id corrupts
//!   the file; the byte after the `-` is `>` for migrating, anything else
//!   importing; bytes after the `]` are ignored. Open slots are global
//!   state: they are loaded from whichever line carries them (the last
//!   entry for a slot wins) and written back on the `myself` line.
//! - A line whose id was seen before updates that node (fields overwrite,
//!   flags and slots accumulate); a master or open-slot node not described
//!   by any line is created as `:0@0 noflags`.
//! - After the last line, no `myself` corrupts the file. Then upstream logs
//!   `Node configuration loaded, I'm <id>` (notice) and raises
//!   currentEpoch to the greatest config epoch when it is smaller. Loading
//!   does not rewrite the file: it keeps its bytes (odd spellings
//!   included) until the next change is saved.
//! - An existing file that cannot be opened for reading logs
//!   [`load_open_failed_message`] and exits 1 (from the source, not
//!   measured: as root the lock's open succeeds first).
//!
//! Failures (see [`NodesConfError`]): the corrupted-file path logs
//! [`MSG_CORRUPTED`] at warning level and exits with status 1; the panic
//! and assertion paths print upstream's bug report and, in 7.0.15, die of
//! SIGSEGV (status 139 in a shell): the bug report's `INFO` section
//! crashes (`logServerInfo` → `genRedisInfoString` → `luaMemory` →
//! `lua_gc` on the Lua state, not created yet this early in the startup). The messages in the bug report are in [`NodesConfError::log_lines`].
//!
//! # How 7.0 writes it (`clusterSaveConfig`), measured with strace
//!
//! - Not atomic: no temporary file, no rename. Each save opens the file
//!   itself with `open(path, O_WRONLY|O_CREAT, 0644)` (no `O_TRUNC`),
//!   `fstat`s it, pads the new content with `\n` up to the old size when the
//!   old file is longer, writes everything with one `write()`, calls
//!   `fsync()` when the save asks for it, `ftruncate()`s to the content's
//!   length when it padded, and closes. A crash in the middle leaves the
//!   old or the new content followed by blank lines, which the loader
//!   skips.
//! - fsync, measured: on the first save of a new node, `CLUSTER
//!   SAVECONFIG`, `CLUSTER RESET`, and the saves that follow epoch changes
//!   (the handshake and epoch-collision steps after `CLUSTER MEET`; from
//!   the source, not measured: a failover vote and a failover's epoch
//!   bump); without fsync: `CLUSTER ADDSLOTS`/`DELSLOTS`/`ADDSLOTSRANGE`,
//!   `SETSLOT ... MIGRATING`/`IMPORTING`, `CLUSTER REPLICATE`, the save
//!   right after `CLUSTER MEET`. Most saves are deferred to `beforeSleep`
//!   and coalesced there.
//! - A failed save logs [`MSG_SAVE_FATAL`] and exits with status 1
//!   (measured by removing the directory under a running node); `CLUSTER
//!   SAVECONFIG` instead replies `ERR error saving the cluster node config:
//!   <strerror>` ([`saveconfig_error`]).
//!
//! # The lock
//!
//! At startup, before loading, upstream opens the file with
//! `open(path, O_WRONLY|O_CREAT|O_CLOEXEC, 0644)` and takes
//! `flock(fd, LOCK_EX|LOCK_NB)`; the descriptor is never closed, so the
//! lock lives as long as the process (saves write through other
//! descriptors to the same inode, so the lock stays valid). When another
//! process holds it, upstream logs [`lock_held_message`] (warning) and
//! exits with status 1; the file name is printed as configured
//! (`cluster-config-file`, relative to `dir`). When the open fails:
//! [`lock_open_failed_message`], exit 1 (measured: a missing directory,
//! a directory in place of the file). Another `flock` error:
//! [`lock_failed_message`], exit 1 (from the source, not measured).

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

use redis_common::args::split_args;

use crate::slot::{SlotSet, CLUSTER_SLOTS, CLUSTER_SLOTS_USIZE};

/// Length of a node id.
pub const CLUSTER_NAMELEN: usize = 40;

/// Size of upstream's IP address buffer (`NET_IP_STR_LEN`): an IP of at
/// most 45 bytes fits.
pub const NET_IP_STR_LEN: usize = 46;

/// The bus port of a line without `@cport` is the port plus this.
pub const CLUSTER_PORT_INCR: i32 = 10000;

/// The loader's `fgets` buffer: lines are read in chunks of at most one
/// byte less than this.
pub const MAX_LINE: usize = 1024 + CLUSTER_SLOTS_USIZE * 128;

/// Logged (warning) before `exit(1)` for a corrupted file.
pub const MSG_CORRUPTED: &str = "Unrecoverable error: corrupted cluster config file.";

/// The `serverPanic` text for an unknown flag word.
pub const MSG_UNKNOWN_FLAG: &str = "Unknown flag in redis cluster config file";

/// The "Guru Meditation" line of the unknown-flag panic (7.0.15's source
/// line number included).
pub const MSG_UNKNOWN_FLAG_GURU: &str =
    "Guru Meditation: Unknown flag in redis cluster config file #cluster.c:292";

/// The lines any `serverPanic` logs before the guru meditation line.
pub const MSG_PANIC_BANNER: [&str; 2] = [
    "------------------------------------------------",
    "!!! Software Failure. Press left mouse button to continue",
];

/// First line of a failed `serverAssert`.
pub const MSG_ASSERTION_FAILED: &str = "=== ASSERTION FAILED ===";

/// The assertion that fails on a second `myself` flag.
pub const MSG_ASSERT_MYSELF: &str =
    "==> cluster.c:271 'server.cluster->myself == NULL' is not true";

/// The assertion that fails on an open-slot entry (`[...`) without `-`.
pub const MSG_ASSERT_OPEN_SLOT: &str = "==> cluster.c:333 'p != NULL' is not true";

/// The start of the crash log line of a SIGSEGV (`, si_code: N` follows).
pub const MSG_CRASH_SIGSEGV: &str = "Redis 7.0.15 crashed by signal: 11";

/// Logged (warning) before `exit(1)` when a save fails.
pub const MSG_SAVE_FATAL: &str = "Fatal: can't update cluster config file.";

/// Prefix of [`lock_held_message`].
pub const MSG_LOCK_HELD_PREFIX: &str = "Sorry, the cluster configuration file ";

/// Suffix of [`lock_held_message`].
pub const MSG_LOCK_HELD_SUFFIX: &str = " is already used by a different Redis Cluster node. \
Please make sure that different nodes use different cluster configuration files.";

/// Warning logged when another process holds the lock on `filename`
/// (then exit 1). `filename` is the configured `cluster-config-file`.
pub fn lock_held_message(filename: &str) -> String {
    format!("{MSG_LOCK_HELD_PREFIX}{filename}{MSG_LOCK_HELD_SUFFIX}")
}

/// Warning logged when the file cannot be opened to lock it (then exit 1);
/// `error` is the `strerror` text, e.g. `No such file or directory`.
pub fn lock_open_failed_message(filename: &str, error: &str) -> String {
    format!("Can't open {filename} in order to acquire a lock: {error}")
}

/// Warning logged when `flock` fails other than with `EWOULDBLOCK`.
pub fn lock_failed_message(filename: &str, error: &str) -> String {
    format!("Impossible to lock {filename}: {error}")
}

/// Warning logged when the file exists but cannot be opened for reading
/// (then exit 1).
pub fn load_open_failed_message(filename: &str, error: &str) -> String {
    format!("Loading the cluster node config from {filename}: {error}")
}

/// Warning logged for an unknown name on the `vars` line (not fatal).
pub fn unknown_var_message(name: &str) -> String {
    format!("Skipping unknown cluster config variable '{name}'")
}

/// Notice logged when the file is absent or empty.
pub fn no_config_message(myself_id: &str) -> String {
    format!("No cluster configuration found, I'm {myself_id}")
}

/// Notice logged after a successful load.
pub fn loaded_message(myself_id: &str) -> String {
    format!("Node configuration loaded, I'm {myself_id}")
}

/// The error reply (without `-`) of a failed `CLUSTER SAVECONFIG`.
pub fn saveconfig_error(error: &str) -> String {
    format!("ERR error saving the cluster node config: {error}")
}

/// Whether `id` is a valid node id: exactly 40 bytes of `a-z` and `0-9`
/// (upstream's `verifyClusterNodeId`).
pub fn is_valid_node_id(id: &[u8]) -> bool {
    id.len() == CLUSTER_NAMELEN
        && id
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Node flags, with upstream's bit values (the ones the cluster bus
/// carries).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NodeFlags(u16);

impl NodeFlags {
    /// `master`.
    pub const MASTER: NodeFlags = NodeFlags(1);
    /// `slave`.
    pub const SLAVE: NodeFlags = NodeFlags(2);
    /// `fail?`: possibly failing (PFAIL).
    pub const PFAIL: NodeFlags = NodeFlags(4);
    /// `fail`.
    pub const FAIL: NodeFlags = NodeFlags(8);
    /// `myself`.
    pub const MYSELF: NodeFlags = NodeFlags(16);
    /// `handshake`: such nodes are not written to `nodes.conf`.
    pub const HANDSHAKE: NodeFlags = NodeFlags(32);
    /// `noaddr`.
    pub const NOADDR: NodeFlags = NodeFlags(64);
    /// MEET (never written).
    pub const MEET: NodeFlags = NodeFlags(128);
    /// MIGRATE_TO (never written).
    pub const MIGRATE_TO: NodeFlags = NodeFlags(256);
    /// `nofailover`.
    pub const NOFAILOVER: NodeFlags = NodeFlags(512);

    /// The words in the order upstream writes them.
    pub const WORDS: [(NodeFlags, &'static str); 8] = [
        (NodeFlags::MYSELF, "myself"),
        (NodeFlags::MASTER, "master"),
        (NodeFlags::SLAVE, "slave"),
        (NodeFlags::PFAIL, "fail?"),
        (NodeFlags::FAIL, "fail"),
        (NodeFlags::HANDSHAKE, "handshake"),
        (NodeFlags::NOADDR, "noaddr"),
        (NodeFlags::NOFAILOVER, "nofailover"),
    ];

    /// No flag.
    pub const fn empty() -> NodeFlags {
        NodeFlags(0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Flags from raw bits (all bits kept).
    pub const fn from_bits(bits: u16) -> NodeFlags {
        NodeFlags(bits)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: NodeFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: NodeFlags) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: NodeFlags) {
        self.0 &= !other.0;
    }

    /// The flag of a word as the loader accepts it (any case); `noflags`
    /// is the empty set. `None` for an unknown word.
    pub fn from_word(word: &[u8]) -> Option<NodeFlags> {
        if word.eq_ignore_ascii_case(b"noflags") {
            return Some(NodeFlags::empty());
        }
        NodeFlags::WORDS
            .iter()
            .find(|(_, w)| word.eq_ignore_ascii_case(w.as_bytes()))
            .map(|&(f, _)| f)
    }
}

impl std::ops::BitOr for NodeFlags {
    type Output = NodeFlags;
    fn bitor(self, rhs: NodeFlags) -> NodeFlags {
        NodeFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for NodeFlags {
    fn bitor_assign(&mut self, rhs: NodeFlags) {
        self.0 |= rhs.0;
    }
}

/// As upstream's `representClusterNodeFlags`: `myself,master`, or
/// `noflags` when no written flag is set.
impl fmt::Display for NodeFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (flag, word) in NodeFlags::WORDS {
            if self.contains(flag) {
                if any {
                    f.write_str(",")?;
                }
                f.write_str(word)?;
                any = true;
            }
        }
        if !any {
            f.write_str("noflags")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeFlags({self})")
    }
}

/// The `<link-state>` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LinkState {
    /// `connected`: `myself`, or a node with a bus link.
    #[default]
    Connected,
    /// `disconnected`.
    Disconnected,
}

impl LinkState {
    /// The word upstream writes.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Connected => "connected",
            LinkState::Disconnected => "disconnected",
        }
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node line.
///
/// Numbers keep the C types upstream stores them in: ports are `int`
/// (`atoi`, so a file may hold 0 or 99999), the ping/pong times are
/// `long long` milliseconds, the config epoch `unsigned long long`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeLine {
    /// The 40-character node id.
    pub id: String,
    /// The IP address, without brackets for IPv6; empty while unknown.
    pub ip: String,
    /// The client port.
    pub port: i32,
    /// The cluster bus port.
    pub cport: i32,
    /// The announced hostname; empty when none (then not written).
    pub hostname: String,
    /// The flags.
    pub flags: NodeFlags,
    /// The master's id for a replica.
    pub master: Option<String>,
    /// When the pending PING was sent (ms); 0 when none. On load, only
    /// zero or not matters ([`NodeLine::ping_pending`]).
    pub ping_sent: i64,
    /// When the last PONG arrived (ms); on load, only zero or not
    /// matters ([`NodeLine::pong_seen`]).
    pub pong_recv: i64,
    /// The config epoch as written (a replica's line carries its
    /// master's).
    pub config_epoch: u64,
    /// The link state as written (ignored on load).
    pub link_state: LinkState,
    /// The slots this line claims.
    pub slots: SlotSet,
    /// Open slots being migrated to another node: slot → node id.
    /// Upstream writes them on the `myself` line only.
    pub migrating: BTreeMap<u16, String>,
    /// Open slots being imported from another node: slot → node id.
    pub importing: BTreeMap<u16, String>,
}

impl NodeLine {
    /// Whether upstream would load this node with a pending PING (its
    /// `atoi(<ping-sent>)` is not zero; it then takes the load time).
    pub fn ping_pending(&self) -> bool {
        c_int(self.ping_sent) != 0
    }

    /// Whether upstream would load this node as having answered a PING
    /// (`atoi(<pong-recv>)` not zero; it then takes the load time).
    pub fn pong_seen(&self) -> bool {
        c_int(self.pong_recv) != 0
    }

    /// Whether the line is the `myself` line.
    pub fn is_myself(&self) -> bool {
        self.flags.contains(NodeFlags::MYSELF)
    }
}

/// `(int) strtol(...)`: the truncation glibc's `atoi` performs.
fn c_int(v: i64) -> i32 {
    v as i32
}

/// The line as upstream writes it in `nodes.conf` and `CLUSTER NODES`
/// (without the final newline). Open slots are written from whatever
/// line holds them.
impl fmt::Display for NodeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}:{}@{}", self.id, self.ip, self.port, self.cport)?;
        if !self.hostname.is_empty() {
            write!(f, ",{}", self.hostname)?;
        }
        write!(
            f,
            " {} {} {} {} {} {}",
            self.flags,
            self.master.as_deref().unwrap_or("-"),
            self.ping_sent,
            self.pong_recv,
            self.config_epoch,
            self.link_state
        )?;
        for r in self.slots.ranges() {
            write!(f, " {r}")?;
        }
        let mut open: Vec<u16> = self
            .migrating
            .keys()
            .chain(self.importing.keys())
            .copied()
            .collect();
        open.sort_unstable();
        open.dedup();
        for slot in open {
            if let Some(to) = self.migrating.get(&slot) {
                write!(f, " [{slot}->-{to}]")?;
            } else if let Some(from) = self.importing.get(&slot) {
                write!(f, " [{slot}-<-{from}]")?;
            }
        }
        Ok(())
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodesConf {
    /// The node lines in file order.
    pub nodes: Vec<NodeLine>,
    /// `vars currentEpoch` (0 when absent).
    pub current_epoch: u64,
    /// `vars lastVoteEpoch` (0 when absent).
    pub last_vote_epoch: u64,
}

impl NodesConf {
    /// The index of the `myself` line (a parsed file has exactly one).
    pub fn myself_index(&self) -> Option<usize> {
        self.nodes.iter().position(NodeLine::is_myself)
    }

    /// The `myself` line.
    pub fn myself(&self) -> Option<&NodeLine> {
        self.nodes.iter().find(|n| n.is_myself())
    }

    /// The current epoch upstream runs with after loading: the `vars`
    /// value raised to the greatest config epoch of any line.
    pub fn effective_current_epoch(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.config_epoch)
            .fold(self.current_epoch, u64::max)
    }

    /// The owner of each slot as upstream loads it: the first line (index
    /// into [`NodesConf::nodes`]) claiming the slot.
    pub fn slot_owners(&self) -> Vec<Option<usize>> {
        let mut owners = vec![None; CLUSTER_SLOTS_USIZE];
        for (i, n) in self.nodes.iter().enumerate() {
            for slot in n.slots.iter() {
                let owner = &mut owners[usize::from(slot)];
                if owner.is_none() {
                    *owner = Some(i);
                }
            }
        }
        owners
    }

    /// The migrating slots as upstream loads them: from every line, the
    /// last entry for a slot winning.
    pub fn migrating_slots(&self) -> BTreeMap<u16, String> {
        let mut out = BTreeMap::new();
        for n in &self.nodes {
            out.extend(n.migrating.iter().map(|(k, v)| (*k, v.clone())));
        }
        out
    }

    /// The importing slots as upstream loads them (see
    /// [`NodesConf::migrating_slots`]).
    pub fn importing_slots(&self) -> BTreeMap<u16, String> {
        let mut out = BTreeMap::new();
        for n in &self.nodes {
            out.extend(n.importing.iter().map(|(k, v)| (*k, v.clone())));
        }
        out
    }
}

/// Why a file is corrupted (all of these log [`MSG_CORRUPTED`] and exit 1;
/// upstream does not say which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// Unbalanced quotes, or a closing quote not followed by a blank.
    Quoting,
    /// An odd number of words after `vars`.
    VarsOddArgs,
    /// A node line of fewer than 8 fields.
    TooFewFields,
    /// The node id is not 40 bytes of `a-z0-9`.
    BadNodeId,
    /// The address has no `:`.
    NoPort,
    /// The master id is not a valid id.
    BadMasterId,
    /// A slot or range end outside `0..16384`.
    SlotOutOfRange,
    /// An open-slot entry whose node id is missing, unterminated or
    /// invalid.
    BadOpenSlotNode,
    /// No line has the `myself` flag.
    NoMyself,
}

/// Inputs on which 7.0.15 crashes with SIGSEGV instead of a clean error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashCause {
    /// A line that splits into no argument (only blanks, or `\r\n`).
    NoArguments,
    /// An IP longer than 45 bytes overflows upstream's address buffer.
    IpTooLong,
}

/// How the reference process ends on a bad file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamExit {
    /// `exit(code)`.
    Code(i32),
    /// Killed by this signal (SIGSEGV = 11 for every crash of 7.0.15 here,
    /// panics and failed assertions included).
    Signal(i32),
}

/// A `nodes.conf` upstream refuses to start with. `Display` is the log line
/// that identifies the failure ([`NodesConfError::log_lines`] has all of
/// them); `line` is the 1-based line number (0: the whole file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodesConfError {
    /// The zero-length file: not an error upstream, which starts as a new
    /// node (see [`load`]); [`parse`] reports it so that it is not taken
    /// for a configuration.
    #[error("No cluster configuration found")]
    Empty,
    /// The `fmterr` path: [`MSG_CORRUPTED`], exit 1.
    #[error("{}", MSG_CORRUPTED)]
    Corrupted {
        /// Line number (0: the whole file).
        line: usize,
        /// What is wrong (upstream does not say).
        cause: Corruption,
    },
    /// `serverPanic("Unknown flag in redis cluster config file")`.
    #[error("{}", MSG_UNKNOWN_FLAG_GURU)]
    UnknownFlag {
        /// Line number.
        line: usize,
        /// The flag word.
        flag: String,
    },
    /// A second `myself`: `serverAssert(server.cluster->myself == NULL)`.
    #[error("{}", MSG_ASSERT_MYSELF)]
    DuplicateMyself {
        /// Line number.
        line: usize,
    },
    /// An open-slot entry without `-`: `serverAssert(p != NULL)`.
    #[error("{}", MSG_ASSERT_OPEN_SLOT)]
    OpenSlotWithoutDash {
        /// Line number.
        line: usize,
        /// The entry.
        entry: String,
    },
    /// Input that crashes 7.0.15 (SIGSEGV).
    #[error("{}", MSG_CRASH_SIGSEGV)]
    Crash {
        /// Line number.
        line: usize,
        /// What crashes it.
        cause: CrashCause,
    },
}

impl NodesConfError {
    /// The warning-level lines upstream logs for this failure, in order
    /// (the stack trace and register dump of a crash report left out; the
    /// crash line continues with `, si_code: N`).
    pub fn log_lines(&self) -> Vec<&'static str> {
        match self {
            NodesConfError::Empty => Vec::new(),
            NodesConfError::Corrupted { .. } => vec![MSG_CORRUPTED],
            NodesConfError::UnknownFlag { .. } => vec![
                MSG_PANIC_BANNER[0],
                MSG_PANIC_BANNER[1],
                MSG_UNKNOWN_FLAG_GURU,
                MSG_CRASH_SIGSEGV,
            ],
            NodesConfError::DuplicateMyself { .. } => {
                vec![MSG_ASSERTION_FAILED, MSG_ASSERT_MYSELF, MSG_CRASH_SIGSEGV]
            }
            NodesConfError::OpenSlotWithoutDash { .. } => {
                vec![
                    MSG_ASSERTION_FAILED,
                    MSG_ASSERT_OPEN_SLOT,
                    MSG_CRASH_SIGSEGV,
                ]
            }
            NodesConfError::Crash { .. } => vec![MSG_CRASH_SIGSEGV],
        }
    }

    /// How the reference process ends (`None` for [`NodesConfError::Empty`],
    /// where it goes on as a new node).
    pub fn upstream_exit(&self) -> Option<UpstreamExit> {
        match self {
            NodesConfError::Empty => None,
            NodesConfError::Corrupted { .. } => Some(UpstreamExit::Code(1)),
            _ => Some(UpstreamExit::Signal(11)),
        }
    }

    /// The line the failure is on (0: the whole file or none).
    pub fn line(&self) -> usize {
        match self {
            NodesConfError::Empty => 0,
            NodesConfError::Corrupted { line, .. }
            | NodesConfError::UnknownFlag { line, .. }
            | NodesConfError::DuplicateMyself { line }
            | NodesConfError::OpenSlotWithoutDash { line, .. }
            | NodesConfError::Crash { line, .. } => *line,
        }
    }
}

/// What [`load`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    /// No file, or a zero-length one: start as a new node, log
    /// [`no_config_message`] and save at once (with fsync).
    NewNode,
    /// A configuration, and the warnings upstream logs while reading it
    /// ([`unknown_var_message`]); log [`loaded_message`] next.
    Loaded {
        /// The file.
        conf: NodesConf,
        /// Warning lines, in order.
        warnings: Vec<String>,
    },
}

/// Upstream's decision on the file's contents (`None`: the file does not
/// exist).
pub fn load(contents: Option<&[u8]>) -> Result<Load, NodesConfError> {
    match contents {
        None | Some([]) => Ok(Load::NewNode),
        Some(bytes) => {
            let (conf, warnings) = parse_with_warnings(bytes)?;
            Ok(Load::Loaded { conf, warnings })
        }
    }
}

/// Parses a `nodes.conf` text with upstream's rules (see the module
/// documentation); an empty text is [`NodesConfError::Empty`].
pub fn parse(text: &str) -> Result<NodesConf, NodesConfError> {
    parse_with_warnings(text.as_bytes()).map(|(conf, _)| conf)
}

/// [`parse`] for raw bytes (invalid UTF-8 in addresses and hostnames is
/// kept lossily).
pub fn parse_bytes(bytes: &[u8]) -> Result<NodesConf, NodesConfError> {
    parse_with_warnings(bytes).map(|(conf, _)| conf)
}

/// [`parse_bytes`], also returning the warning lines upstream logs.
pub fn parse_with_warnings(bytes: &[u8]) -> Result<(NodesConf, Vec<String>), NodesConfError> {
    if bytes.is_empty() {
        return Err(NodesConfError::Empty);
    }
    let mut conf = NodesConf::default();
    let mut warnings = Vec::new();
    let mut have_myself = false;
    for (i, chunk) in fgets_lines(bytes).enumerate() {
        let line = i + 1;
        let text = c_str(chunk);
        if text.is_empty() || text[0] == b'\n' {
            continue;
        }
        let corrupted = |cause| NodesConfError::Corrupted { line, cause };
        let argv = split_args(text).ok_or(corrupted(Corruption::Quoting))?;
        let Some(first) = argv.first() else {
            return Err(NodesConfError::Crash {
                line,
                cause: CrashCause::NoArguments,
            });
        };
        if c_str(first).eq_ignore_ascii_case(b"vars") {
            if argv.len() % 2 == 0 {
                return Err(corrupted(Corruption::VarsOddArgs));
            }
            for pair in argv[1..].chunks_exact(2) {
                let (name, value) = (c_str(&pair[0]), c_str(&pair[1]));
                if name.eq_ignore_ascii_case(b"currentEpoch") {
                    conf.current_epoch = c_strtoull(value);
                } else if name.eq_ignore_ascii_case(b"lastVoteEpoch") {
                    conf.last_vote_epoch = c_strtoull(value);
                } else {
                    warnings.push(unknown_var_message(&lossy(name)));
                }
            }
            continue;
        }
        let node = parse_node_line(&argv, line, &mut have_myself)?;
        conf.nodes.push(node);
    }
    if !have_myself {
        return Err(NodesConfError::Corrupted {
            line: 0,
            cause: Corruption::NoMyself,
        });
    }
    Ok((conf, warnings))
}

fn parse_node_line(
    argv: &[Vec<u8>],
    line: usize,
    have_myself: &mut bool,
) -> Result<NodeLine, NodesConfError> {
    let corrupted = |cause| NodesConfError::Corrupted { line, cause };
    if argv.len() < 8 {
        return Err(corrupted(Corruption::TooFewFields));
    }
    if !is_valid_node_id(&argv[0]) {
        return Err(corrupted(Corruption::BadNodeId));
    }
    let mut node = NodeLine {
        id: lossy(&argv[0]),
        ..NodeLine::default()
    };

    // <ip>:<port>[@<cport>][,<hostname>]
    let mut addr = c_str(&argv[1]);
    if let Some(comma) = addr.iter().position(|&b| b == b',') {
        node.hostname = lossy(&addr[comma + 1..]);
        addr = &addr[..comma];
    }
    let colon = addr
        .iter()
        .rposition(|&b| b == b':')
        .ok_or(corrupted(Corruption::NoPort))?;
    let ip = &addr[..colon];
    if ip.len() >= NET_IP_STR_LEN {
        return Err(NodesConfError::Crash {
            line,
            cause: CrashCause::IpTooLong,
        });
    }
    node.ip = lossy(ip);
    let ports = &addr[colon + 1..];
    match ports.iter().position(|&b| b == b'@') {
        Some(at) => {
            node.port = c_atoi(&ports[..at]);
            node.cport = c_atoi(&ports[at + 1..]);
        }
        None => {
            node.port = c_atoi(ports);
            node.cport = node.port.wrapping_add(CLUSTER_PORT_INCR);
        }
    }

    // Flags: every comma-separated word, empty ones included.
    for word in c_str(&argv[2]).split(|&b| b == b',') {
        match NodeFlags::from_word(word) {
            Some(flag) => {
                if flag == NodeFlags::MYSELF {
                    if *have_myself {
                        return Err(NodesConfError::DuplicateMyself { line });
                    }
                    *have_myself = true;
                }
                node.flags |= flag;
            }
            None => {
                return Err(NodesConfError::UnknownFlag {
                    line,
                    flag: lossy(word),
                })
            }
        }
    }

    if argv[3].first() != Some(&b'-') {
        if !is_valid_node_id(&argv[3]) {
            return Err(corrupted(Corruption::BadMasterId));
        }
        node.master = Some(lossy(&argv[3]));
    }
    node.ping_sent = c_strtoll(c_str(&argv[4]));
    node.pong_recv = c_strtoll(c_str(&argv[5]));
    node.config_epoch = c_strtoull(c_str(&argv[6]));
    node.link_state = if c_str(&argv[7]) == b"connected" {
        LinkState::Connected
    } else {
        LinkState::Disconnected
    };

    for arg in &argv[8..] {
        let tok = c_str(arg);
        if tok.first() == Some(&b'[') {
            parse_open_slot(tok, line, &mut node)?;
            continue;
        }
        let (start, stop) = match tok.iter().position(|&b| b == b'-') {
            Some(dash) => (c_atoi(&tok[..dash]), c_atoi(&tok[dash + 1..])),
            None => {
                let s = c_atoi(tok);
                (s, s)
            }
        };
        let (Some(start), Some(stop)) = (slot_number(start), slot_number(stop)) else {
            return Err(corrupted(Corruption::SlotOutOfRange));
        };
        node.slots.set_range(start, stop);
    }
    Ok(node)
}

/// `[<slot>-><node>]` / `[<slot>-<-<node>]` with upstream's lenient
/// reading (see the module documentation).
fn parse_open_slot(tok: &[u8], line: usize, node: &mut NodeLine) -> Result<(), NodesConfError> {
    let corrupted = |cause| NodesConfError::Corrupted { line, cause };
    let Some(dash) = tok.iter().position(|&b| b == b'-') else {
        return Err(NodesConfError::OpenSlotWithoutDash {
            line,
            entry: lossy(tok),
        });
    };
    let direction = tok.get(dash + 1).copied();
    let slot = slot_number(c_atoi(&tok[1..dash])).ok_or(corrupted(Corruption::SlotOutOfRange))?;
    let rest = tok
        .get(dash + 3..)
        .ok_or(corrupted(Corruption::BadOpenSlotNode))?;
    let close = rest
        .iter()
        .position(|&b| b == b']')
        .ok_or(corrupted(Corruption::BadOpenSlotNode))?;
    let id = &rest[..close];
    if !is_valid_node_id(id) {
        return Err(corrupted(Corruption::BadOpenSlotNode));
    }
    if direction == Some(b'>') {
        node.migrating.insert(slot, lossy(id));
    } else {
        node.importing.insert(slot, lossy(id));
    }
    Ok(())
}

fn slot_number(v: i32) -> Option<u16> {
    u16::try_from(v).ok().filter(|&s| s < CLUSTER_SLOTS)
}

/// Formats the file exactly as 7.0 writes it for this state: every node
/// line except those in `handshake`, each ending with `\n`, then the
/// `vars` line.
pub fn format(conf: &NodesConf) -> String {
    let mut out = String::new();
    for node in &conf.nodes {
        if node.flags.contains(NodeFlags::HANDSHAKE) {
            continue;
        }
        let _ = writeln!(out, "{node}");
    }
    let _ = writeln!(
        out,
        "vars currentEpoch {} lastVoteEpoch {}",
        conf.current_epoch, conf.last_vote_epoch
    );
    out
}

/// The chunks `fgets` returns with upstream's buffer: up to and including
/// each `\n`, at most [`MAX_LINE`] - 1 bytes each.
fn fgets_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let limit = rest.len().min(MAX_LINE - 1);
        let end = rest[..limit]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(limit, |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// The C string view of `b`: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Leading blanks, an optional sign, then decimal digits; returns
/// (negative, magnitude saturated at the `u128` range).
fn c_number(s: &[u8]) -> (bool, u128) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if let Some(&c) = s.get(i) {
        if c == b'-' || c == b'+' {
            negative = c == b'-';
            i += 1;
        }
    }
    let mut magnitude: u128 = 0;
    while let Some(&c) = s.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        magnitude = magnitude
            .saturating_mul(10)
            .saturating_add(u128::from(c - b'0'));
        i += 1;
    }
    (negative, magnitude)
}

/// C `strtoll(s, NULL, 10)`: saturates at the `i64` bounds.
fn c_strtoll(s: &[u8]) -> i64 {
    let (negative, magnitude) = c_number(s);
    if negative {
        if magnitude >= 1u128 << 63 {
            i64::MIN
        } else {
            i64::try_from(magnitude).map_or(i64::MIN, |v| -v)
        }
    } else {
        i64::try_from(magnitude).unwrap_or(i64::MAX)
    }
}

/// C `atoi`: glibc's `(int) strtol(s, NULL, 10)`.
fn c_atoi(s: &[u8]) -> i32 {
    c_int(c_strtoll(s))
}

/// C `strtoull(s, NULL, 10)`: `u64::MAX` on overflow; a `-` negates
/// modulo 2^64.
fn c_strtoull(s: &[u8]) -> u64 {
    let (negative, magnitude) = c_number(s);
    match u64::try_from(magnitude) {
        Ok(v) if negative => v.wrapping_neg(),
        Ok(v) => v,
        Err(_) => u64::MAX,
    }
}

#[cfg(test)]
#[path = "nodes_conf_tests.rs"]
mod tests;
