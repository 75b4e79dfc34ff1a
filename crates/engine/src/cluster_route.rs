//! Cluster routing of a command (upstream's `getNodeByQuery`): whether
//! this node serves it, or which redirection or error the client gets
//! (`-MOVED`, `-ASK`, `-TRYAGAIN`, `-CROSSSLOT`, `-CLUSTERDOWN`).
//!
//! Pure: the cluster's view (slot owners, open slots, state) comes in
//! through [`SlotView`], the keys of the command (or of every command
//! queued in a transaction, for `EXEC`) through [`CmdKeys`], taken from
//! the command table's key specs by the dispatcher. The order of the
//! checks, and so which error wins, is upstream's.

/// Who serves a slot, seen from this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotOwner {
    /// No node: the slot is not assigned.
    Unassigned,
    /// This node (a primary).
    Myself,
    /// Another node; `my_primary` when this node is its replica.
    Node {
        /// Its announced endpoint (ip or hostname, per
        /// `cluster-preferred-endpoint-type`).
        host: String,
        /// Its client port.
        port: u16,
        /// This node replicates it.
        my_primary: bool,
    },
}

/// The cluster as the router needs it.
pub trait SlotView {
    /// The slot of a key (CRC16 of the key or its hash tag, mod 16384).
    fn slot_of(&self, key: &[u8]) -> u16;
    /// Who owns `slot`.
    fn owner(&self, slot: u16) -> SlotOwner;
    /// Where `slot` migrates to, when this node owns it and it is
    /// `MIGRATING`.
    fn migrating_to(&self, slot: u16) -> Option<(String, u16)>;
    /// Whether `slot` is `IMPORTING` here.
    fn importing(&self, slot: u16) -> bool;
    /// `cluster_state:ok`.
    fn state_ok(&self) -> bool;
    /// `cluster-allow-reads-when-down`.
    fn allow_reads_when_down(&self) -> bool;
    /// `cluster-allow-pubsubshard-when-down`.
    fn allow_pubsubshard_when_down(&self) -> bool;
    /// Whether `key` exists here (no expiry, no statistics touched).
    fn key_exists(&self, key: &[u8]) -> bool;
}

/// The keys and relevant flags of one command.
#[derive(Debug, Clone, Default)]
pub struct CmdKeys<'a> {
    /// Key arguments, in order.
    pub keys: Vec<&'a [u8]>,
    /// A write command.
    pub write: bool,
    /// `MIGRATE` (served locally while the slot is open).
    pub migrate: bool,
    /// `SPUBLISH`/`SSUBSCRIBE`/`SUNSUBSCRIBE` (channels count as keys).
    pub pubsub_shard: bool,
    /// The command has the `asking` flag (`RESTORE-ASKING`).
    pub asking_cmd: bool,
}

/// The client's cluster flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientFlags {
    /// `ASKING` was sent just before.
    pub asking: bool,
    /// `READONLY` mode.
    pub readonly: bool,
}

/// Why this node does not serve the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// `-MOVED <slot> <host>:<port>`.
    Moved { slot: u16, host: String, port: u16 },
    /// `-ASK <slot> <host>:<port>`.
    Ask { slot: u16, host: String, port: u16 },
    /// The keys are in different slots.
    CrossSlot,
    /// Keys of an importing/migrating slot are only partly here.
    TryAgain,
    /// The cluster is down.
    Down,
    /// The cluster is down and this was a write.
    DownReadOnly,
    /// The slot has no owner.
    Unbound,
}

impl Redirect {
    /// The error line (without the leading `-`), as upstream sends it.
    pub fn text(&self) -> String {
        match self {
            Redirect::Moved { slot, host, port } => {
                format!("MOVED {slot} {}", endpoint(host, *port))
            }
            Redirect::Ask { slot, host, port } => format!("ASK {slot} {}", endpoint(host, *port)),
            Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Redirect::TryAgain => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
            Redirect::Down => "CLUSTERDOWN The cluster is down".into(),
            Redirect::DownReadOnly => {
                "CLUSTERDOWN The cluster is down and only accepts read commands".into()
            }
            Redirect::Unbound => "CLUSTERDOWN Hash slot not served".into(),
        }
    }
}

/// `host:port`, as upstream prints it (IPv6 addresses unbracketed).
fn endpoint(host: &str, port: u16) -> String {
    format!("{host}:{port}")
}

/// Decides whether this node serves `cmds` (one command, or the queue of
/// a transaction at `EXEC`) for a client with `client` flags.
pub fn route(
    cmds: &[CmdKeys<'_>],
    client: ClientFlags,
    view: &dyn SlotView,
) -> Result<(), Redirect> {
    let mut first: Option<(&[u8], u16, SlotOwner)> = None;
    let mut migrating = false;
    let mut importing = false;
    let mut multiple_keys = false;
    let mut missing = 0usize;
    let mut any_write = false;
    let mut migrate_cmd = false;
    let mut pubsub_shard = false;
    let mut asking_cmd = false;
    for cmd in cmds {
        any_write |= cmd.write;
        migrate_cmd |= cmd.migrate;
        pubsub_shard |= cmd.pubsub_shard;
        asking_cmd |= cmd.asking_cmd;
        for &key in &cmd.keys {
            let slot = view.slot_of(key);
            match &first {
                None => {
                    let owner = view.owner(slot);
                    if owner == SlotOwner::Unassigned {
                        return Err(Redirect::Unbound);
                    }
                    if owner == SlotOwner::Myself && view.migrating_to(slot).is_some() {
                        migrating = true;
                    } else if view.importing(slot) {
                        importing = true;
                    }
                    first = Some((key, slot, owner));
                }
                Some((first_key, first_slot, _)) => {
                    if *first_key != key {
                        if *first_slot != slot {
                            return Err(Redirect::CrossSlot);
                        }
                        multiple_keys = true;
                    }
                }
            }
            if (migrating || importing) && !view.key_exists(key) {
                missing += 1;
            }
        }
    }
    // No key at all: served here whatever the state.
    let Some((_, slot, owner)) = first else {
        return Ok(());
    };
    if !view.state_ok() {
        if pubsub_shard {
            if !view.allow_pubsubshard_when_down() {
                return Err(Redirect::Down);
            }
        } else if !view.allow_reads_when_down() {
            return Err(Redirect::Down);
        } else if any_write {
            return Err(Redirect::DownReadOnly);
        }
    }
    if (migrating || importing) && migrate_cmd {
        return Ok(());
    }
    if migrating && missing > 0 {
        if let Some((host, port)) = view.migrating_to(slot) {
            return Err(Redirect::Ask { slot, host, port });
        }
    }
    if importing && (client.asking || asking_cmd) {
        if multiple_keys && missing > 0 {
            return Err(Redirect::TryAgain);
        }
        return Ok(());
    }
    match owner {
        SlotOwner::Myself => Ok(()),
        SlotOwner::Node {
            my_primary: true, ..
        } if (client.readonly || pubsub_shard) && !any_write => Ok(()),
        SlotOwner::Node { host, port, .. } => Err(Redirect::Moved { slot, host, port }),
        SlotOwner::Unassigned => Err(Redirect::Unbound),
    }
}

#[cfg(test)]
#[path = "cluster_route_tests.rs"]
mod tests;
