//! Tests of `cluster_route.rs`.

use std::collections::{HashMap, HashSet};

use super::*;

/// A fake cluster: the slot is the first byte of the key.
#[derive(Default)]
struct View {
    owners: HashMap<u16, SlotOwner>,
    migrating: HashMap<u16, (String, u16)>,
    importing: HashSet<u16>,
    down: bool,
    reads_when_down: bool,
    keys: HashSet<Vec<u8>>,
}

impl SlotView for View {
    fn slot_of(&self, key: &[u8]) -> u16 {
        key.first().map_or(0, |b| u16::from(*b))
    }
    fn owner(&self, slot: u16) -> SlotOwner {
        self.owners
            .get(&slot)
            .cloned()
            .unwrap_or(SlotOwner::Unassigned)
    }
    fn migrating_to(&self, slot: u16) -> Option<(String, u16)> {
        self.migrating.get(&slot).cloned()
    }
    fn importing(&self, slot: u16) -> bool {
        self.importing.contains(&slot)
    }
    fn state_ok(&self) -> bool {
        !self.down
    }
    fn allow_reads_when_down(&self) -> bool {
        self.reads_when_down
    }
    fn allow_pubsubshard_when_down(&self) -> bool {
        true
    }
    fn key_exists(&self, key: &[u8]) -> bool {
        self.keys.contains(key)
    }
}

fn other(port: u16, my_primary: bool) -> SlotOwner {
    SlotOwner::Node {
        host: "10.0.0.2".into(),
        port,
        my_primary,
    }
}

fn get(keys: &[&'static [u8]]) -> CmdKeys<'static> {
    CmdKeys {
        keys: keys.to_vec(),
        ..CmdKeys::default()
    }
}

fn set(keys: &[&'static [u8]]) -> CmdKeys<'static> {
    CmdKeys {
        write: true,
        ..get(keys)
    }
}

fn view() -> View {
    let mut v = View::default();
    v.owners.insert(u16::from(b'a'), SlotOwner::Myself);
    v.owners.insert(u16::from(b'b'), other(7001, false));
    v.owners.insert(u16::from(b'c'), other(7002, true));
    v
}

const NONE: ClientFlags = ClientFlags {
    asking: false,
    readonly: false,
};

#[test]
fn owner_serves_others_redirect() {
    let v = view();
    assert_eq!(route(&[get(&[b"a1", b"a2"])], NONE, &v), Ok(()));
    let e = route(&[get(&[b"b1"])], NONE, &v).unwrap_err();
    assert_eq!(e.text(), "MOVED 98 10.0.0.2:7001");
    assert_eq!(
        route(&[get(&[b"a1", b"b1"])], NONE, &v),
        Err(Redirect::CrossSlot)
    );
    assert_eq!(route(&[get(&[b"z"])], NONE, &v), Err(Redirect::Unbound));
    // Keyless commands are served anywhere, even when down.
    let mut down = view();
    down.down = true;
    assert_eq!(route(&[get(&[])], NONE, &down), Ok(()));
    // A transaction's keys count together.
    assert_eq!(
        route(&[set(&[b"a1"]), get(&[b"b1"])], NONE, &v),
        Err(Redirect::CrossSlot)
    );
}

#[test]
fn cluster_down_rules() {
    let mut v = view();
    v.down = true;
    assert_eq!(route(&[get(&[b"a1"])], NONE, &v), Err(Redirect::Down));
    v.reads_when_down = true;
    assert_eq!(route(&[get(&[b"a1"])], NONE, &v), Ok(()));
    assert_eq!(
        route(&[set(&[b"a1"])], NONE, &v),
        Err(Redirect::DownReadOnly)
    );
    assert_eq!(
        Redirect::DownReadOnly.text(),
        "CLUSTERDOWN The cluster is down and only accepts read commands"
    );
    // Unassigned beats down, as upstream checks it first.
    assert_eq!(route(&[get(&[b"z"])], NONE, &v), Err(Redirect::Unbound));
}

#[test]
fn migrating_asks_for_missing_keys() {
    let mut v = view();
    v.migrating
        .insert(u16::from(b'a'), ("10.0.0.3".into(), 7003));
    v.keys.insert(b"a1".to_vec());
    assert_eq!(route(&[get(&[b"a1"])], NONE, &v), Ok(()));
    let e = route(&[get(&[b"a2"])], NONE, &v).unwrap_err();
    assert_eq!(e.text(), "ASK 97 10.0.0.3:7003");
    let migrate = CmdKeys {
        migrate: true,
        ..get(&[b"a2"])
    };
    assert_eq!(route(&[migrate], NONE, &v), Ok(()));
}

#[test]
fn importing_needs_asking() {
    let mut v = view();
    v.importing.insert(u16::from(b'b'));
    v.keys.insert(b"b1".to_vec());
    // Without ASKING: the owner's MOVED.
    assert!(matches!(
        route(&[get(&[b"b1"])], NONE, &v),
        Err(Redirect::Moved { .. })
    ));
    let asking = ClientFlags {
        asking: true,
        readonly: false,
    };
    assert_eq!(route(&[get(&[b"b1"])], asking, &v), Ok(()));
    assert_eq!(route(&[get(&[b"b2"])], asking, &v), Ok(()));
    // Several keys, some missing: TRYAGAIN.
    assert_eq!(
        route(&[get(&[b"b1", b"b2"])], asking, &v),
        Err(Redirect::TryAgain)
    );
    // The same key twice is one key.
    assert_eq!(route(&[get(&[b"b2", b"b2"])], asking, &v), Ok(()));
    let restore_asking = CmdKeys {
        asking_cmd: true,
        ..set(&[b"b3"])
    };
    assert_eq!(route(&[restore_asking], NONE, &v), Ok(()));
}

#[test]
fn replicas_serve_reads_in_readonly_mode() {
    let v = view();
    let ro = ClientFlags {
        asking: false,
        readonly: true,
    };
    assert!(matches!(
        route(&[get(&[b"c1"])], NONE, &v),
        Err(Redirect::Moved { .. })
    ));
    assert_eq!(route(&[get(&[b"c1"])], ro, &v), Ok(()));
    assert!(matches!(
        route(&[set(&[b"c1"])], ro, &v),
        Err(Redirect::Moved { .. })
    ));
    // A transaction with a write is a write.
    assert!(matches!(
        route(&[get(&[b"c1"]), set(&[b"c2"])], ro, &v),
        Err(Redirect::Moved { .. })
    ));
    // Not our primary: READONLY does not help.
    assert!(matches!(
        route(&[get(&[b"b1"])], ro, &v),
        Err(Redirect::Moved { .. })
    ));
}
