//! The cluster manager's state and the helpers every subcommand shares:
//! logging (coloured when `TERM` names an xterm, as upstream decides),
//! connecting and authenticating, loading the cluster from one node, the
//! node listings, the configuration-consistency test used while waiting for
//! a join, and the prompts.

use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use redis_client::Frame;
use tokio::runtime::Runtime;

use super::node::{self, Conn, Node, F_DISCONNECT, F_FAIL, F_FRIEND, F_MYSELF, F_NOADDR, F_SLAVE};
use super::slot::SLOTS;
use super::Command;

/// Log levels and their colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Err,
    Ok,
}

/// Writes to stdout at once (prompts and progress dots must show).
pub fn out(s: &str) {
    crate::session::out(s.as_bytes());
}

/// Writes to stderr.
pub fn err_out(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
    let _ = e.flush();
}

/// What a reply check found.
pub enum Checked {
    Ok(Frame),
    /// An error reply, with its text.
    Err(String),
    /// No reply: the connection failed.
    Io,
}

pub struct Manager {
    pub rt: Rc<Runtime>,
    pub nodes: Vec<Node>,
    pub errors: Vec<String>,
    pub unreachable_masters: usize,
    pub cmd: Command,
    pub colors: bool,
    pub auth: Option<String>,
    pub user: Option<String>,
    pub verbose: bool,
    pub mb_delim: Vec<u8>,
}

impl Manager {
    pub fn log(&self, level: Level, text: &str) {
        if self.colors {
            let code = match level {
                Level::Info => "29;1m",
                Level::Warn => "33;1m",
                Level::Err => "31;1m",
                Level::Ok => "32;1m",
            };
            out(&format!("\x1b[{code}{text}\x1b[0m"));
        } else {
            out(text);
        }
    }

    pub fn info(&self, text: &str) {
        self.log(Level::Info, text);
    }

    pub fn warn(&self, text: &str) {
        self.log(Level::Warn, text);
    }

    pub fn error(&self, text: &str) {
        self.log(Level::Err, text);
    }

    pub fn ok(&self, text: &str) {
        self.log(Level::Ok, text);
    }

    /// `Node ip:port replied with error:` and the error.
    pub fn print_reply_error(&self, ip: &str, port: i32, err: &str) {
        self.error(&format!("Node {ip}:{port} replied with error:\n{err}\n"));
    }

    /// Records a problem found by `check` and prints it.
    pub fn on_error(&mut self, err: String) {
        self.error(&format!("{err}\n"));
        self.errors.push(err);
    }

    /// Classifies a reply.
    pub fn classify(r: Option<Frame>) -> Checked {
        match r {
            None => Checked::Io,
            Some(Frame::Error(e)) => Checked::Err(String::from_utf8_lossy(&e).into_owned()),
            Some(f) => Checked::Ok(f),
        }
    }

    /// Sends a command to node `i`; an error reply is printed. True on success.
    pub fn cmd_ok<A: AsRef<[u8]>>(&mut self, i: usize, args: &[A]) -> bool {
        let r = self.nodes[i].cmd(args);
        self.check_printed(i, r).is_some()
    }

    /// Like upstream's reply check without an error out-parameter: error
    /// replies are printed, the frame is returned on success.
    pub fn check_printed(&self, i: usize, r: Option<Frame>) -> Option<Frame> {
        match Self::classify(r) {
            Checked::Ok(f) => Some(f),
            Checked::Err(e) => {
                let n = &self.nodes[i];
                self.print_reply_error(&n.ip, n.port, &e);
                None
            }
            Checked::Io => None,
        }
    }

    /// Connects and authenticates a node; errors are printed.
    pub fn connect_node(&self, node: &mut Node) -> bool {
        node.conn = None;
        let mut conn = match Conn::open(&self.rt, &node.ip, node.port) {
            Ok(c) => c,
            Err(e) => {
                err_out(&format!(
                    "Could not connect to Redis at {}:{}: {e}\n",
                    node.ip, node.port
                ));
                return false;
            }
        };
        if let Some(pass) = &self.auth {
            let r = match &self.user {
                Some(u) => conn.cmd(&[b"AUTH".as_slice(), u.as_bytes(), pass.as_bytes()]),
                None => conn.cmd(&[b"AUTH".as_slice(), pass.as_bytes()]),
            };
            match Self::classify(r) {
                Checked::Ok(_) => {}
                Checked::Err(e) => {
                    self.print_reply_error(&node.ip, node.port, &e);
                    return false;
                }
                Checked::Io => return false,
            }
        }
        node.conn = Some(conn);
        true
    }

    /// `INFO`: the text, or the error text (`Err(None)` for no reply).
    fn node_info(node: &mut Node) -> Result<String, Option<String>> {
        match Self::classify(node.cmd(&["INFO"])) {
            Checked::Ok(f) => Ok(node::frame_text(&f).unwrap_or_default()),
            Checked::Err(e) => Err(Some(e)),
            Checked::Io => Err(None),
        }
    }

    /// Whether the node runs in cluster mode; `Err` carries an error reply.
    pub fn node_is_cluster(node: &mut Node) -> Result<bool, Option<String>> {
        let info = Self::node_info(node)?;
        Ok(node::info_long(&info, "cluster_enabled") as i32 != 0)
    }

    /// Prints why a node cannot be used as a cluster node.
    pub fn print_not_cluster(&self, node: &Node, err: Option<&str>) {
        let msg = err.unwrap_or("is not configured as a cluster node.");
        self.error(&format!("[ERR] Node {}:{} {msg}\n", node.ip, node.port));
    }

    /// Prints why a node cannot join (not empty).
    pub fn print_not_empty(&self, node: &Node, err: Option<&str>) {
        let msg = err.unwrap_or(
            "is not empty. Either the node already knows other nodes (check with CLUSTER NODES) or contains some key in database 0.",
        );
        self.error(&format!("[ERR] Node {}:{} {msg}\n", node.ip, node.port));
    }

    /// A node is empty when it has no keys in db0 and knows no other node.
    pub fn node_is_empty(node: &mut Node) -> Result<bool, Option<String>> {
        let info = Self::node_info(node)?;
        if info.contains("db0:") {
            return Ok(false);
        }
        match Self::classify(node.cmd(&["CLUSTER", "INFO"])) {
            Checked::Ok(f) => {
                let text = node::frame_text(&f).unwrap_or_default();
                Ok(node::info_long(&text, "cluster_known_nodes") == 1)
            }
            Checked::Err(e) => Err(Some(e)),
            Checked::Io => Ok(false),
        }
    }

    /// Loads the node's own line of `CLUSTER NODES`; with `friends`, also
    /// returns new nodes for every other line. `Err(Some)` is an error reply.
    pub fn node_load_info(node: &mut Node, friends: bool) -> Result<Vec<Node>, Option<String>> {
        let reply = match Self::classify(node.cmd(&["CLUSTER", "NODES"])) {
            Checked::Ok(f) => f,
            Checked::Err(e) => return Err(Some(e)),
            Checked::Io => return Err(None),
        };
        let text = node::frame_text(&reply).unwrap_or_default();
        let mut found = Vec::new();
        for line in node::lines(&text) {
            let l = node::split_line(line);
            if l.fields.len() < 3 {
                return Err(None);
            }
            let name = l.fields[0];
            let myself = l.fields[2].contains("myself");
            let master_id = l.fields.get(3).copied();
            if !myself && !friends && node.flags & F_MYSELF != 0 {
                break;
            }
            let current: &mut Node = if myself {
                node.flags |= F_MYSELF;
                node.reset_slots();
                if let Some(slots) = l.slots {
                    node.apply_slots(slots);
                }
                node.dirty = false;
                &mut *node
            } else if !friends {
                continue;
            } else {
                let Some((ip, port, _)) = l.fields.get(1).and_then(|a| node::parse_address(a))
                else {
                    err_out("Error: invalid CLUSTER NODES reply\n");
                    return Err(None);
                };
                let mut f = Node::new(&ip, port);
                f.flags |= F_FRIEND;
                found.push(f);
                let last = found.len() - 1;
                &mut found[last]
            };
            current.name = Some(name.to_string());
            current.apply_flags(l.fields[2], master_id);
            if let Some(e) = l.fields.get(6) {
                current.current_epoch = crate::opts::atoi(e) as u64;
            }
            if !friends && myself {
                break;
            }
        }
        Ok(found)
    }

    /// Loads the whole cluster as seen from `node` into `self.nodes`.
    /// Problems are printed; false when the cluster cannot be loaded.
    pub fn load_from_node(&mut self, mut node: Node) -> bool {
        if node.conn.is_none() && !self.connect_node(&mut node) {
            return false;
        }
        match Self::node_is_cluster(&mut node) {
            Ok(true) => {}
            Ok(false) => {
                self.print_not_cluster(&node, None);
                return false;
            }
            Err(e) => {
                self.print_not_cluster(&node, e.as_deref());
                return false;
            }
        }
        let friends = match Self::node_load_info(&mut node, true) {
            Ok(f) => f,
            Err(e) => {
                if let Some(e) = e {
                    self.print_reply_error(&node.ip, node.port, &e);
                }
                return false;
            }
        };
        self.nodes = vec![node];
        for mut friend in friends {
            let usable = friend.port != 0
                && (friend.conn.is_some() || self.connect_node(&mut friend))
                && match Self::node_load_info(&mut friend, false) {
                    Ok(_) => friend.flags & (F_NOADDR | F_DISCONNECT | F_FAIL) == 0,
                    Err(_) => {
                        self.error(&format!(
                            "[ERR] Unable to load info for node {}:{}\n",
                            friend.ip, friend.port
                        ));
                        false
                    }
                };
            if usable {
                self.nodes.push(friend);
            } else if friend.flags & F_SLAVE == 0 {
                self.unreachable_masters += 1;
            }
        }
        for i in 0..self.nodes.len() {
            let Some(master) = self.nodes[i].replicate.clone() else {
                continue;
            };
            match self.node_by_name(&master) {
                Some(m) => self.nodes[m].replicas_count += 1,
                None => {
                    let n = &self.nodes[i];
                    self.warn(&format!(
                        "*** WARNING: {}:{} claims to be slave of unknown node ID {master}.\n",
                        n.ip, n.port
                    ));
                }
            }
        }
        true
    }

    /// The node with exactly this id (case-insensitive).
    pub fn node_by_name(&self, name: &str) -> Option<usize> {
        let lc = name.to_ascii_lowercase();
        self.nodes
            .iter()
            .position(|n| n.name.as_deref() == Some(lc.as_str()))
    }

    /// The first node whose id starts with `prefix` (case-insensitive).
    pub fn node_by_abbreviated_name(&self, prefix: &str) -> Option<usize> {
        let lc = prefix.to_ascii_lowercase();
        self.nodes
            .iter()
            .position(|n| n.name.as_deref().is_some_and(|id| id.starts_with(&lc)))
    }

    /// The first master with the fewest replicas.
    pub fn node_with_least_replicas(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if n.is_slave() {
                continue;
            }
            if best.is_none_or(|b| n.replicas_count < self.nodes[b].replicas_count) {
                best = Some(i);
            }
        }
        best
    }

    /// Prints every node's description.
    pub fn show_nodes(&self) {
        for n in &self.nodes {
            out(&format!("{}\n", n.info(0)));
        }
    }

    /// The per-master key and slot summary of `info` and `check`.
    pub fn show_cluster_info(&mut self) {
        let mut masters = 0;
        let mut keys: i64 = 0;
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_slave() || self.nodes[i].name.is_none() {
                continue;
            }
            let name = self.nodes[i].name().to_string();
            let replicas = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(j, n)| {
                    *j != i && n.is_slave() && n.replicate.as_deref() == Some(name.as_str())
                })
                .count();
            let reply = self.nodes[i].cmd(&["DBSIZE"]);
            let n = &self.nodes[i];
            let dbsize = match reply {
                Some(Frame::Integer(v)) if v >= 0 => v,
                other => {
                    let err = match other {
                        Some(Frame::Error(e)) => String::from_utf8_lossy(&e).into_owned(),
                        _ => String::new(),
                    };
                    self.print_reply_error(&n.ip, n.port, &err);
                    return;
                }
            };
            let short: String = name.chars().take(8).collect();
            out(&format!(
                "{}:{} ({short}...) -> {dbsize} keys | {} slots | {replicas} slaves.\n",
                n.ip, n.port, n.slots_count
            ));
            masters += 1;
            keys += dbsize;
        }
        self.ok(&format!("[OK] {keys} keys in {masters} masters.\n"));
        let per_slot = (keys as f32) / (SLOTS as f32);
        out(&format!(
            "{:.2} keys per slot on average.\n",
            f64::from(per_slot)
        ));
    }

    /// The slot assignment as node `i` sees it, in a canonical text form;
    /// `None` when it cannot be read or no node has slots.
    fn config_signature(&mut self, i: usize) -> Option<String> {
        let reply = self.nodes[i].cmd(&["CLUSTER", "NODES"])?;
        if matches!(reply, Frame::Error(_)) {
            return None;
        }
        let text = node::frame_text(&reply)?;
        let mut configs = Vec::new();
        for line in node::lines(&text) {
            let l = node::split_line(line);
            let Some(slots) = l.slots else { continue };
            if slots.is_empty() {
                continue;
            }
            let mut own: Vec<&str> = slots.split(' ').filter(|s| !s.starts_with('[')).collect();
            if own.is_empty() {
                continue;
            }
            own.sort_unstable();
            configs.push(format!("{}:{}", l.fields[0], own.join(",")));
        }
        if configs.is_empty() {
            return None;
        }
        configs.sort_unstable();
        Some(configs.join("|"))
    }

    /// True when every node reports the same slot assignment.
    pub fn is_config_consistent(&mut self) -> bool {
        if self.nodes.len() <= 1 {
            return true;
        }
        let mut first: Option<String> = None;
        for i in 0..self.nodes.len() {
            let Some(sig) = self.config_signature(i) else {
                return false;
            };
            match &first {
                None => first = Some(sig),
                Some(f) if *f != sig => return false,
                Some(_) => {}
            }
        }
        true
    }

    /// Addresses of nodes that some node sees disconnected or in
    /// handshake, each with the addresses of the nodes that see it so.
    fn link_status(&mut self) -> Vec<(String, Vec<String>)> {
        let mut status: Vec<(String, Vec<String>)> = Vec::new();
        for i in 0..self.nodes.len() {
            let reply = self.nodes[i].cmd(&["CLUSTER", "NODES"]);
            let Some(reply) = self.check_printed(i, reply) else {
                continue;
            };
            let text = node::frame_text(&reply).unwrap_or_default();
            let me = self.nodes[i].addr();
            for line in node::lines(&text) {
                let l = node::split_line(line);
                if l.fields.len() < 3 {
                    continue;
                }
                let link = match l.fields.get(7) {
                    Some(s) => *s,
                    None if l.fields.len() == 7 => l.tail,
                    None => continue,
                };
                let flags = l.fields[2];
                if flags.contains("myself") {
                    continue;
                }
                let disconnected = flags.contains("disconnected") || link.contains("disconnected");
                if disconnected || flags.contains("handshake") {
                    let addr = l.fields[1].to_string();
                    match status.iter_mut().find(|(a, _)| *a == addr) {
                        Some((_, from)) => from.push(me.clone()),
                        None => status.push((addr, vec![me.clone()])),
                    }
                }
            }
        }
        status
    }

    /// Waits (printing a dot a second) until all nodes agree on the slots,
    /// reporting unreachable bus ports now and then.
    pub fn wait_for_cluster_join(&mut self) {
        out("Waiting for the cluster to join\n");
        let mut counter = 0;
        let check_after = 20 + (self.nodes.len() as f32 * 0.15) as i32;
        while !self.is_config_consistent() {
            out(".");
            std::thread::sleep(Duration::from_secs(1));
            counter += 1;
            if counter > check_after {
                let status = self.link_status();
                if !status.is_empty() {
                    out("\n");
                    self.error(&format!(
                        "Warning: {} node(s) may be unreachable\n",
                        status.len()
                    ));
                    for (addr, from) in &status {
                        match node::parse_address(addr) {
                            Some((ip, _, bus)) if bus != 0 => self.error(&format!(
                                " - The port {bus} of node {ip} may be unreachable from:\n"
                            )),
                            _ => self.error(&format!(" - Node {addr} may be unreachable from:\n")),
                        }
                        for f in from {
                            self.error(&format!("   {f}\n"));
                        }
                        self.error(
                            "Cluster bus ports must be reachable by every node.\nRemember that cluster bus ports are different from standard instance ports.\n",
                        );
                    }
                }
                counter = 0;
            }
        }
        out("\n");
    }

    /// Asks `msg (type 'yes' to accept): ` unless `--cluster-yes` applies.
    pub fn confirm(&self, msg: &str, ignore_force: bool) -> bool {
        if !ignore_force && self.cmd.yes {
            return true;
        }
        out(&format!("{msg} (type 'yes' to accept): "));
        let buf = read_stdin(4);
        buf.len() >= 3 && &buf[..3] == b"yes"
    }
}

/// One read of at most `max` bytes from stdin (empty at end of input).
pub fn read_stdin(max: usize) -> Vec<u8> {
    let mut buf = vec![0u8; max];
    let n = std::io::stdin().lock().read(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// Reads a line answer the way upstream's prompts do: one read of at most
/// `max` bytes, the rest of a longer line discarded, the newline dropped.
/// `None` at end of input.
pub fn read_answer(max: usize) -> Option<String> {
    let mut buf = read_stdin(max);
    if buf.is_empty() {
        return None;
    }
    if buf.last() != Some(&b'\n') {
        let mut byte = [0u8; 1];
        let mut stdin = std::io::stdin().lock();
        while let Ok(1) = stdin.read(&mut byte) {
            if byte[0] == b'\n' {
                break;
            }
        }
    }
    buf.pop();
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A small xorshift generator for the random choices upstream makes with
/// `rand()` (replica swaps, the master covering an empty slot).
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock and the process id.
    pub fn new() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Rng((nanos ^ (u64::from(std::process::id()) << 32)) | 1)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        if n == 0 {
            0
        } else {
            (x % n as u64) as usize
        }
    }
}
