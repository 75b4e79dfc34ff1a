//! Unit tests of `node.rs` (kept apart so the module holds only
//! library code).

use super::*;

#[test]
fn slot_ranges() {
    let mut s = vec![false; SLOTS];
    assert_eq!(slots_string(&s), "");
    s[..=10].iter_mut().for_each(|v| *v = true);
    s[12] = true;
    s[SLOTS - 1] = true;
    assert_eq!(slots_string(&s), "[0-10],[12],[16383]");
}

#[test]
fn own_line() {
    let l = split_line(
        "id 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-2 5 [7->-abc] [9-<-def]",
    );
    assert_eq!(l.fields.len(), 8);
    let mut n = Node::new("127.0.0.1", 7000);
    n.apply_flags(l.fields[2], None);
    n.apply_slots(l.slots.unwrap());
    assert_eq!(n.slots_count, 4);
    assert_eq!(n.slots_string(), "[0-2],[5]");
    assert_eq!(n.migrating, vec![("7".to_string(), "abc".to_string())]);
    assert_eq!(n.importing, vec![("9".to_string(), "def".to_string())]);
    assert_eq!(n.flags_string(), "master");
    let l = split_line("id 127.0.0.1:7001@17001 slave abc 0 0 1 connected");
    assert_eq!((l.fields.len(), l.slots, l.tail), (7, None, "connected"));
    assert_eq!(
        parse_address("::1:7000@17000,host"),
        Some(("::1".to_string(), 7000, 17000))
    );
}

#[test]
fn info_fields() {
    let info = "# Cluster\r\ncluster_enabled:1\r\ndb0:keys=3,expires=0\r\n";
    assert_eq!(info_long(info, "cluster_enabled"), 1);
    assert_eq!(info_long(info, "cluster_known_nodes"), 0);
}
