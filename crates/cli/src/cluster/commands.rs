//! The subcommands other than `create`: `check`/`fix`, `info`, `reshard`,
//! `rebalance`, `add-node`, `del-node`, `call`, `set-timeout`, `import`
//! and `backup`. Each returns whether it succeeded (exit code 0 or 1).

use std::time::Duration;

use redis_client::Frame;

use super::manager::{err_out, out, read_answer, Checked, Manager};
use super::migrate::{c_str, MoveOpts};
use super::node::{self, Conn, Node};
use super::slot::{key_slot, SLOTS};
use super::{host_from_args, invalid_host};
use crate::opts::{atof, atoi};

/// Loads the cluster through the node given by `args` (`ip:port` or `ip port`).
fn load(m: &mut Manager, args: &[String]) -> Option<bool> {
    let (ip, port) = host_from_args(args)?;
    Some(m.load_from_node(Node::new(&ip, port)))
}

/// `--cluster check` (and `fix`, which sets the fix flag first).
pub fn check(m: &mut Manager, args: &[String]) -> bool {
    match load(m, args) {
        None => invalid_host(),
        Some(false) => false,
        Some(true) => {
            m.show_cluster_info();
            m.check_cluster(false)
        }
    }
}

/// `--cluster info`.
pub fn info(m: &mut Manager, args: &[String]) -> bool {
    match load(m, args) {
        None => invalid_host(),
        Some(false) => false,
        Some(true) => {
            m.show_cluster_info();
            true
        }
    }
}

/// A master usable as a reshard source or target; `Err` when the id is
/// unknown or not a master (printed), `Ok(None)` when it is the target.
fn node_for_resharding(m: &Manager, id: &str, target: Option<usize>) -> Result<Option<usize>, ()> {
    let Some(i) = m.node_by_name(id).filter(|&i| !m.nodes[i].is_slave()) else {
        m.error(&format!(
            "*** The specified node ({id}) is not known or not a master, please retry.\n"
        ));
        return Err(());
    };
    if let Some(t) = target {
        if m.nodes[i].name == m.nodes[t].name {
            m.error("*** It is not possible to use the target node as source node.\n");
            return Ok(None);
        }
    }
    Ok(Some(i))
}

/// `--cluster reshard`.
pub fn reshard(m: &mut Manager, args: &[String]) -> bool {
    match load(m, args) {
        None => return invalid_host(),
        Some(false) => return false,
        Some(true) => {}
    }
    m.check_cluster(false);
    if !m.errors.is_empty() {
        err_out("*** Please fix your cluster problems before resharding\n");
        return false;
    }
    let mut slots = m.cmd.slots;
    if slots == 0 {
        while slots <= 0 || slots > SLOTS as i32 {
            out(&format!(
                "How many slots do you want to move (from 1 to {SLOTS})? "
            ));
            let Some(answer) = read_answer(6) else {
                return false;
            };
            slots = atoi(&answer) as i32;
        }
    }
    let mut to = m.cmd.to.clone();
    while to.is_none() {
        out("What is the receiving node ID? ");
        let Some(answer) = read_answer(255) else {
            return false;
        };
        if !answer.is_empty() {
            to = Some(answer);
        }
    }
    let to = to.unwrap_or_default();
    let Ok(Some(target)) = node_for_resharding(m, &to, None) else {
        return false;
    };
    let mut sources: Vec<usize> = Vec::new();
    let mut all = false;
    let add_source = |m: &Manager, id: &str, sources: &mut Vec<usize>| -> bool {
        match node_for_resharding(m, id, Some(target)) {
            Ok(Some(i)) => {
                sources.push(i);
                true
            }
            Ok(None) => true,
            Err(()) => false,
        }
    };
    match m.cmd.from.clone() {
        None => {
            out("Please enter all the source node IDs.\n");
            out("  Type 'all' to use all the nodes as source nodes for the hash slots.\n");
            out("  Type 'done' once you entered all the source nodes IDs.\n");
            loop {
                out(&format!("Source node #{}: ", sources.len() + 1));
                let Some(answer) = read_answer(255) else {
                    return false;
                };
                if answer == "done" {
                    break;
                }
                if answer == "all" {
                    all = true;
                    break;
                }
                if !add_source(m, &answer, &mut sources) {
                    return false;
                }
            }
        }
        Some(from) => {
            let mut rest = from.as_str();
            while let Some(p) = rest.find(',') {
                let id = &rest[..p];
                if id == "all" {
                    all = true;
                    break;
                }
                if !add_source(m, id, &mut sources) {
                    return false;
                }
                rest = &rest[p + 1..];
            }
            if !all && !rest.is_empty() {
                if rest == "all" {
                    all = true;
                } else if !add_source(m, rest, &mut sources) {
                    return false;
                }
            }
        }
    }
    if all {
        let target_name = m.nodes[target].name.clone();
        sources = (0..m.nodes.len())
            .filter(|&i| m.nodes[i].is_plain_master() && m.nodes[i].name != target_name)
            .collect();
    }
    if sources.is_empty() {
        err_out("*** No source nodes given, operation aborted.\n");
        return false;
    }
    out(&format!("\nReady to move {slots} slots.\n"));
    out("  Source nodes:\n");
    for &s in &sources {
        out(&format!("{}\n", m.nodes[s].info(4)));
    }
    out("  Destination node:\n");
    out(&format!("{}\n", m.nodes[target].info(4)));
    let table = m.reshard_table(&sources, slots);
    out("  Resharding plan:\n");
    for &(src, slot) in &table {
        out(&format!(
            "    Moving slot {slot} from {}\n",
            m.nodes[src].name()
        ));
    }
    if !m.cmd.yes {
        out("Do you want to proceed with the proposed reshard plan (yes/no)? ");
        let answer = super::manager::read_stdin(4);
        if answer.len() < 3 || &answer[..3] != b"yes" {
            return false;
        }
    }
    let opts = MoveOpts {
        verbose: true,
        ..MoveOpts::default()
    };
    for (src, slot) in table {
        if !m.move_slot(src, target, slot, opts, true) {
            return false;
        }
    }
    true
}

/// C's conversion of a float to int (truncation; INT_MIN when undefined).
fn c_int(f: f32) -> i32 {
    if f.is_finite() && f > i32::MIN as f32 && f < i32::MAX as f32 {
        f as i32
    } else {
        i32::MIN
    }
}

/// `--cluster rebalance`.
pub fn rebalance(m: &mut Manager, args: &[String]) -> bool {
    match load(m, args) {
        None => return invalid_host(),
        Some(false) => return false,
        Some(true) => {}
    }
    if let Some(weights) = m.cmd.weights.clone() {
        for w in &weights {
            let Some(eq) = w.find('=') else {
                return false;
            };
            let (name, value) = (&w[..eq], &w[eq + 1..]);
            let weight = atof(value) as f32;
            let Some(i) = m.node_by_abbreviated_name(name) else {
                m.error(&format!("*** No such master node {name}\n"));
                return false;
            };
            m.nodes[i].weight = weight;
        }
    }
    let mut total_weight: f32 = 0.0;
    let mut involved = Vec::new();
    for i in 0..m.nodes.len() {
        let n = &mut m.nodes[i];
        if !n.is_plain_master() {
            continue;
        }
        if !m.cmd.use_empty_masters && n.slots_count == 0 {
            n.weight = 0.0;
            continue;
        }
        total_weight += n.weight;
        involved.push(i);
    }
    m.check_cluster(true);
    if !m.errors.is_empty() {
        m.error("*** Please fix your cluster problems before rebalancing\n");
        return false;
    }
    let threshold = m.cmd.threshold;
    let mut threshold_reached = false;
    let mut total_balance: i64 = 0;
    for &i in &involved {
        let n = &mut m.nodes[i];
        let expected = c_int((SLOTS as f32 / total_weight) * n.weight);
        n.balance = n.slots_count.wrapping_sub(expected);
        total_balance += i64::from(n.balance);
        if threshold > 0.0 {
            let over = if n.slots_count > 0 {
                let err_perc =
                    (100.0 - (100.0 * f64::from(expected) / f64::from(n.slots_count))).abs();
                err_perc > f64::from(threshold)
            } else {
                expected > 1
            };
            threshold_reached |= over;
        }
    }
    if !threshold_reached {
        m.warn(&format!(
            "*** No rebalancing needed! All nodes are within the {:.2}% threshold.\n",
            f64::from(threshold)
        ));
        return true;
    }
    // Rounding can leave more slots to give than to take: the receivers
    // take one more each until it matches.
    while total_balance > 0 {
        let before = total_balance;
        for &i in &involved {
            let n = &mut m.nodes[i];
            if n.balance <= 0 && total_balance > 0 {
                n.balance -= 1;
                total_balance -= 1;
            }
        }
        if before == total_balance {
            break;
        }
    }
    let mut order = involved.clone();
    order.sort_by_key(|&i| m.nodes[i].balance);
    m.info(&format!(
        ">>> Rebalancing across {} nodes. Total weight = {:.2}\n",
        order.len(),
        f64::from(total_weight)
    ));
    if m.verbose {
        for &i in &order {
            let n = &m.nodes[i];
            out(&format!(
                "{}:{} balance is {} slots\n",
                n.ip, n.port, n.balance
            ));
        }
    }
    let mut dst_idx: isize = 0;
    let mut src_idx: isize = order.len() as isize - 1;
    while dst_idx < src_idx {
        let dst = order[dst_idx as usize];
        let src = order[src_idx as usize];
        let db = m.nodes[dst].balance.wrapping_abs();
        let sb = m.nodes[src].balance.wrapping_abs();
        let numslots = db.min(sb);
        if numslots > 0 {
            let (sa, da) = (m.nodes[src].addr(), m.nodes[dst].addr());
            out(&format!("Moving {numslots} slots from {sa} to {da}\n"));
            let table = m.reshard_table(&[src], numslots);
            if table.len() as i32 != numslots {
                m.error("*** Assertion failed: Reshard table != number of slots");
                return false;
            }
            if m.cmd.simulate {
                out(&"#".repeat(table.len()));
            } else {
                let opts = MoveOpts {
                    quiet: true,
                    update: true,
                    ..MoveOpts::default()
                };
                for (s, slot) in table {
                    if !m.move_slot(s, dst, slot, opts, false) {
                        return false;
                    }
                    out("#");
                }
            }
            out("\n");
        }
        m.nodes[dst].balance = m.nodes[dst].balance.wrapping_add(numslots);
        m.nodes[src].balance = m.nodes[src].balance.wrapping_sub(numslots);
        if m.nodes[dst].balance == 0 {
            dst_idx += 1;
        }
        if m.nodes[src].balance == 0 {
            src_idx -= 1;
        }
    }
    true
}

/// Copies the cluster's functions (`FUNCTION DUMP` of the first node) to
/// a new master, which must have none.
fn copy_functions(m: &mut Manager, new: usize) -> bool {
    m.info(">>> Getting functions from cluster\n");
    let dump = match Manager::classify(m.nodes[0].cmd(&["FUNCTION", "DUMP"])) {
        Checked::Ok(f) => f,
        Checked::Err(e) => {
            m.info(&format!(">>> Failed retrieving Functions from the cluster, skip this step as Redis version do not support function command (error = '{e}')\n"));
            return true;
        }
        Checked::Io => {
            m.info(">>> Failed retrieving Functions from the cluster, skip this step as Redis version do not support function command (error = 'NULL reply')\n");
            return true;
        }
    };
    let addr = m.nodes[new].addr();
    m.info(&format!(
        ">>> Send FUNCTION LIST to {addr} to verify there is no functions in it\n"
    ));
    match Manager::classify(m.nodes[new].cmd(&["FUNCTION", "LIST"])) {
        Checked::Ok(Frame::Array(list)) if !list.is_empty() => {
            m.error(">>> New node already contains functions and can not be added to the cluster. Use FUNCTION FLUSH and try again.\r\n");
            return false;
        }
        Checked::Ok(_) => {}
        Checked::Err(e) => {
            m.error(&format!(">>> Failed on CLUSTER LIST (error = '{e}')\r\n"));
            return false;
        }
        Checked::Io => {
            m.error(">>> Failed on CLUSTER LIST (error = 'NULL reply')\r\n");
            return false;
        }
    }
    m.info(&format!(">>> Send FUNCTION RESTORE to {addr}\n"));
    let payload = match &dump {
        Frame::Bulk(b) | Frame::Simple(b) => b.to_vec(),
        _ => Vec::new(),
    };
    let r = m.nodes[new].cmd(&[b"FUNCTION".to_vec(), b"RESTORE".to_vec(), payload]);
    match Manager::classify(r) {
        Checked::Ok(_) => true,
        Checked::Err(e) => {
            m.error(&format!(
                ">>> Failed loading functions to the new node (error = '{e}')\r\n"
            ));
            false
        }
        Checked::Io => {
            m.error(">>> Failed loading functions to the new node (error = 'NULL reply')\r\n");
            false
        }
    }
}

/// `--cluster add-node new_host:new_port existing_host:existing_port`.
pub fn add_node(m: &mut Manager, args: &[String]) -> bool {
    let (Some((ref_ip, ref_port)), Some((ip, port))) =
        (host_from_args(&args[1..]), host_from_args(&args[..1]))
    else {
        return invalid_host();
    };
    m.info(&format!(
        ">>> Adding node {ip}:{port} to cluster {ref_ip}:{ref_port}\n"
    ));
    if !m.load_from_node(Node::new(&ref_ip, ref_port)) || !m.check_cluster(false) {
        return false;
    }
    let mut master = None;
    if m.cmd.slave {
        match m.cmd.master_id.clone() {
            Some(id) => match m.node_by_name(&id) {
                Some(i) => master = Some(i),
                None => {
                    m.error(&format!("[ERR] No such master ID {id}\n"));
                    return false;
                }
            },
            None => {
                let Some(i) = m.node_with_least_replicas() else {
                    return false;
                };
                let n = &m.nodes[i];
                out(&format!(
                    "Automatically selected master {}:{}\n",
                    n.ip, n.port
                ));
                master = Some(i);
            }
        }
    }
    let mut new = Node::new(&ip, port);
    if !m.connect_node(&mut new) {
        m.error(&format!("[ERR] Sorry, can't connect to node {ip}:{port}\n"));
        return false;
    }
    match Manager::node_is_cluster(&mut new) {
        Ok(true) => {}
        Ok(false) => {
            m.print_not_cluster(&new, None);
            return false;
        }
        Err(e) => {
            m.print_not_cluster(&new, e.as_deref());
            return false;
        }
    }
    if let Err(e) = Manager::node_load_info(&mut new, false) {
        if let Some(e) = e {
            m.print_reply_error(&new.ip, new.port, &e);
        }
        return false;
    }
    match Manager::node_is_empty(&mut new) {
        Ok(true) => {}
        Ok(false) => {
            m.print_not_empty(&new, None);
            return false;
        }
        Err(e) => {
            m.print_not_empty(&new, e.as_deref());
            return false;
        }
    }
    let (first_host, first_port) = (m.nodes[0].ip.clone(), m.nodes[0].port);
    m.nodes.push(new);
    let new = m.nodes.len() - 1;
    // A replica gets the functions from its master.
    if master.is_none() && !copy_functions(m, new) {
        return false;
    }
    m.info(&format!(
        ">>> Send CLUSTER MEET to node {ip}:{port} to make it join the cluster.\n"
    ));
    let Some(first_ip) = super::create::resolve(&first_host) else {
        err_out(&format!(
            "Invalid IP address or hostname specified: {first_host}\n"
        ));
        return false;
    };
    let p = first_port.to_string();
    if !m.cmd_ok(new, &["CLUSTER", "MEET", first_ip.as_str(), p.as_str()]) {
        return false;
    }
    if let Some(master) = master {
        std::thread::sleep(Duration::from_secs(1));
        m.wait_for_cluster_join();
        let n = &m.nodes[master];
        m.info(&format!(
            ">>> Configure node as replica of {}:{}.\n",
            n.ip, n.port
        ));
        let id = n.name().to_string();
        if !m.cmd_ok(new, &["CLUSTER", "REPLICATE", id.as_str()]) {
            return false;
        }
    }
    m.ok("[OK] New node added correctly.\n");
    true
}

/// `--cluster del-node host:port node_id`.
pub fn del_node(m: &mut Manager, args: &[String]) -> bool {
    let Some((ip, port)) = host_from_args(&args[..1]) else {
        return invalid_host();
    };
    let node_id = args[1].clone();
    m.info(&format!(
        ">>> Removing node {node_id} from cluster {ip}:{port}\n"
    ));
    if !m.load_from_node(Node::new(&ip, port)) {
        return false;
    }
    let Some(del) = m.node_by_name(&node_id) else {
        m.error(&format!("[ERR] No such node ID {node_id}\n"));
        return false;
    };
    if m.nodes[del].slots_count != 0 {
        let n = &m.nodes[del];
        m.error(&format!(
            "[ERR] Node {}:{} is not empty! Reshard data away and try again.\n",
            n.ip, n.port
        ));
        return false;
    }
    m.info(">>> Sending CLUSTER FORGET messages to the cluster...\n");
    for i in 0..m.nodes.len() {
        if i == del {
            continue;
        }
        let replicates_it = m.nodes[i]
            .replicate
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(&node_id));
        if replicates_it {
            let Some(master) = m.node_with_least_replicas() else {
                return false;
            };
            let (a, b) = (m.nodes[i].addr(), m.nodes[master].addr());
            m.info(&format!(">>> {a} as replica of {b}\n"));
            let id = m.nodes[master].name().to_string();
            if !m.cmd_ok(i, &["CLUSTER", "REPLICATE", id.as_str()]) {
                return false;
            }
        }
        if !m.cmd_ok(i, &["CLUSTER", "FORGET", node_id.as_str()]) {
            return false;
        }
    }
    m.info(">>> Sending CLUSTER RESET SOFT to the deleted node.\n");
    m.cmd_ok(del, &["CLUSTER", "RESET", "SOFT"])
}

/// `--cluster call host:port command args...`.
pub fn call(m: &mut Manager, args: &[String]) -> bool {
    let Some((ip, port)) = host_from_args(&args[..1]) else {
        return invalid_host();
    };
    if !m.load_from_node(Node::new(&ip, port)) {
        return false;
    }
    let argv = &args[1..];
    m.info(">>> Calling");
    out(&argv.iter().map(|a| format!(" {a}")).collect::<String>());
    out("\n");
    for i in 0..m.nodes.len() {
        let n = &m.nodes[i];
        if m.cmd.only_masters && n.replicate.is_some() {
            continue;
        }
        if m.cmd.only_replicas && n.replicate.is_none() {
            continue;
        }
        if m.nodes[i].conn.is_none() {
            let mut n = Node::new(&m.nodes[i].ip, m.nodes[i].port);
            if !m.connect_node(&mut n) {
                continue;
            }
            m.nodes[i].conn = n.conn.take();
        }
        let reply = m.nodes[i].cmd(argv);
        let n = &m.nodes[i];
        match reply {
            None => out(&format!("{}:{}: Failed!\n", n.ip, n.port)),
            Some(f) => {
                let mut text = Vec::new();
                // Upstream has no renderer for big numbers: it exits.
                if crate::format::raw(&f, &m.mb_delim, &mut text).is_err() {
                    err_out("Unknown reply type: 13\n");
                    std::process::exit(1);
                }
                out(&format!("{}:{}: {}\n", n.ip, n.port, c_str(&text)));
            }
        }
    }
    true
}

/// `--cluster set-timeout host:port milliseconds`.
pub fn set_timeout(m: &mut Manager, args: &[String]) -> bool {
    let Some((ip, port)) = host_from_args(&args[..1]) else {
        return invalid_host();
    };
    let timeout = atoi(&args[1]) as i32;
    if timeout < 100 {
        err_out("Setting a node timeout of less than 100 milliseconds is a bad idea.\n");
        return false;
    }
    if !m.load_from_node(Node::new(&ip, port)) {
        return false;
    }
    let (mut ok_count, mut err_count) = (0, 0);
    m.info(">>> Reconfiguring node timeout in every cluster node...\n");
    let t = timeout.to_string();
    for i in 0..m.nodes.len() {
        let mut result = Manager::classify(m.nodes[i].cmd(&[
            "CONFIG",
            "SET",
            "cluster-node-timeout",
            t.as_str(),
        ]));
        if matches!(result, Checked::Ok(_)) {
            result = Manager::classify(m.nodes[i].cmd(&["CONFIG", "REWRITE"]));
        }
        let n = &m.nodes[i];
        match result {
            Checked::Ok(_) => {
                m.warn(&format!("*** New timeout set for {}:{}\n", n.ip, n.port));
                ok_count += 1;
            }
            Checked::Err(e) => {
                m.error(&format!(
                    "ERR setting node-timeot for {}:{}: {e}\n",
                    n.ip, n.port
                ));
                err_count += 1;
            }
            Checked::Io => {
                m.error(&format!(
                    "ERR setting node-timeot for {}:{}: \n",
                    n.ip, n.port
                ));
                err_count += 1;
            }
        }
    }
    m.info(&format!(
        ">>> New node timeout set. {ok_count} OK, {err_count} ERR.\n"
    ));
    true
}

/// `--cluster import host:port --cluster-from host:port`: every key of
/// the source's db 0 migrated to the master serving its slot.
pub fn import(m: &mut Manager, args: &[String]) -> bool {
    let Some((ip, port)) = host_from_args(args) else {
        return invalid_host();
    };
    let Some(from) = m.cmd.from.clone() else {
        err_out("[ERR] Option '--cluster-from' is required for subcommand 'import'.\n");
        return false;
    };
    let Some((src_ip, src_port)) = host_from_args(std::slice::from_ref(&from)) else {
        err_out("[ERR] Invalid --cluster-from host. You need to pass a valid address (ie. 120.0.0.1:7000).\n");
        return false;
    };
    m.info(&format!(
        ">>> Importing data from {src_ip}:{src_port} to cluster {ip}:{port}\n"
    ));
    if !m.load_from_node(Node::new(&ip, port)) || !m.check_cluster(false) {
        return false;
    }
    let mut src = match Conn::open(&m.rt, &src_ip, src_port) {
        Ok(c) => c,
        Err(e) => {
            err_out(&format!(
                "Could not connect to Redis at {src_ip}:{src_port}: {e}.\n"
            ));
            return false;
        }
    };
    if let Some(pass) = m.cmd.from_pass.clone() {
        let r = match &m.cmd.from_user {
            Some(u) => src.cmd(&["AUTH", u.as_str(), pass.as_str()]),
            None => src.cmd(&["AUTH", pass.as_str()]),
        };
        match r {
            None => {
                err_out("\nI/O error\n");
                return false;
            }
            Some(Frame::Error(e)) => {
                err_out(&format!("AUTH failed: {}\n", String::from_utf8_lossy(&e)));
                return false;
            }
            Some(_) => {}
        }
    }
    let source_error = |m: &Manager, e: &str| {
        m.error(&format!(
            "Source {src_ip}:{src_port} replied with error:\n{e}\n"
        ));
    };
    let info = match src.cmd(&["INFO"]) {
        Some(Frame::Error(e)) => {
            source_error(m, &String::from_utf8_lossy(&e));
            return false;
        }
        None => return lost_source(),
        Some(f) => node::frame_text(&f).unwrap_or_default(),
    };
    if node::info_long(&info, "cluster_enabled") as i32 != 0 {
        m.error("[ERR] The source node should not be a cluster node.\n");
        return false;
    }
    let size = match src.cmd(&["DBSIZE"]) {
        Some(Frame::Error(e)) => {
            source_error(m, &String::from_utf8_lossy(&e));
            return false;
        }
        None => return lost_source(),
        Some(Frame::Integer(n)) => n,
        Some(_) => 0,
    };
    m.warn(&format!("*** Importing {} keys from DB 0\n", size as i32));
    // Which master serves each slot.
    let mut slot_owner: Vec<Option<usize>> = vec![None; SLOTS];
    for (slot, owner) in slot_owner.iter_mut().enumerate() {
        *owner = m
            .nodes
            .iter()
            .position(|n| !n.is_slave() && n.slots_count != 0 && n.slots[slot]);
    }
    let timeout = m.cmd.timeout.to_string();
    let mut cursor = String::from("0");
    loop {
        let reply = match src.cmd(&["SCAN", cursor.as_str(), "COUNT", "1000"]) {
            Some(Frame::Error(e)) => {
                source_error(m, &String::from_utf8_lossy(&e));
                return false;
            }
            None => return lost_source(),
            Some(f) => f,
        };
        let Frame::Array(parts) = reply else {
            return false;
        };
        cursor = match parts.first() {
            Some(Frame::Bulk(c)) | Some(Frame::Simple(c)) => {
                atoi(&String::from_utf8_lossy(c)).to_string()
            }
            Some(Frame::Integer(c)) => c.to_string(),
            _ => "0".to_string(),
        };
        let keys = match parts.get(1) {
            Some(Frame::Array(k)) => k.clone(),
            _ => Vec::new(),
        };
        for k in keys {
            let Some(key) = super::migrate::bulk(&k) else {
                continue;
            };
            let Some(target) = slot_owner[key_slot(key)] else {
                m.error(&format!(
                    "[ERR] No master serves slot {} of key {}\n",
                    key_slot(key),
                    c_str(key)
                ));
                return false;
            };
            let t = &m.nodes[target];
            out(&format!(
                "Migrating {} to {}:{}: ",
                c_str(key),
                t.ip,
                t.port
            ));
            let mut argv: Vec<Vec<u8>> = vec![
                b"MIGRATE".to_vec(),
                t.ip.as_bytes().to_vec(),
                t.port.to_string().into_bytes(),
                key.to_vec(),
                b"0".to_vec(),
                timeout.clone().into_bytes(),
            ];
            if let Some(pass) = &m.auth {
                match &m.user {
                    Some(u) => {
                        argv.push(b"AUTH2".to_vec());
                        argv.push(u.as_bytes().to_vec());
                    }
                    None => argv.push(b"AUTH".to_vec()),
                }
                argv.push(pass.as_bytes().to_vec());
            }
            if m.cmd.copy {
                argv.push(b"COPY".to_vec());
            }
            if m.cmd.replace {
                argv.push(b"REPLACE".to_vec());
            }
            match src.cmd(&argv) {
                None => return lost_source(),
                Some(Frame::Error(e)) => {
                    source_error(m, &String::from_utf8_lossy(&e));
                    return false;
                }
                Some(_) => m.ok("OK\n"),
            }
        }
        if cursor == "0" {
            break;
        }
    }
    true
}

/// The import source went away; upstream would try to reconnect forever.
fn lost_source() -> bool {
    err_out("Error: Server closed the connection\n");
    false
}

/// One node of `nodes.json`.
fn node_json(n: &Node, error_count: usize) -> String {
    let replicate = match &n.replicate {
        Some(r) => format!("\"{r}\""),
        None => "null".to_string(),
    };
    let slots = n.slots_string().replace('-', ",");
    let mut json = format!(
        "  {{\n    \"name\": \"{}\",\n    \"host\": \"{}\",\n    \"port\": {},\n    \"replicate\": {replicate},\n    \"slots\": [{slots}],\n    \"slots_count\": {},\n    \"flags\": \"{}\",\n    \"current_epoch\": {}",
        n.name(),
        n.ip,
        n.port,
        n.slots_count,
        n.flags_string(),
        n.current_epoch
    );
    if error_count > 0 {
        json.push_str(&format!(",\n    \"cluster_errors\": {error_count}"));
    }
    for (key, list) in [("migrating", &n.migrating), ("importing", &n.importing)] {
        if list.is_empty() {
            continue;
        }
        let items: Vec<String> = list
            .iter()
            .map(|(slot, other)| format!("\"{slot}\": \"{other}\""))
            .collect();
        json.push_str(&format!(",\n    \"{key}\": {{{}}}", items.join(",")));
    }
    json.push_str("\n  }");
    json
}

/// `--cluster backup host:port directory`: each master's RDB and the
/// cluster layout as `nodes.json`.
pub fn backup(m: &mut Manager, args: &[String]) -> bool {
    let Some((ip, port)) = host_from_args(&args[..1]) else {
        return invalid_host();
    };
    if !m.load_from_node(Node::new(&ip, port)) {
        return false;
    }
    let no_issues = m.check_cluster(false);
    let error_count = if no_issues { 0 } else { m.errors.len() };
    let dir = args[1].clone();
    let sep = if dir.ends_with('/') { "" } else { "/" };
    let mut json = String::from("[\n");
    for i in 0..m.nodes.len() {
        if i > 0 {
            json.push_str(",\n");
        }
        json.push_str(&node_json(&m.nodes[i], error_count));
        if m.nodes[i].replicate.is_some() {
            continue;
        }
        let n = &m.nodes[i];
        m.info(&format!(">>> Node {}:{} -> Saving RDB...\n", n.ip, n.port));
        let file = format!("{dir}{sep}redis-node-{}-{}-{}.rdb", n.ip, n.port, n.name());
        let auth = m.auth.as_deref().map(|p| (&m.user, p));
        super::rdb::fetch(&n.ip, n.port, auth, &file);
    }
    json.push_str("\n]");
    let path = format!("{dir}{sep}nodes.json");
    m.info(&format!("Saving cluster configuration to: {path}\n"));
    if std::fs::write(&path, json.as_bytes()).is_err() {
        m.error(&format!("Could not save nodes to: {path}\n"));
        m.ok("[ERR] Failed to back cluster!\n");
        return false;
    }
    if !no_issues {
        m.warn("*** Cluster seems to have some problems, please be aware of it if you're going to restore this backup.\n");
    }
    m.ok(&format!("[OK] Backup created into: {dir}\n"));
    true
}
