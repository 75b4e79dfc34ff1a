//! `--cluster`: the masters and their slots from `CLUSTER SLOTS`, and the
//! hash tags that steer a request to a slot.
//!
//! Requests of the default tests carry a `{tag}` placeholder in their keys
//! (upstream's convention, also accepted in user commands); before each
//! batch a client writes into it the three bytes of a tag that hashes to a
//! slot of its own master, so every request lands where it is served.
//! When the cluster answers `MOVED`/`ASK` (slots moved) the slots are
//! fetched again; `CLUSTERDOWN` waits one second first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use redis_resp::Frame;

use crate::opts::Config;
use crate::setup::{self, frame_text, Addr, ServerConfig};

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// One master.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub ip: String,
    pub port: i32,
    pub slots: Arc<Vec<u16>>,
    pub config: Option<ServerConfig>,
}

/// The slot of a hash tag (CRC16/XMODEM, as `keyHashSlot`).
pub fn slot_of(tag: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(tag) & (SLOTS as u16 - 1)
}

/// For every slot, three bytes to write inside `{...}` so that the key's
/// hash tag maps to it: the shortest tag found, padded with `}` (which
/// closes the tag early, as upstream's table does for short tags).
pub fn tag_table() -> &'static [[u8; 3]] {
    static TABLE: OnceLock<Vec<[u8; 3]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![[0u8; 3]; SLOTS];
        let mut filled = vec![false; SLOTS];
        let mut left = SLOTS;
        // Printable characters that are neither braces nor blanks.
        let alphabet: Vec<u8> = (b'!'..=b'~').filter(|&c| c != b'{' && c != b'}').collect();
        let mut put = |tag: [u8; 3], len: usize| {
            let s = usize::from(slot_of(&tag[..len]));
            if !filled[s] {
                filled[s] = true;
                table[s] = tag;
                left -= 1;
            }
            left == 0
        };
        'search: for &a in &alphabet {
            if put([a, b'}', b'}'], 1) {
                break 'search;
            }
        }
        'two: for &a in &alphabet {
            for &b in &alphabet {
                if put([a, b, b'}'], 2) {
                    break 'two;
                }
            }
        }
        'three: for &a in &alphabet {
            for &b in &alphabet {
                for &c in &alphabet {
                    if put([a, b, c], 3) {
                        break 'three;
                    }
                }
            }
        }
        table
    })
}

/// The masters, shared by the workers; `version` changes on each update.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Mutex<Vec<Node>>,
    pub version: AtomicU64,
    fetching: Mutex<()>,
    entry: Addr,
}

/// Masters and slot ranges from a `CLUSTER SLOTS` reply, in the order the
/// reply names them. `fallback_ip` replaces an empty or unknown address.
pub fn parse_slots(reply: &Frame, fallback_ip: &str) -> Option<Vec<Node>> {
    let Frame::Array(ranges) = reply else {
        return None;
    };
    let mut nodes: Vec<(Node, Vec<u16>)> = Vec::new();
    for r in ranges {
        let Frame::Array(parts) = r else {
            return None;
        };
        let (Some(Frame::Integer(from)), Some(Frame::Integer(to)), Some(Frame::Array(master))) =
            (parts.first(), parts.get(1), parts.get(2))
        else {
            return None;
        };
        let ip = master.first().map(frame_text).unwrap_or_default();
        let ip = if ip.is_empty() || ip == "?" {
            fallback_ip.to_string()
        } else {
            ip
        };
        let port = match master.get(1) {
            Some(Frame::Integer(p)) => i32::try_from(*p).unwrap_or(0),
            _ => return None,
        };
        let id = master
            .get(2)
            .map(frame_text)
            .unwrap_or_else(|| format!("{ip}:{port}"));
        let i = match nodes.iter().position(|(n, _)| n.id == id) {
            Some(i) => i,
            None => {
                nodes.push((
                    Node {
                        id,
                        ip,
                        port,
                        slots: Arc::new(Vec::new()),
                        config: None,
                    },
                    Vec::new(),
                ));
                nodes.len() - 1
            }
        };
        let from = u16::try_from(*from).ok()?;
        let to = u16::try_from(*to).ok()?;
        nodes[i]
            .1
            .extend((from..=to).filter(|&s| usize::from(s) < SLOTS));
    }
    Some(
        nodes
            .into_iter()
            .map(|(mut n, s)| {
                n.slots = Arc::new(s);
                n
            })
            .collect(),
    )
}

fn fallback_ip(addr: &Addr) -> String {
    match addr {
        Addr::Tcp { host, .. } => host.clone(),
        Addr::Unix(_) => "127.0.0.1".into(),
    }
}

impl Cluster {
    /// Fetches the configuration at startup, printing the masters as
    /// upstream does; exits on failure with its messages.
    pub fn fetch(cfg: &Config) -> Cluster {
        let entry = Addr::from_config(cfg);
        let fail = || -> ! {
            eprintln!("Failed to fetch cluster configuration from {entry}");
            std::process::exit(1);
        };
        let Some(mut c) = setup::context(cfg, &entry) else {
            std::process::exit(1);
        };
        let reply = match c.cmd(&[b"CLUSTER", b"SLOTS"]) {
            Ok(Frame::Error(e)) => {
                eprintln!(
                    "Cluster node {entry} replied with error:\n{}",
                    String::from_utf8_lossy(&e)
                );
                fail();
            }
            Ok(f) => f,
            Err(_) => fail(),
        };
        let Some(mut nodes) = parse_slots(&reply, &fallback_ip(&entry)) else {
            fail();
        };
        if nodes.len() <= 1 {
            eprintln!("Invalid cluster: {} node(s).", nodes.len());
            std::process::exit(1);
        }
        let mut out = format!("Cluster has {} master nodes:\n\n", nodes.len());
        for (i, n) in nodes.iter_mut().enumerate() {
            out.push_str(&format!("Master {i}: {} {}:{}\n", n.id, n.ip, n.port));
            let addr = Addr::Tcp {
                host: n.ip.clone(),
                port: n.port,
            };
            n.config = setup::server_config(cfg, &addr);
            if n.config.is_none() {
                eprintln!("WARNING: Could not fetch node CONFIG {}:{}", n.ip, n.port);
            }
        }
        out.push('\n');
        crate::out::print(&out);
        // Built now rather than inside the first timed batch.
        let _ = tag_table();
        Cluster {
            nodes: Mutex::new(nodes),
            version: AtomicU64::new(0),
            fetching: Mutex::new(()),
            entry,
        }
    }

    /// Address and slots of master `i`.
    pub fn node(&self, i: usize) -> Option<(String, i32, Arc<Vec<u16>>)> {
        let nodes = self.nodes.lock().ok()?;
        nodes
            .get(i)
            .map(|n| (n.ip.clone(), n.port, n.slots.clone()))
    }

    pub fn len(&self) -> usize {
        self.nodes.lock().map(|n| n.len()).unwrap_or(0)
    }

    /// Refetches the slots after a redirection seen by a client whose
    /// batch was tagged with configuration `seen`: skipped when the
    /// configuration changed since, or while another thread fetches.
    /// Exits (as upstream) when the answer names an unknown master.
    pub fn refresh(&self, cfg: &Config, seen: u64) {
        if self.version.load(Ordering::Acquire) > seen {
            return;
        }
        let Ok(_guard) = self.fetching.try_lock() else {
            return;
        };
        if self.version.load(Ordering::Acquire) > seen {
            return;
        }
        let errmsg = "Failed to update cluster slots configuration";
        let first = match self.nodes.lock() {
            Ok(n) => n.first().map(|n| Addr::Tcp {
                host: n.ip.clone(),
                port: n.port,
            }),
            Err(_) => None,
        };
        let addr = first.unwrap_or_else(|| self.entry.clone());
        let Some(mut c) = setup::context(cfg, &addr) else {
            std::process::exit(1);
        };
        let reply = match c.cmd(&[b"CLUSTER", b"SLOTS"]) {
            Ok(Frame::Error(e)) => {
                eprintln!(
                    "{errmsg}\nCLUSTER SLOTS ERROR: {}",
                    String::from_utf8_lossy(&e)
                );
                std::process::exit(1);
            }
            Ok(f) => f,
            Err(_) => std::process::exit(1),
        };
        let Some(fresh) = parse_slots(&reply, &fallback_ip(&addr)) else {
            std::process::exit(1);
        };
        let Ok(mut nodes) = self.nodes.lock() else {
            return;
        };
        for f in &fresh {
            if !nodes.iter().any(|n| n.id == f.id) {
                eprintln!(
                    "{errmsg}: could not find node with ID {} in current configuration.",
                    f.id
                );
                std::process::exit(1);
            }
        }
        for n in nodes.iter_mut() {
            if let Some(f) = fresh.iter().find(|f| f.id == n.id) {
                n.slots = f.slots.clone();
            }
        }
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
