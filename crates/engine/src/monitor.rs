//! What is shown about executed commands: `MONITOR` feeds and the slow log
//! (upstream `replicationFeedMonitors` and `slowlog.c`).

use bytes::Bytes;

use crate::client::Client;
use crate::State;

/// One `SLOWLOG` entry.
#[derive(Clone, Debug)]
pub struct SlowlogEntry {
    pub id: u64,
    pub time: i64,
    pub usec: u64,
    pub argv: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
}

impl State {
    pub(crate) fn feed_monitors(&mut self, client: &Client, argv: &[Bytes], now: i64) {
        let addr = if client.id == crate::script::SCRIPT_CLIENT_ID {
            "lua".to_string()
        } else {
            self.clients
                .get(&client.id)
                .map(|c| c.addr.clone())
                .unwrap_or_default()
        };
        let mut line = format!(
            "+{}.{:06} [{} {}]",
            now / 1000,
            (now % 1000) * 1000,
            client.db,
            addr
        )
        .into_bytes();
        for a in argv {
            line.push(b' ');
            redis_common::repr::repr_into(&mut line, a);
        }
        line.extend_from_slice(b"\r\n");
        let msg = Bytes::from(line);
        let monitors = self.monitors.clone();
        for id in monitors {
            if let Some(c) = self.clients.get(&id) {
                // A monitor that went away is cleaned up by its own task.
                let _ = c.signal.push.send(msg.clone());
            }
        }
    }
    pub(crate) fn slowlog_push(&mut self, client: &Client, argv: &[Bytes], usec: u64, now: i64) {
        let limit = self.cached.slowlog_slower_than;
        if limit < 0 || (usec as i64) < limit {
            return;
        }
        let (addr, name) = self
            .clients
            .get(&client.id)
            .map(|c| (c.addr.clone(), c.name.clone()))
            .unwrap_or_default();
        // Upstream keeps at most 32 arguments of at most 128 bytes each.
        let mut args: Vec<Bytes> = Vec::new();
        for (i, a) in argv.iter().enumerate() {
            if i == 31 && argv.len() > 32 {
                args.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    argv.len() - 31
                )));
                break;
            }
            if a.len() > 128 {
                args.push(Bytes::from(format!(
                    "{}... ({} more bytes)",
                    String::from_utf8_lossy(&a[..128]),
                    a.len() - 128
                )));
            } else {
                args.push(a.clone());
            }
        }
        self.slowlog.push_front(SlowlogEntry {
            id: self.slowlog_next_id,
            time: now / 1000,
            usec,
            argv: args,
            addr,
            name,
        });
        self.slowlog_next_id += 1;
        while self.slowlog.len() as u64 > self.cached.slowlog_max_len {
            self.slowlog.pop_back();
        }
    }
}
