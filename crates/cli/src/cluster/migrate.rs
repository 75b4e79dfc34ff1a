//! Slot state changes and moving slots with their keys: `CLUSTER SETSLOT`
//! (`IMPORTING`/`MIGRATING`/`NODE`/`STABLE`), `CLUSTER GETKEYSINSLOT` and
//! `MIGRATE host port "" 0 timeout [REPLACE] [AUTH ...] KEYS ...`, with
//! upstream's handling of keys that already exist on the target and of
//! slots nobody serves, and the reshard plan (`Moving slot N from ID`).

use bytes::Bytes;
use redis_client::Frame;

use super::manager::{out, Checked, Manager};
use super::slot::SLOTS;

/// How a slot is moved.
#[derive(Debug, Clone, Copy, Default)]
pub struct MoveOpts {
    /// Print a dot per migrated key.
    pub verbose: bool,
    /// Only move the keys: no IMPORTING/MIGRATING/NODE.
    pub cold: bool,
    /// Update the nodes' slot maps afterwards.
    pub update: bool,
    /// No "Moving slot ..." line.
    pub quiet: bool,
}

impl Manager {
    /// `CLUSTER SETSLOT slot status <id of node other>` on node `i`. With
    /// `report` false the error is printed (upstream's NULL err pointer).
    pub fn set_slot(
        &mut self,
        i: usize,
        other: usize,
        slot: usize,
        status: &str,
        report: bool,
    ) -> Result<(), Option<String>> {
        let id = self.nodes[other].name().to_string();
        let s = slot.to_string();
        let r = self.nodes[i].cmd(&["CLUSTER", "SETSLOT", s.as_str(), status, id.as_str()]);
        match Self::classify(r) {
            Checked::Ok(_) => Ok(()),
            Checked::Err(e) => {
                if !report {
                    let n = &self.nodes[i];
                    self.print_reply_error(&n.ip, n.port, &e);
                }
                Err(Some(e))
            }
            Checked::Io => Err(None),
        }
    }

    /// `CLUSTER SETSLOT slot STABLE`.
    pub fn clear_slot_status(&mut self, i: usize, slot: usize) -> bool {
        let s = slot.to_string();
        self.cmd_ok(i, &["CLUSTER", "SETSLOT", s.as_str(), "STABLE"])
    }

    /// `CLUSTER DELSLOTS slot`; with `ignore_unassigned`, the error for a
    /// slot the node does not serve counts as success.
    pub fn del_slot(&mut self, i: usize, slot: usize, ignore_unassigned: bool) -> bool {
        let s = slot.to_string();
        let r = self.nodes[i].cmd(&["CLUSTER", "DELSLOTS", s.as_str()]);
        match Self::classify(r) {
            Checked::Ok(_) => true,
            Checked::Io => false,
            Checked::Err(e) => {
                let mut success = false;
                if ignore_unassigned {
                    match self.slot_owner(i, slot) {
                        Ok(None) => success = true,
                        Ok(Some(_)) => {}
                        Err(owner_err) => {
                            let n = &self.nodes[i];
                            self.print_reply_error(&n.ip, n.port, &owner_err);
                        }
                    }
                }
                if !success {
                    let n = &self.nodes[i];
                    self.print_reply_error(&n.ip, n.port, &e);
                }
                success
            }
        }
    }

    /// `CLUSTER COUNTKEYSINSLOT`; -1 when that failed (an error is printed).
    pub fn count_keys_in_slot(&mut self, i: usize, slot: usize) -> i64 {
        let s = slot.to_string();
        let r = self.nodes[i].cmd(&["CLUSTER", "COUNTKEYSINSLOT", s.as_str()]);
        match self.check_printed(i, r) {
            Some(Frame::Integer(n)) => n,
            _ => -1,
        }
    }

    /// Who serves `slot` according to node `i` (`CLUSTER SLOTS`): `Ok(None)`
    /// when nobody (or no reply), `Err` with an error reply.
    pub fn slot_owner(&mut self, i: usize, slot: usize) -> Result<Option<usize>, String> {
        let reply = match Self::classify(self.nodes[i].cmd(&["CLUSTER", "SLOTS"])) {
            Checked::Ok(f) => f,
            Checked::Err(e) => return Err(e),
            Checked::Io => return Ok(None),
        };
        let Frame::Array(ranges) = reply else {
            return Ok(None);
        };
        for r in ranges {
            let Frame::Array(parts) = r else { continue };
            let (Some(Frame::Integer(from)), Some(Frame::Integer(to)), Some(Frame::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                continue;
            };
            let s = slot as i64;
            if s < *from || s > *to {
                continue;
            }
            let owner = match master.get(2) {
                Some(Frame::Bulk(id)) => self.node_by_name(&String::from_utf8_lossy(id)),
                _ => {
                    let ip = match master.first() {
                        Some(Frame::Bulk(ip)) => String::from_utf8_lossy(ip).into_owned(),
                        _ => String::new(),
                    };
                    let port = match master.get(1) {
                        Some(Frame::Integer(p)) => *p,
                        _ => 0,
                    };
                    self.nodes
                        .iter()
                        .position(|n| n.ip == ip && i64::from(n.port) == port)
                }
            };
            if owner.is_some() {
                return Ok(owner);
            }
        }
        Ok(None)
    }

    /// Makes node `i` the owner of `slot` in one transaction: DELSLOTS
    /// (errors ignored), ADDSLOTS, optionally SETSLOT STABLE, BUMPEPOCH.
    pub fn set_slot_owner(&mut self, i: usize, slot: usize, clear: bool) -> bool {
        if !self.cmd_ok(i, &["MULTI"]) {
            return false;
        }
        let s = slot.to_string();
        let mut queued = vec![
            vec![
                b"CLUSTER".to_vec(),
                b"DELSLOTS".to_vec(),
                s.clone().into_bytes(),
            ],
            vec![
                b"CLUSTER".to_vec(),
                b"ADDSLOTS".to_vec(),
                s.clone().into_bytes(),
            ],
        ];
        if clear {
            queued.push(vec![
                b"CLUSTER".to_vec(),
                b"SETSLOT".to_vec(),
                s.into_bytes(),
                b"STABLE".to_vec(),
            ]);
        }
        queued.push(vec![b"CLUSTER".to_vec(), b"BUMPEPOCH".to_vec()]);
        for q in &queued {
            // Queued commands answer +QUEUED; a refusal is printed.
            let r = self.nodes[i].cmd(q);
            let _ = self.check_printed(i, r);
        }
        let r = self.nodes[i].cmd(&["EXEC"]);
        let Some(reply) = self.check_printed(i, r) else {
            return false;
        };
        let Frame::Array(items) = reply else {
            return false;
        };
        for (idx, item) in items.iter().enumerate() {
            if let Frame::Error(e) = item {
                // Only a failed ADDSLOTS fails the transaction.
                if idx == 1 {
                    let n = &self.nodes[i];
                    self.print_reply_error(&n.ip, n.port, &String::from_utf8_lossy(e));
                    return false;
                }
            }
        }
        true
    }

    /// `CLUSTER BUMPEPOCH`.
    pub fn bump_epoch(&mut self, i: usize) -> bool {
        self.cmd_ok(i, &["CLUSTER", "BUMPEPOCH"])
    }

    /// The MIGRATE command moving `keys` to node `target`.
    fn migrate_command(&self, target: usize, keys: &[Bytes], replace: bool) -> Vec<Vec<u8>> {
        let t = &self.nodes[target];
        let mut argv: Vec<Vec<u8>> = vec![
            b"MIGRATE".to_vec(),
            t.ip.as_bytes().to_vec(),
            t.port.to_string().into_bytes(),
            Vec::new(),
            b"0".to_vec(),
            self.cmd.timeout.to_string().into_bytes(),
        ];
        if replace {
            argv.push(b"REPLACE".to_vec());
        }
        if let Some(pass) = &self.auth {
            match &self.user {
                Some(u) => {
                    argv.push(b"AUTH2".to_vec());
                    argv.push(u.as_bytes().to_vec());
                }
                None => argv.push(b"AUTH".to_vec()),
            }
            argv.push(pass.as_bytes().to_vec());
        }
        argv.push(b"KEYS".to_vec());
        argv.extend(keys.iter().map(|k| k.to_vec()));
        argv
    }

    /// Keys present on both nodes with different values (`DEBUG
    /// DIGEST-VALUE`); `None` when a node could not tell (printed).
    fn compare_key_values(&mut self, src: usize, dst: usize, keys: &[Bytes]) -> Option<Vec<Bytes>> {
        let mut argv: Vec<Vec<u8>> = vec![b"DEBUG".to_vec(), b"DIGEST-VALUE".to_vec()];
        argv.extend(keys.iter().map(|k| k.to_vec()));
        let r1 = self.nodes[src].cmd(&argv)?;
        let r2 = self.nodes[dst].cmd(&argv)?;
        let mut ok = true;
        for (i, r) in [(src, &r1), (dst, &r2)] {
            if let Frame::Error(e) = r {
                let n = &self.nodes[i];
                self.print_reply_error(&n.ip, n.port, &String::from_utf8_lossy(e));
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let (Frame::Array(h1), Frame::Array(h2)) = (r1, r2) else {
            return None;
        };
        let zero = [b'0'; 40];
        let mut diffs = Vec::new();
        for ((k, a), b) in keys.iter().zip(h1.iter()).zip(h2.iter()) {
            let (Some(a), Some(b)) = (bulk(a), bulk(b)) else {
                continue;
            };
            if a[..] == zero[..] || b[..] == zero[..] {
                continue;
            }
            if a != b {
                diffs.push(k.clone());
            }
        }
        Some(diffs)
    }

    /// Moves every key of `slot` from `src` to `dst`, `pipeline` keys per
    /// MIGRATE. `report` stands for upstream's error out-parameter: it
    /// decides which errors are printed here.
    pub fn migrate_keys_in_slot(
        &mut self,
        src: usize,
        dst: usize,
        slot: usize,
        verbose: bool,
        report: bool,
    ) -> bool {
        let pipeline = self.cmd.pipeline.to_string();
        let s = slot.to_string();
        loop {
            let reply =
                self.nodes[src].cmd(&["CLUSTER", "GETKEYSINSLOT", s.as_str(), pipeline.as_str()]);
            let keys: Vec<Bytes> = match reply {
                None => return false,
                Some(Frame::Error(e)) => {
                    if report {
                        let n = &self.nodes[src];
                        self.print_reply_error(&n.ip, n.port, &String::from_utf8_lossy(&e));
                    }
                    return false;
                }
                Some(Frame::Array(items)) => {
                    items.iter().filter_map(|k| bulk(k).cloned()).collect()
                }
                Some(_) => Vec::new(),
            };
            if keys.is_empty() {
                return true;
            }
            let dots = ".".repeat(keys.len());
            let argv = self.migrate_command(dst, &keys, false);
            let Some(first) = self.nodes[src].cmd(&argv) else {
                // No reply: try again (the next GETKEYSINSLOT fails too).
                continue;
            };
            if let Frame::Error(e) = &first {
                let text = String::from_utf8_lossy(e).into_owned();
                let busy = text.contains("BUSYKEY");
                let mut not_served = false;
                if !busy {
                    match self.slot_owner(src, slot) {
                        Ok(None) => not_served = true,
                        Ok(Some(_)) => {}
                        Err(owner_err) => {
                            let n = &self.nodes[src];
                            self.print_reply_error(&n.ip, n.port, &owner_err);
                        }
                    }
                }
                let mut last = Some(first.clone());
                let success = if busy || not_served {
                    if self.cmd.fix && not_served {
                        let t = &self.nodes[dst];
                        self.warn(&format!(
                            "*** Slot was not served, setting owner to node {}:{}.\n",
                            t.ip, t.port
                        ));
                        let _ = self.set_slot(src, dst, slot, "node", false);
                    }
                    if busy {
                        self.warn("\n*** Target key exists\n");
                        if !self.cmd.replace {
                            self.warn("*** Checking key values on both nodes...\n");
                            let Some(diffs) = self.compare_key_values(src, dst, &keys) else {
                                self.error("*** Value check failed!\n");
                                return false;
                            };
                            if !diffs.is_empty() {
                                let (s_, t_) = (&self.nodes[src], &self.nodes[dst]);
                                let msg = format!(
                                    "*** Found {} key(s) in both source node and target node having different values.\n    Source node: {}:{}\n    Target node: {}:{}\n    Keys(s):\n",
                                    diffs.len(),
                                    s_.ip,
                                    s_.port,
                                    t_.ip,
                                    t_.port
                                );
                                self.error(&msg);
                                for k in &diffs {
                                    self.error(&format!("    - {}\n", c_str(k)));
                                }
                                self.error("Please fix the above key(s) manually and try again or relaunch the command \nwith --cluster-replace option to force key overriding.\n");
                                return false;
                            }
                        }
                        self.warn("*** Replacing target keys...\n");
                    }
                    let argv = self.migrate_command(dst, &keys, busy);
                    last = self.nodes[src].cmd(&argv);
                    matches!(&last, Some(f) if !matches!(f, Frame::Error(_)))
                } else {
                    false
                };
                if !success {
                    if let Some(Frame::Error(e)) = &last {
                        out("\n");
                        let n = &self.nodes[src];
                        self.print_reply_error(&n.ip, n.port, &String::from_utf8_lossy(e));
                    }
                    return false;
                }
            }
            if verbose {
                out(&dots);
            }
        }
    }

    /// Moves `slot` from `src` to `dst`: opens it on both sides, migrates
    /// the keys, then assigns it to `dst` on every master.
    pub fn move_slot(
        &mut self,
        src: usize,
        dst: usize,
        slot: usize,
        opts: MoveOpts,
        report: bool,
    ) -> bool {
        if !opts.quiet {
            let (s, d) = (&self.nodes[src], &self.nodes[dst]);
            out(&format!(
                "Moving slot {slot} from {}:{} to {}:{}: ",
                s.ip, s.port, d.ip, d.port
            ));
        }
        if !opts.cold {
            if self.set_slot(dst, src, slot, "importing", report).is_err() {
                return false;
            }
            if self.set_slot(src, dst, slot, "migrating", report).is_err() {
                return false;
            }
        }
        let ok = self.migrate_keys_in_slot(src, dst, slot, opts.verbose, report);
        if !opts.quiet {
            out("\n");
        }
        if !ok {
            return false;
        }
        if !opts.cold {
            let id = self.nodes[dst].name().to_string();
            let s = slot.to_string();
            for i in 0..self.nodes.len() {
                if self.nodes[i].is_slave() {
                    continue;
                }
                let r = self.nodes[i].cmd(&["CLUSTER", "SETSLOT", s.as_str(), "node", id.as_str()]);
                match r {
                    None => return false,
                    Some(Frame::Error(e)) => {
                        if report {
                            let n = &self.nodes[i];
                            self.print_reply_error(&n.ip, n.port, &String::from_utf8_lossy(&e));
                        }
                        return false;
                    }
                    Some(_) => {}
                }
            }
        }
        if opts.update {
            self.nodes[src].slots[slot] = false;
            self.nodes[dst].slots[slot] = true;
        }
        true
    }

    /// Which slots to take from which source to move `numslots` slots:
    /// sources by slot count (largest first), each giving its share (the
    /// first one rounded up, the others down), lowest slots first.
    pub fn reshard_table(&self, sources: &[usize], numslots: i32) -> Vec<(usize, usize)> {
        let tot_slots: i64 = sources
            .iter()
            .map(|&i| i64::from(self.nodes[i].slots_count))
            .sum();
        let mut sorted = sources.to_vec();
        sorted.sort_by(|&a, &b| self.nodes[b].slots_count.cmp(&self.nodes[a].slots_count));
        let mut moved = Vec::new();
        for (k, &i) in sorted.iter().enumerate() {
            let node = &self.nodes[i];
            let share = numslots as f32 / tot_slots as f32 * node.slots_count as f32;
            let share = if k == 0 { share.ceil() } else { share.floor() };
            // C converts an out-of-range float to INT_MIN.
            let max = if share.is_finite() {
                share as i32
            } else {
                i32::MIN
            };
            let mut count = 0;
            for slot in 0..SLOTS {
                if !node.slots[slot] {
                    continue;
                }
                if count >= max || moved.len() as i32 >= numslots {
                    break;
                }
                moved.push((i, slot));
                count += 1;
            }
        }
        moved
    }
}

/// The bytes of a bulk reply.
pub fn bulk(f: &Frame) -> Option<&Bytes> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => Some(b),
        _ => None,
    }
}

/// Bytes up to the first NUL, as `%s` prints them.
pub fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
