//! One cluster node as the manager sees it: its connection, and what its
//! `CLUSTER NODES` line says (id, flags, master, slots, open slots).
//!
//! The line is tokenised the way upstream's manager does it (space separated
//! fields, the slots only after the eighth one), because which lines count
//! and which do not decides the output of `check`.

use std::rc::Rc;

use redis_client::{Client, Frame};
use tokio::runtime::Runtime;

use super::slot::SLOTS;
use crate::opts::atoi;

/// Node flags the manager tracks.
pub const F_MYSELF: u32 = 1;
pub const F_SLAVE: u32 = 1 << 1;
pub const F_FRIEND: u32 = 1 << 2;
pub const F_NOADDR: u32 = 1 << 3;
pub const F_DISCONNECT: u32 = 1 << 4;
pub const F_FAIL: u32 = 1 << 5;

/// A blocking connection to one node. After an I/O error it stays broken,
/// like a hiredis context in error state: every later command fails.
pub struct Conn {
    client: Client,
    rt: Rc<Runtime>,
    broken: bool,
}

impl Conn {
    /// Connects over TCP; the error text is the system's (`Connection refused`).
    pub fn open(rt: &Rc<Runtime>, ip: &str, port: i32) -> Result<Conn, String> {
        let host = ip.to_string();
        let res = rt.block_on(async move {
            let port = u16::try_from(port).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "Invalid port")
            })?;
            let s = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            s.set_nodelay(true)?;
            Ok::<_, std::io::Error>(Client::from_stream(s))
        });
        match res {
            Ok(client) => Ok(Conn {
                client,
                rt: Rc::clone(rt),
                broken: false,
            }),
            Err(e) => Err(crate::session::io_text(&e)),
        }
    }

    /// Sends one command and reads its reply; `None` when the connection
    /// failed (upstream's NULL reply).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Option<Frame> {
        if self.broken {
            return None;
        }
        match self.rt.block_on(self.client.cmd(args)) {
            Ok(f) => Some(f),
            Err(_) => {
                self.broken = true;
                None
            }
        }
    }

    /// Sends all commands at once and reads every reply; `None` on I/O error.
    pub fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> Option<Vec<Frame>> {
        if self.broken {
            return None;
        }
        match self.rt.block_on(self.client.pipeline(cmds)) {
            Ok(v) => Some(v),
            Err(_) => {
                self.broken = true;
                None
            }
        }
    }
}

/// A node of the cluster being managed.
pub struct Node {
    pub conn: Option<Conn>,
    pub name: Option<String>,
    pub ip: String,
    pub port: i32,
    pub current_epoch: u64,
    pub flags: u32,
    /// The flags as listed by `CLUSTER NODES`; `None` until loaded.
    pub flags_str: Option<Vec<String>>,
    /// The master's id when this node is a replica.
    pub replicate: Option<String>,
    /// Has configuration not yet sent to the node (create).
    pub dirty: bool,
    pub slots: Vec<bool>,
    pub slots_count: i32,
    pub replicas_count: i32,
    /// (slot, destination id) for slots in migrating state.
    pub migrating: Vec<(String, String)>,
    /// (slot, source id) for slots in importing state.
    pub importing: Vec<(String, String)>,
    pub weight: f32,
    pub balance: i32,
}

impl Node {
    pub fn new(ip: &str, port: i32) -> Node {
        Node {
            conn: None,
            name: None,
            ip: ip.to_string(),
            port,
            current_epoch: 0,
            flags: 0,
            flags_str: None,
            replicate: None,
            dirty: false,
            slots: vec![false; SLOTS],
            slots_count: 0,
            replicas_count: 0,
            migrating: Vec::new(),
            importing: Vec::new(),
            weight: 1.0,
            balance: 0,
        }
    }

    pub fn is_slave(&self) -> bool {
        self.flags & F_SLAVE != 0
    }

    /// A master in the sense most commands use: no slave flag, no master.
    pub fn is_plain_master(&self) -> bool {
        !self.is_slave() && self.replicate.is_none()
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// `ip:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// Sends a command; `None` when there is no usable connection.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Option<Frame> {
        self.conn.as_mut()?.cmd(args)
    }

    pub fn reset_slots(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = false);
        self.slots_count = 0;
    }

    /// The slot ranges, `[0-5460],[5462]`.
    pub fn slots_string(&self) -> String {
        slots_string(&self.slots)
    }

    /// The flags without `myself`, comma separated.
    pub fn flags_string(&self) -> String {
        match &self.flags_str {
            None => String::new(),
            Some(v) => v
                .iter()
                .filter(|f| f.as_str() != "myself")
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The `M:`/`S:` description, each line indented by `indent` spaces.
    pub fn info(&self, indent: usize) -> String {
        let spaces = " ".repeat(indent);
        let mut s = spaces.clone();
        let role = if self.is_slave() { "S" } else { "M" };
        if self.dirty && self.replicate.is_some() {
            s.push_str(&format!("S: {} {}:{}", self.name(), self.ip, self.port));
        } else {
            s.push_str(&format!(
                "{role}: {} {}:{}\n{spaces}   slots:{} ({} slots) {}",
                self.name(),
                self.ip,
                self.port,
                self.slots_string(),
                self.slots_count,
                self.flags_string()
            ));
        }
        if let Some(m) = &self.replicate {
            s.push_str(&format!("\n{spaces}   replicates {m}"));
        } else if self.replicas_count != 0 {
            s.push_str(&format!(
                "\n{spaces}   {} additional replica(s)",
                self.replicas_count
            ));
        }
        s
    }

    /// Applies the slot fields of this node's own `CLUSTER NODES` line.
    pub fn apply_slots(&mut self, text: &str) {
        self.reset_slots();
        for def in text.split(' ') {
            if def.is_empty() {
                continue;
            }
            if let Some(open) = def.strip_prefix('[') {
                if let Some(p) = open.find("->-") {
                    let dst = open[p + 3..].split(']').next().unwrap_or("");
                    self.migrating
                        .push((open[..p].to_string(), dst.to_string()));
                } else if let Some(p) = open.find("-<-") {
                    let src = open[p + 3..].split(']').next().unwrap_or("");
                    self.importing
                        .push((open[..p].to_string(), src.to_string()));
                }
            } else if let Some(dash) = def.find('-') {
                let start = atoi(&def[..dash]);
                let stop = atoi(&def[dash + 1..]);
                self.slots_count = self
                    .slots_count
                    .wrapping_add(stop.wrapping_sub(start - 1) as i32);
                for s in start.max(0)..=stop.min(SLOTS as i64 - 1) {
                    self.slots[s as usize] = true;
                }
            } else {
                if let Some(slot) = usize::try_from(atoi(def)).ok().filter(|&v| v < SLOTS) {
                    self.slots[slot] = true;
                }
                self.slots_count = self.slots_count.wrapping_add(1);
            }
        }
    }

    /// Applies a flags field (`myself,master`), and the master id for replicas.
    pub fn apply_flags(&mut self, flags: &str, master_id: Option<&str>) {
        let mut list = Vec::new();
        let mut rest = flags;
        while !rest.is_empty() {
            let (flag, next) = match rest.find(',') {
                Some(p) => (&rest[..p], &rest[p + 1..]),
                None => (rest, ""),
            };
            match flag {
                "noaddr" => self.flags |= F_NOADDR,
                "disconnected" => self.flags |= F_DISCONNECT,
                "fail" => self.flags |= F_FAIL,
                "slave" => {
                    self.flags |= F_SLAVE;
                    if let Some(m) = master_id {
                        self.replicate = Some(m.to_string());
                    }
                }
                _ => {}
            }
            list.push(flag.to_string());
            rest = next;
        }
        self.flags_str = Some(list);
    }
}

/// Slot ranges of a slot map: `[0-5460],[5462]`.
pub fn slots_string(slots: &[bool]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < slots.len() {
        if !slots[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < slots.len() && slots[i + 1] {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == i {
            out.push_str(&format!("[{start}]"));
        } else {
            out.push_str(&format!("[{start}-{i}]"));
        }
        i += 1;
    }
    out
}

/// The fields of one `CLUSTER NODES` line: up to eight space-terminated
/// fields, then what follows the eighth (the slots) if there is an eighth.
/// When the line ends after the seventh field, `tail` is that last field
/// (the link state of a node without slots).
pub struct Line<'a> {
    pub fields: Vec<&'a str>,
    pub slots: Option<&'a str>,
    pub tail: &'a str,
}

pub fn split_line(line: &str) -> Line<'_> {
    let mut fields = Vec::with_capacity(8);
    let mut rest = line;
    while fields.len() < 8 {
        match rest.find(' ') {
            Some(p) => {
                fields.push(&rest[..p]);
                rest = &rest[p + 1..];
            }
            None => break,
        }
    }
    let slots = (fields.len() == 8).then_some(rest);
    Line {
        fields,
        slots,
        tail: rest,
    }
}

/// Splits `ip:port[@busport][,hostname]` into (ip, port, bus port).
pub fn parse_address(addr: &str) -> Option<(String, i32, i32)> {
    let (rest, bus) = match addr.rfind('@') {
        Some(p) => (&addr[..p], atoi(&addr[p + 1..]) as i32),
        None => (addr, 0),
    };
    let colon = rest.rfind(':')?;
    Some((
        rest[..colon].to_string(),
        atoi(&rest[colon + 1..]) as i32,
        bus,
    ))
}

/// The complete lines of a `CLUSTER NODES` reply (a last line without a
/// newline is ignored, as upstream's parser does).
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let end = text.rfind('\n').map(|p| p + 1).unwrap_or(0);
    text[..end].split_terminator('\n')
}

/// The text of a string-like reply.
pub fn frame_text(f: &Frame) -> Option<String> {
    match f {
        Frame::Simple(b) | Frame::Bulk(b) | Frame::Error(b) => {
            Some(String::from_utf8_lossy(b).into_owned())
        }
        Frame::Verbatim { text, .. } => Some(String::from_utf8_lossy(text).into_owned()),
        _ => None,
    }
}

/// An `INFO` field parsed like upstream's `getLongInfoField`: 0 when absent.
pub fn info_long(info: &str, field: &str) -> i64 {
    let Some(p) = info.find(field) else {
        return 0;
    };
    let rest = info.get(p + field.len() + 1..).unwrap_or("");
    let end = rest.find(['\r', ',']).unwrap_or(rest.len());
    atoi(&rest[..end])
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
