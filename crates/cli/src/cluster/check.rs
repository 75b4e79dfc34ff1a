//! `check` and `fix`: agreement on the slot configuration, open slots
//! (MIGRATING/IMPORTING) and how to close them, slot coverage and how to
//! cover the missing slots, and (with `--cluster-search-multiple-owners`)
//! slots claimed or holding keys on several masters.

use redis_client::Frame;

use super::manager::{out, Manager, Rng};
use super::migrate::MoveOpts;
use super::node::slots_string;
use super::slot::SLOTS;
use crate::opts::atoi;

/// Upstream's warning when fixing with masters it cannot reach.
fn unreachable_warning(what: &str, n: usize) -> String {
    format!(
        "*** Fixing {what} with {n} unreachable masters is dangerous: redis-cli will assume that slots about masters that are not reachable are not covered, and will try to reassign them to the reachable nodes. This can cause data loss and is rarely what you want to do. If you really want to proceed use the --cluster-fix-with-unreachable-masters option.\n"
    )
}

impl Manager {
    /// Checks the loaded cluster (and fixes it in `fix` mode); false when a
    /// problem remains. `quiet` leaves out the node listing.
    pub fn check_cluster(&mut self, quiet: bool) -> bool {
        let Some(first) = self.nodes.first() else {
            return false;
        };
        self.info(&format!(
            ">>> Performing Cluster Check (using node {}:{})\n",
            first.ip, first.port
        ));
        let mut result = true;
        if !quiet {
            self.show_nodes();
        }
        if self.is_config_consistent() {
            self.ok("[OK] All nodes agree about slots configuration.\n");
        } else {
            self.on_error("[ERR] Nodes don't agree about configuration!".to_string());
            result = false;
        }
        self.info(">>> Check for open slots...\n");
        let mut open: Vec<String> = Vec::new();
        for i in 0..self.nodes.len() {
            for importing in [false, true] {
                let n = &self.nodes[i];
                let list = if importing {
                    &n.importing
                } else {
                    &n.migrating
                };
                if list.is_empty() {
                    continue;
                }
                let slots: Vec<String> = list.iter().map(|(s, _)| s.clone()).collect();
                let msg = format!(
                    "[WARNING] Node {}:{} has slots in {} state {}.",
                    n.ip,
                    n.port,
                    if importing { "importing" } else { "migrating" },
                    slots.join(",")
                );
                for s in slots {
                    if !open.contains(&s) {
                        open.push(s);
                    }
                }
                self.on_error(msg);
            }
        }
        if !open.is_empty() {
            result = false;
            self.error(&format!(
                "[WARNING] The following slots are open: {}.\n",
                open.join(",")
            ));
            if self.cmd.fix {
                for s in &open {
                    let slot = usize::try_from(atoi(s)).unwrap_or(0).min(SLOTS - 1);
                    result = self.fix_open_slot(slot);
                    if !result {
                        break;
                    }
                }
            }
        }
        self.info(">>> Check slots coverage...\n");
        let mut covered = vec![false; SLOTS];
        for n in &self.nodes {
            for (c, &s) in covered.iter_mut().zip(n.slots.iter()) {
                *c |= s;
            }
        }
        if covered.iter().all(|&c| c) {
            self.ok(&format!("[OK] All {SLOTS} slots covered.\n"));
        } else {
            self.on_error(format!(
                "[ERR] Not all {SLOTS} slots are covered by nodes.\n"
            ));
            result = false;
            if self.cmd.fix && self.fix_slots_coverage(&covered) > 0 {
                result = true;
            }
        }
        if self.cmd.search_multiple_owners && !self.check_multiple_owners() {
            result = false;
        }
        result
    }

    /// `--cluster-search-multiple-owners`: every slot owned by, or holding
    /// keys on, more than one master. False when one was found (and, in
    /// fix mode, not fixed).
    fn check_multiple_owners(&mut self) -> bool {
        self.info(">>> Check for multiple slot owners...\n");
        // Key counts of the slots each master does not own, asked in one
        // pipeline per node; fixing a slot changes no other slot's count.
        let mut counts: Vec<Vec<i64>> = Vec::with_capacity(self.nodes.len());
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_slave() {
                counts.push(Vec::new());
                continue;
            }
            let wanted: Vec<usize> = (0..SLOTS).filter(|&s| !self.nodes[i].slots[s]).collect();
            counts.push(self.count_keys_bulk(i, &wanted));
        }
        let mut result = true;
        let mut with_multiple = 0;
        for slot in 0..SLOTS {
            let mut owners = Vec::new();
            for (i, n) in self.nodes.iter().enumerate() {
                if n.is_slave() {
                    continue;
                }
                if n.slots[slot] || counts[i].get(slot).is_some_and(|&c| c > 0) {
                    owners.push(i);
                }
            }
            if owners.len() <= 1 {
                continue;
            }
            result = false;
            self.error(&format!(
                "[WARNING] Slot {slot} has {} owners:\n",
                owners.len()
            ));
            for &o in &owners {
                let n = &self.nodes[o];
                self.error(&format!("    {}:{}\n", n.ip, n.port));
            }
            with_multiple += 1;
            if self.cmd.fix {
                result = self.fix_multiple_owners(slot, &owners);
                if !result {
                    self.error(&format!("Failed to fix multiple owners for slot {slot}\n"));
                    break;
                }
                with_multiple -= 1;
            }
        }
        if with_multiple == 0 {
            self.ok("[OK] No multiple owners found.\n");
        }
        result
    }

    /// `CLUSTER COUNTKEYSINSLOT` for many slots in one pipeline, indexed by
    /// slot (-1 where it failed; error replies are printed).
    fn count_keys_bulk(&mut self, i: usize, slots: &[usize]) -> Vec<i64> {
        let mut counts = vec![-1; SLOTS];
        let cmds: Vec<Vec<Vec<u8>>> = slots
            .iter()
            .map(|s| {
                vec![
                    b"CLUSTER".to_vec(),
                    b"COUNTKEYSINSLOT".to_vec(),
                    s.to_string().into_bytes(),
                ]
            })
            .collect();
        let replies = self.nodes[i]
            .conn
            .as_mut()
            .and_then(|c| c.pipeline(&cmds))
            .unwrap_or_default();
        for (&s, r) in slots.iter().zip(replies) {
            if let Some(Frame::Integer(n)) = self.check_printed(i, Some(r)) {
                counts[s] = n;
            }
        }
        counts
    }

    /// Among `list`, the master with the most keys in `slot` (the first on
    /// ties); `None` if asking one of them failed.
    pub fn node_with_most_keys(&mut self, list: &[usize], slot: usize) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut most = 0;
        for &i in list {
            if !self.nodes[i].is_plain_master() {
                continue;
            }
            let s = slot.to_string();
            let r = self.nodes[i].cmd(&["CLUSTER", "COUNTKEYSINSLOT", s.as_str()]);
            match self.check_printed(i, r) {
                Some(f) => {
                    let n = match f {
                        Frame::Integer(n) => n,
                        _ => 0,
                    };
                    if n > most || best.is_none() {
                        most = n;
                        best = Some(i);
                    }
                }
                None => return None,
            }
        }
        best
    }

    /// Closes an open slot, choosing among upstream's four cases.
    fn fix_open_slot(&mut self, slot: usize) -> bool {
        if self.unreachable_masters > 0 && !self.cmd.fix_with_unreachable_masters {
            self.warn(&unreachable_warning("open slots", self.unreachable_masters));
            std::process::exit(1);
        }
        self.info(&format!(">>> Fixing open slot {slot}\n"));
        let s = slot.to_string();
        let masters: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| !self.nodes[i].is_slave())
            .collect();
        // Nodes claiming the slot, or holding keys for it.
        let mut owners = Vec::new();
        for &i in &masters {
            if self.nodes[i].slots[slot] {
                owners.push(i);
                continue;
            }
            let r = self.nodes[i].cmd(&["CLUSTER", "COUNTKEYSINSLOT", s.as_str()]);
            let Some(f) = self.check_printed(i, r) else {
                return false;
            };
            if matches!(f, Frame::Integer(c) if c > 0) {
                let n = &self.nodes[i];
                self.warn(&format!(
                    "*** Found keys about slot {slot} in non-owner node {}:{}!\n",
                    n.ip, n.port
                ));
                owners.push(i);
            }
        }
        let mut owner = (owners.len() == 1).then(|| owners[0]);
        let mut migrating: Vec<usize> = Vec::new();
        let mut importing: Vec<usize> = Vec::new();
        let mut migrating_str = String::new();
        let mut importing_str = String::new();
        let append = |text: &mut String, list: &Vec<usize>, addr: String| {
            if !list.is_empty() {
                text.push(',');
            }
            text.push_str(&addr);
        };
        for &i in &masters {
            let n = &self.nodes[i];
            let addr = n.addr();
            let is_migrating = n.migrating.iter().any(|(m, _)| atoi(m) == slot as i64);
            let is_importing =
                !is_migrating && n.importing.iter().any(|(m, _)| atoi(m) == slot as i64);
            if is_migrating {
                append(&mut migrating_str, &migrating, addr);
                migrating.push(i);
            } else if is_importing {
                append(&mut importing_str, &importing, addr);
                importing.push(i);
            } else if owner != Some(i) {
                let r = self.nodes[i].cmd(&["CLUSTER", "COUNTKEYSINSLOT", s.as_str()]);
                let Some(f) = self.check_printed(i, r) else {
                    return false;
                };
                if matches!(f, Frame::Integer(c) if c > 0) {
                    self.warn(&format!(
                        "*** Found keys about slot {slot} in node {addr}!\n"
                    ));
                    append(&mut importing_str, &importing, addr);
                    importing.push(i);
                }
            }
        }
        if !migrating_str.is_empty() {
            out(&format!("Set as migrating in: {migrating_str}\n"));
        }
        if !importing_str.is_empty() {
            out(&format!("Set as importing in: {importing_str}\n"));
        }
        if owner.is_none() {
            self.info(
                ">>> No single clear owner for the slot, selecting an owner by # of keys...\n",
            );
            let all: Vec<usize> = (0..self.nodes.len()).collect();
            let Some(o) = self.node_with_most_keys(&all, slot) else {
                self.error("[ERR] Can't select a slot owner. Impossible to fix.\n");
                return false;
            };
            let n = &self.nodes[o];
            self.warn(&format!(
                "*** Configuring {}:{} as the slot owner\n",
                n.ip, n.port
            ));
            if !self.clear_slot_status(o, slot) || !self.set_slot_owner(o, slot, false) {
                return false;
            }
            self.nodes[o].slots[slot] = true;
            if !self.bump_epoch(o) {
                return false;
            }
            migrating.retain(|&x| x != o);
            importing.retain(|&x| x != o);
            owner = Some(o);
        }
        let Some(owner) = owner else {
            return false;
        };
        // Several owners: keep one, the others import from it.
        if owners.len() > 1 {
            for &n in &owners {
                if n == owner {
                    continue;
                }
                if !self.del_slot(n, slot, true) {
                    return false;
                }
                self.nodes[n].slots[slot] = false;
                if self.set_slot(n, owner, slot, "node", false).is_err()
                    || self.set_slot(n, owner, slot, "importing", false).is_err()
                {
                    return false;
                }
                importing.retain(|&x| x != n);
                importing.push(n);
                migrating.retain(|&x| x != n);
            }
        }
        let verbose = MoveOpts {
            verbose: true,
            ..MoveOpts::default()
        };
        if migrating.len() == 1 && importing.len() == 1 {
            // Case 1: one side migrating, one side importing.
            let (src, dst) = (migrating[0], importing[0]);
            let (a, b) = (self.nodes[src].addr(), self.nodes[dst].addr());
            self.info(&format!(">>> Case 1: Moving slot {slot} from {a} to {b}\n"));
            let opts = MoveOpts {
                update: true,
                ..verbose
            };
            self.move_slot(src, dst, slot, opts, false)
        } else if migrating.is_empty() && !importing.is_empty() {
            // Case 2: only importing nodes: move their keys to the owner.
            let o = self.nodes[owner].addr();
            self.info(&format!(
                ">>> Case 2: Moving all the {slot} slot keys to its owner {o}\n"
            ));
            let opts = MoveOpts {
                cold: true,
                ..verbose
            };
            for &n in &importing {
                if n == owner {
                    continue;
                }
                if !self.move_slot(n, owner, slot, opts, false) {
                    return false;
                }
                let a = self.nodes[n].addr();
                self.info(&format!(">>> Setting {slot} as STABLE in {a}\n"));
                if !self.clear_slot_status(n, slot) {
                    return false;
                }
            }
            for n in 0..self.nodes.len() {
                if n == owner || self.nodes[n].is_slave() {
                    continue;
                }
                if self.set_slot(n, owner, slot, "NODE", false).is_err() {
                    return false;
                }
            }
            true
        } else if migrating.len() == 1 && importing.len() > 1 {
            // Case 3: one migrating node, several importing ones.
            let src = migrating[0];
            let target_id = self.nodes[src]
                .migrating
                .iter()
                .find(|(m, _)| atoi(m) == slot as i64)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            let mut dst = None;
            for &n in &importing {
                if self.count_keys_in_slot(n, slot) > 0 {
                    return self.unhandled_open_slot(&migrating_str, &importing_str, owner);
                }
                if self.nodes[n].name() == target_id {
                    dst = Some(n);
                }
            }
            if let Some(dst) = dst {
                let (a, b) = (self.nodes[src].addr(), self.nodes[dst].addr());
                self.info(&format!(
                    ">>> Case 3: Moving slot {slot} from {a} to {b} and closing it on all the other importing nodes.\n"
                ));
                if !self.move_slot(src, dst, slot, verbose, false) {
                    return false;
                }
                for &n in &importing {
                    if n != dst && !self.clear_slot_status(n, slot) {
                        return false;
                    }
                }
            } else {
                self.info(&format!(
                    ">>> Case 3: Closing slot {slot} on both migrating and importing nodes.\n"
                ));
                if !self.clear_slot_status(src, slot) {
                    return false;
                }
                for &n in &importing {
                    if !self.clear_slot_status(n, slot) {
                        return false;
                    }
                }
            }
            true
        } else {
            let mut close = importing.is_empty() && migrating.len() == 1;
            if close {
                let n = migrating[0];
                if owner != n {
                    let r = self.nodes[n].cmd(&["CLUSTER", "GETKEYSINSLOT", s.as_str(), "10"]);
                    match self.check_printed(n, r) {
                        Some(Frame::Array(keys)) => close = keys.is_empty(),
                        Some(_) => {}
                        None => return false,
                    }
                }
            }
            if close {
                // Case 4: a migrating node without keys or owning the slot.
                let n = migrating[0];
                let a = self.nodes[n].addr();
                self.info(&format!(">>> Case 4: Closing slot {slot} on {a}\n"));
                self.clear_slot_status(n, slot)
            } else {
                self.unhandled_open_slot(&migrating_str, &importing_str, owner)
            }
        }
    }

    fn unhandled_open_slot(&self, migrating: &str, importing: &str, owner: usize) -> bool {
        let o = self.nodes[owner].addr();
        self.error(&format!(
            "[ERR] Sorry, redis-cli can't fix this slot yet (work in progress). Slot is set as migrating in {migrating}, as importing in {importing}, owner is {o}\n"
        ));
        false
    }

    /// Covers the slots nobody serves, asking first (even with
    /// `--cluster-yes`). Returns how many were fixed, -1 on failure.
    fn fix_slots_coverage(&mut self, covered: &[bool]) -> i32 {
        if self.unreachable_masters > 0 && !self.cmd.fix_with_unreachable_masters {
            self.warn(&unreachable_warning(
                "slots coverage",
                self.unreachable_masters,
            ));
            std::process::exit(1);
        }
        self.info(">>> Fixing slots coverage...\n");
        let mut none = Vec::new();
        let mut single: Vec<(usize, usize)> = Vec::new();
        let mut multi: Vec<(usize, Vec<usize>)> = Vec::new();
        for slot in (0..SLOTS).filter(|&s| !covered[s]) {
            let s = slot.to_string();
            let mut holders = Vec::new();
            for i in 0..self.nodes.len() {
                if !self.nodes[i].is_plain_master() {
                    continue;
                }
                let r = self.nodes[i].cmd(&["CLUSTER", "GETKEYSINSLOT", s.as_str(), "1"]);
                let Some(f) = self.check_printed(i, r) else {
                    return -1;
                };
                if matches!(f, Frame::Array(ref k) if !k.is_empty()) {
                    holders.push(i);
                }
            }
            match holders.len() {
                0 => none.push(slot),
                1 => single.push((slot, holders[0])),
                _ => multi.push((slot, holders)),
            }
        }
        let list = |slots: &mut dyn Iterator<Item = usize>| {
            let mut map = vec![false; SLOTS];
            slots.for_each(|s| map[s] = true);
            out(&format!("{}\n", slots_string(&map)));
        };
        let mut fixed = 0;
        if !none.is_empty() {
            out("The following uncovered slots have no keys across the cluster:\n");
            list(&mut none.iter().copied());
            if self.confirm("Fix these slots by covering with a random node?", true) {
                let mut rng = Rng::new();
                let masters: Vec<usize> = (0..self.nodes.len())
                    .filter(|&i| !self.nodes[i].is_slave())
                    .collect();
                if masters.is_empty() {
                    return -1;
                }
                for &slot in &none {
                    let n = masters[rng.below(masters.len())];
                    let a = self.nodes[n].addr();
                    self.info(&format!(">>> Covering slot {slot} with {a}\n"));
                    if !self.set_slot_owner(n, slot, false) {
                        return -1;
                    }
                    self.nodes[n].slots[slot] = true;
                    fixed += 1;
                }
            }
        }
        if !single.is_empty() {
            out("The following uncovered slots have keys in just one node:\n");
            list(&mut single.iter().map(|(s, _)| *s));
            if self.confirm("Fix these slots by covering with those nodes?", true) {
                for &(slot, n) in &single {
                    let a = self.nodes[n].addr();
                    self.info(&format!(">>> Covering slot {slot} with {a}\n"));
                    if !self.set_slot_owner(n, slot, false) {
                        return -1;
                    }
                    self.nodes[n].slots[slot] = true;
                    fixed += 1;
                }
            }
        }
        if !multi.is_empty() {
            out("The following uncovered slots have keys in multiple nodes:\n");
            list(&mut multi.iter().map(|(s, _)| *s));
            if self.confirm("Fix these slots by moving keys into a single node?", true) {
                for (slot, holders) in &multi {
                    let slot = *slot;
                    let Some(target) = self.node_with_most_keys(holders, slot) else {
                        return -1;
                    };
                    let a = self.nodes[target].addr();
                    self.info(&format!(">>> Covering slot {slot} moving keys to {a}\n"));
                    if !self.set_slot_owner(target, slot, true) {
                        return -1;
                    }
                    self.nodes[target].slots[slot] = true;
                    for &src in holders {
                        if src == target {
                            continue;
                        }
                        if self.set_slot(src, target, slot, "NODE", false).is_err()
                            || self
                                .set_slot(src, target, slot, "IMPORTING", false)
                                .is_err()
                        {
                            return -1;
                        }
                        let opts = MoveOpts {
                            verbose: true,
                            cold: true,
                            ..MoveOpts::default()
                        };
                        if !self.move_slot(src, target, slot, opts, false)
                            || !self.clear_slot_status(src, slot)
                        {
                            return -1;
                        }
                    }
                    fixed += 1;
                }
            }
        }
        fixed
    }

    /// Gives `slot` to one of `owners` and moves the others' keys there.
    fn fix_multiple_owners(&mut self, slot: usize, owners: &[usize]) -> bool {
        self.info(&format!(">>> Fixing multiple owners for slot {slot}...\n"));
        let owner = self.node_with_most_keys(owners, slot).unwrap_or(owners[0]);
        let a = self.nodes[owner].addr();
        self.info(&format!(">>> Setting slot {slot} owner: {a}\n"));
        if !self.set_slot_owner(owner, slot, false) {
            return false;
        }
        let mut success = false;
        for n in 0..self.nodes.len() {
            if n == owner || self.nodes[n].is_slave() {
                continue;
            }
            let count = self.count_keys_in_slot(n, slot);
            success = count >= 0;
            if !success {
                break;
            }
            self.del_slot(n, slot, true);
            if self.set_slot(n, owner, slot, "node", false).is_err() {
                return false;
            }
            if count > 0 {
                let opts = MoveOpts {
                    verbose: true,
                    cold: true,
                    ..MoveOpts::default()
                };
                success = self.move_slot(n, owner, slot, opts, false);
                if !success {
                    break;
                }
            }
        }
        success
    }
}
