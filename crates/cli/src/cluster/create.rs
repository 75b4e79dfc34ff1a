//! `create host1:port1 ... hostN:portN [--cluster-replicas N]`: checks the
//! nodes are empty cluster nodes, splits the 16384 slots evenly among the
//! masters, places replicas on other hosts than their master where it can
//! (then improves the placement by random swaps, as upstream does), shows
//! the plan, and on confirmation assigns slots, epochs and replicas, meets
//! the nodes and waits for them to agree.

use std::collections::HashMap;
use std::time::Duration;

use super::manager::{err_out, out, Manager, Rng};
use super::node::{self, Node};
use super::slot::SLOTS;

/// Upstream's measure of bad replica placement: 10000 per replica on its
/// master's host, 1 per replica sharing a host with another replica of the
/// same master. Also returns one offending replica per bad group.
fn anti_affinity_score(nodes: &[Node], hosts: &[Vec<usize>]) -> (i64, Vec<usize>) {
    let mut score = 0;
    let mut offending = Vec::new();
    for host in hosts {
        let Some(&first) = host.first() else { continue };
        let ip = &nodes[first].ip;
        // Master id -> roles on this host, the master's 'm' first.
        let mut related: Vec<(String, String)> = Vec::new();
        for &i in host {
            let n = &nodes[i];
            let key = n.replicate.clone().unwrap_or_else(|| n.name().to_string());
            let pos = match related.iter().position(|(k, _)| *k == key) {
                Some(p) => p,
                None => {
                    related.push((key, String::new()));
                    related.len() - 1
                }
            };
            if n.replicate.is_some() {
                related[pos].1.push('s');
            } else {
                related[pos].1.insert(0, 'm');
            }
        }
        for (name, types) in &related {
            if types.len() < 2 {
                continue;
            }
            if types.starts_with('m') {
                score += 10000 * (types.len() as i64 - 1);
            } else {
                score += types.len() as i64;
            }
            if let Some(o) = nodes
                .iter()
                .position(|n| n.replicate.as_deref() == Some(name.as_str()) && n.ip == *ip)
            {
                offending.push(o);
            }
        }
    }
    (score, offending)
}

impl Manager {
    /// Swaps the masters of random replica pairs while that does not make
    /// the placement worse, then reports how good it is.
    fn optimize_anti_affinity(&mut self, hosts: &[Vec<usize>]) {
        let (score, _) = anti_affinity_score(&self.nodes, hosts);
        if score == 0 {
            return;
        }
        self.info(">>> Trying to optimize slaves allocation for anti-affinity\n");
        let mut rng = Rng::new();
        let mut maxiter = 500 * self.nodes.len();
        while maxiter > 0 {
            let (score, offenders) = anti_affinity_score(&self.nodes, hosts);
            if score == 0 || offenders.is_empty() {
                break;
            }
            let first = offenders[rng.below(offenders.len())];
            let others: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| i != first && self.nodes[i].replicate.is_some())
                .collect();
            if others.is_empty() {
                break;
            }
            let second = others[rng.below(others.len())];
            let a = self.nodes[first].replicate.take();
            let b = self.nodes[second].replicate.take();
            self.nodes[first].replicate = b.clone();
            self.nodes[second].replicate = a.clone();
            self.nodes[first].dirty = true;
            self.nodes[second].dirty = true;
            let (new_score, _) = anti_affinity_score(&self.nodes, hosts);
            if new_score > score {
                self.nodes[first].replicate = a;
                self.nodes[second].replicate = b;
            }
            maxiter -= 1;
        }
        let (score, _) = anti_affinity_score(&self.nodes, hosts);
        if score == 0 {
            self.ok("[OK] Perfect anti-affinity obtained!\n");
        } else if score >= 10000 {
            self.warn("[WARNING] Some slaves are in the same host as their master\n");
        } else {
            self.warn("[WARNING] Some slaves of the same master are in the same host\n");
        }
    }

    /// Sends a node its pending configuration: CLUSTER REPLICATE for a
    /// replica, CLUSTER ADDSLOTS for a master. `Ok(false)`: nothing pending.
    /// A replica whose master is not known yet stays pending.
    fn flush_node_config(&mut self, i: usize) -> Result<bool, Option<String>> {
        if !self.nodes[i].dirty {
            return Ok(false);
        }
        let n = &mut self.nodes[i];
        let reply = match n.replicate.clone() {
            Some(master) => n.cmd(&["CLUSTER", "REPLICATE", master.as_str()]),
            None => {
                let mut argv = vec!["CLUSTER".to_string(), "ADDSLOTS".to_string()];
                argv.extend((0..SLOTS).filter(|&s| n.slots[s]).map(|s| s.to_string()));
                n.cmd(&argv)
            }
        };
        match Self::classify(reply) {
            super::manager::Checked::Ok(_) => {
                n.dirty = false;
                Ok(true)
            }
            super::manager::Checked::Err(e) => {
                if n.replicate.is_none() {
                    n.dirty = false;
                }
                Err(Some(e))
            }
            super::manager::Checked::Io => {
                if n.replicate.is_none() {
                    n.dirty = false;
                }
                Err(None)
            }
        }
    }
}

/// `--cluster create`.
pub fn create(m: &mut Manager, args: &[String]) -> bool {
    for addr in args {
        let Some((ip, port, _)) = node::parse_address(addr) else {
            let shown = addr.rfind('@').map_or(addr.as_str(), |p| &addr[..p]);
            err_out(&format!("Invalid address format: {shown}\n"));
            return false;
        };
        let mut n = Node::new(&ip, port);
        if !m.connect_node(&mut n) {
            return false;
        }
        match Manager::node_is_cluster(&mut n) {
            Ok(true) => {}
            Ok(false) => {
                m.print_not_cluster(&n, None);
                return false;
            }
            Err(e) => {
                m.print_not_cluster(&n, e.as_deref());
                return false;
            }
        }
        if let Err(e) = Manager::node_load_info(&mut n, false) {
            if let Some(e) = e {
                m.print_reply_error(&n.ip, n.port, &e);
            }
            return false;
        }
        match Manager::node_is_empty(&mut n) {
            Ok(true) => {}
            Ok(false) => {
                m.print_not_empty(&n, None);
                return false;
            }
            Err(e) => {
                m.print_not_empty(&n, e.as_deref());
                return false;
            }
        }
        m.nodes.push(n);
    }
    let total = m.nodes.len();
    let replicas = m.cmd.replicas;
    let per_master = i64::from(replicas) + 1;
    let masters_count = if per_master > 0 {
        total as i64 / per_master
    } else {
        0
    };
    if masters_count < 3 {
        m.error(&format!(
            "*** ERROR: Invalid configuration for cluster creation.\n*** Redis Cluster requires at least 3 master nodes.\n*** This is not possible with {total} nodes and {replicas} replicas per node."
        ));
        m.error(&format!(
            "\n*** At least {} nodes are required.\n",
            (3 * per_master) as i32
        ));
        return false;
    }
    let masters_count = masters_count as usize;
    m.info(&format!(
        ">>> Performing hash slots allocation on {total} nodes...\n"
    ));
    // Nodes grouped by host, in order of first appearance.
    let mut hosts: Vec<Vec<usize>> = Vec::new();
    let mut host_of: HashMap<String, usize> = HashMap::new();
    for (i, n) in m.nodes.iter().enumerate() {
        let h = *host_of.entry(n.ip.clone()).or_insert_with(|| {
            hosts.push(Vec::new());
            hosts.len() - 1
        });
        hosts[h].push(i);
    }
    // One node of each host in turn.
    let mut interleaved = Vec::with_capacity(total);
    let mut cursors = vec![0; hosts.len()];
    while interleaved.len() < total {
        for (h, host) in hosts.iter().enumerate() {
            if let Some(&i) = host.get(cursors[h]) {
                interleaved.push(i);
                cursors[h] += 1;
            }
        }
    }
    let masters: Vec<usize> = interleaved[..masters_count].to_vec();
    let mut rest: Vec<Option<usize>> = interleaved[masters_count..]
        .iter()
        .map(|&i| Some(i))
        .collect();

    let slots_per_node = SLOTS as f32 / masters_count as f32;
    let mut first: i64 = 0;
    let mut cursor: f32 = 0.0;
    for (k, &i) in masters.iter().enumerate() {
        let mut last = f64::from(cursor + slots_per_node - 1.0).round() as i64;
        if last > SLOTS as i64 || k == masters_count - 1 {
            last = SLOTS as i64 - 1;
        }
        if last < first {
            last = first;
        }
        out(&format!("Master[{k}] -> Slots {first} - {last}\n"));
        let n = &mut m.nodes[i];
        n.slots_count = 0;
        for s in first..=last {
            n.slots[s as usize] = true;
            n.slots_count += 1;
        }
        n.dirty = true;
        first = last + 1;
        cursor += slots_per_node;
    }

    // Rotating the candidates sometimes gives a better first placement.
    if !rest.is_empty() {
        rest.rotate_left(1);
    }
    let mut start = 0;
    let mut available = rest.len();
    let mut assign_unused = false;
    loop {
        for &master in &masters {
            let mut assigned = 0;
            while assigned < replicas {
                if available == 0 {
                    break;
                }
                let master_ip = m.nodes[master].ip.clone();
                let mut found = None;
                let mut first_idx = None;
                for (j, slot) in rest.iter_mut().enumerate().skip(start) {
                    let Some(n) = *slot else { continue };
                    if m.nodes[n].ip != master_ip {
                        found = Some(n);
                        *slot = None;
                        break;
                    }
                    if first_idx.is_none() {
                        first_idx = Some(j);
                    }
                }
                let slave = match (found, first_idx) {
                    (Some(n), _) => n,
                    (None, Some(j)) => {
                        start = j + 1;
                        match rest[j] {
                            Some(n) => n,
                            None => break,
                        }
                    }
                    (None, None) => break,
                };
                assigned += 1;
                available -= 1;
                let master_name = m.nodes[master].name.clone();
                let s = &mut m.nodes[slave];
                s.replicate = master_name;
                s.dirty = true;
                let (sa, ma) = (m.nodes[slave].addr(), m.nodes[master].addr());
                out(&format!("Adding replica {sa} to {ma}\n"));
                if assign_unused {
                    break;
                }
            }
        }
        if !assign_unused && available > 0 {
            assign_unused = true;
            out("Adding extra replicas...\n");
            continue;
        }
        break;
    }
    m.optimize_anti_affinity(&hosts);
    m.show_nodes();
    if !m.confirm("Can I set the above configuration?", false) {
        return true;
    }
    for i in 0..m.nodes.len() {
        // A master is no longer pending even when ADDSLOTS failed, and a
        // replica may not know its master yet: neither stops the creation
        // here (as upstream).
        let flushed = m.flush_node_config(i);
        let n = &m.nodes[i];
        if let Err(e) = flushed {
            if n.dirty && n.replicate.is_none() {
                if let Some(e) = e {
                    m.print_reply_error(&n.ip, n.port, &e);
                }
                return false;
            }
        }
    }
    m.info(">>> Nodes configuration updated\n");
    m.info(">>> Assign a different config epoch to each node\n");
    for i in 0..m.nodes.len() {
        let epoch = (i + 1).to_string();
        let _ = m.nodes[i].cmd(&["cluster", "set-config-epoch", epoch.as_str()]);
    }
    m.info(">>> Sending CLUSTER MEET messages to join the cluster\n");
    let (first_host, first_port) = (m.nodes[0].ip.clone(), m.nodes[0].port);
    let Some(first_ip) = resolve(&first_host) else {
        err_out(&format!(
            "Invalid IP address or hostname specified: {first_host}\n"
        ));
        return false;
    };
    let port = first_port.to_string();
    for i in 1..m.nodes.len() {
        match m.nodes[i].cmd(&["cluster", "meet", first_ip.as_str(), port.as_str()]) {
            Some(redis_client::Frame::Error(e)) => {
                let n = &m.nodes[i];
                m.print_reply_error(&n.ip, n.port, &String::from_utf8_lossy(&e));
                return false;
            }
            Some(_) => {}
            None => {
                err_out("Failed to send CLUSTER MEET command.\n");
                return false;
            }
        }
    }
    // A second for the join to start, so that the wait does not find all
    // nodes agreeing because none has heard of the others yet.
    std::thread::sleep(Duration::from_secs(1));
    m.wait_for_cluster_join();
    // Replicas can be configured now that they know their masters.
    for i in 0..m.nodes.len() {
        if !m.nodes[i].dirty {
            continue;
        }
        if let Err(e) = m.flush_node_config(i) {
            let n = &m.nodes[i];
            if n.replicate.is_none() {
                if let Some(e) = e {
                    m.print_reply_error(&n.ip, n.port, &e);
                }
                return false;
            }
        }
    }
    // Reload the cluster from the first node and check it.
    m.nodes.truncate(1);
    let Some(first) = m.nodes.pop() else {
        return false;
    };
    if !m.load_from_node(first) {
        return false;
    }
    m.check_cluster(false);
    true
}

/// The address `host` resolves to (itself when it is an address).
pub(super) fn resolve(host: &str) -> Option<String> {
    use std::net::ToSocketAddrs;
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Some(host.to_string());
    }
    (host, 0)
        .to_socket_addrs()
        .ok()?
        .next()
        .map(|a| a.ip().to_string())
}
