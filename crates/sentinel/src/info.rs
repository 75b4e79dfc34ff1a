//! The fields of an `INFO` reply that the sentinel reads, parsed from the
//! reply text. Unknown or malformed lines are ignored, never fatal.

use crate::config::Addr;

/// The role an instance reports in `INFO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `role:master`.
    Master,
    /// `role:slave`.
    Replica,
}

/// What the sentinel uses from an `INFO` reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoReport {
    /// `run_id` (40 characters).
    pub run_id: Option<String>,
    /// `role`.
    pub role: Option<Role>,
    /// Replicas listed by a master (`slaveN:ip=...,port=...`).
    pub replicas: Vec<Addr>,
    /// `master_host` of a replica.
    pub master_host: Option<String>,
    /// `master_port` of a replica.
    pub master_port: Option<u16>,
    /// `master_link_status:up`.
    pub master_link_up: bool,
    /// `master_link_down_since_seconds`, in milliseconds.
    pub master_link_down_ms: Option<u64>,
    /// `slave_priority`.
    pub replica_priority: Option<u32>,
    /// `slave_repl_offset`.
    pub repl_offset: Option<u64>,
    /// `replica_announced`.
    pub replica_announced: Option<bool>,
}

impl InfoReport {
    /// Parses the text of an `INFO` reply.
    pub fn parse(text: &str) -> InfoReport {
        let mut r = InfoReport::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            r.apply(key, value);
        }
        r
    }

    fn apply(&mut self, key: &str, value: &str) {
        match key {
            "run_id" if value.len() >= 40 => self.run_id = value.get(..40).map(str::to_string),
            "role" => {
                self.role = match value {
                    "master" => Some(Role::Master),
                    "slave" => Some(Role::Replica),
                    _ => self.role,
                }
            }
            "master_host" => self.master_host = Some(value.to_string()),
            "master_port" => self.master_port = value.parse().ok(),
            "master_link_status" => self.master_link_up = value == "up",
            "master_link_down_since_seconds" => {
                self.master_link_down_ms = value.parse::<u64>().ok().map(|s| s.saturating_mul(1000))
            }
            "slave_priority" => self.replica_priority = value.parse().ok(),
            "slave_repl_offset" => self.repl_offset = value.parse().ok(),
            "replica_announced" => self.replica_announced = Some(value == "1"),
            _ => {
                let is_replica_line = key.len() > 5
                    && key.starts_with("slave")
                    && key[5..].bytes().all(|b| b.is_ascii_digit());
                if is_replica_line {
                    if let Some(addr) = parse_replica_line(value) {
                        self.replicas.push(addr);
                    }
                }
            }
        }
    }
}

/// `ip=1.2.3.4,port=6380,state=online,...`, or the old `1.2.3.4,6380,online`.
fn parse_replica_line(value: &str) -> Option<Addr> {
    if value.contains("ip=") {
        let mut ip = None;
        let mut port = None;
        for field in value.split(',') {
            if let Some(v) = field.strip_prefix("ip=") {
                ip = Some(v);
            } else if let Some(v) = field.strip_prefix("port=") {
                port = v.parse::<u16>().ok();
            }
        }
        return Some(Addr::new(ip?, port?));
    }
    let mut it = value.split(',');
    let ip = it.next()?;
    let port = it.next()?.parse().ok()?;
    Some(Addr::new(ip, port))
}

#[cfg(test)]
#[path = "info_tests.rs"]
mod tests;
