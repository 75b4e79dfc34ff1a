//! The hello message sentinels publish on `__sentinel__:hello`:
//! `<ip>,<port>,<runid>,<current_epoch>,<master_name>,<master_ip>,<master_port>,<master_config_epoch>`.

use crate::config::Addr;

/// The channel hello messages travel on.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";

/// A parsed or to-be-sent hello message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The announcing sentinel's IP. Empty in an outgoing hello when no
    /// `announce-ip` is set: the driver fills in the local address of the
    /// link it publishes on (see [`Hello::payload`]).
    pub sentinel_ip: String,
    /// The announcing sentinel's port.
    pub sentinel_port: u16,
    /// The announcing sentinel's id.
    pub run_id: String,
    /// Its current epoch.
    pub current_epoch: u64,
    /// The master the message is about.
    pub master_name: String,
    /// That master's address as the sender sees it.
    pub master_addr: Addr,
    /// The configuration epoch of that address.
    pub master_config_epoch: u64,
}

impl Hello {
    /// Parses a hello payload; `None` unless it has exactly 8 fields with
    /// numeric ports and epochs.
    pub fn parse(payload: &str) -> Option<Hello> {
        let t: Vec<&str> = payload.split(',').collect();
        let [ip, port, run_id, epoch, name, mip, mport, mepoch] = t.as_slice() else {
            return None;
        };
        Some(Hello {
            sentinel_ip: ip.to_string(),
            sentinel_port: port.parse().ok()?,
            run_id: run_id.to_string(),
            current_epoch: epoch.parse().ok()?,
            master_name: name.to_string(),
            master_addr: Addr::new(*mip, mport.parse().ok()?),
            master_config_epoch: mepoch.parse().ok()?,
        })
    }

    /// The payload to publish; `local_ip` replaces an empty
    /// [`Hello::sentinel_ip`].
    pub fn payload(&self, local_ip: &str) -> String {
        let ip = if self.sentinel_ip.is_empty() {
            local_ip
        } else {
            &self.sentinel_ip
        };
        format!(
            "{},{},{},{},{},{},{},{}",
            ip,
            self.sentinel_port,
            self.run_id,
            self.current_epoch,
            self.master_name,
            self.master_addr.host,
            self.master_addr.port,
            self.master_config_epoch
        )
    }
}

#[cfg(test)]
#[path = "hello_tests.rs"]
mod tests;
