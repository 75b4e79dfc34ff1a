//! The ACL LOG (upstream 7.0's `ACLLog`): recent denials, newest first,
//! bounded by `acllog-max-len`, with similar events grouped.
//!
//! An event updates an existing entry instead of adding one when reason,
//! context, object and user name are equal and the two are at most 60 s
//! apart; only the 10 newest entries are considered, and the matched entry
//! moves to the front with its count bumped and its client info and time
//! refreshed. 7.0 entries have no id or creation/update timestamps (those
//! came in 7.2).

use std::collections::VecDeque;

use crate::value::Value;

/// Events closer than this (ms) may be grouped.
pub const GROUPING_MAX_DELTA_MS: i64 = 60_000;
/// How many recent entries are searched for a group.
const GROUPING_SCAN: usize = 10;
/// `acllog-max-len`'s default.
pub const DEFAULT_MAX_LEN: usize = 128;

/// Why an event was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogReason {
    /// The command was refused (`object` is its full name).
    Command,
    /// A key was refused (`object` is the key).
    Key,
    /// A channel was refused (`object` is the channel).
    Channel,
    /// `AUTH`/`HELLO` failed (`object` is `AUTH`, username the one tried).
    Auth,
}

impl LogReason {
    /// The `reason` field text.
    pub fn name(self) -> &'static str {
        match self {
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
            LogReason::Auth => "auth",
        }
    }
}

impl From<crate::user::Denied> for LogReason {
    fn from(d: crate::user::Denied) -> Self {
        match d {
            crate::user::Denied::Command => LogReason::Command,
            crate::user::Denied::Key(_) => LogReason::Key,
            crate::user::Denied::Channel(_) => LogReason::Channel,
        }
    }
}

/// Where the refused command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogContext {
    /// A normal command.
    TopLevel,
    /// Queued inside `MULTI`.
    Multi,
    /// From a script (`redis.call`).
    Lua,
    /// From a module.
    Module,
}

impl LogContext {
    /// The `context` field text.
    pub fn name(self) -> &'static str {
        match self {
            LogContext::TopLevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
            LogContext::Module => "module",
        }
    }
}

/// One ACL LOG entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// How many grouped events this entry stands for.
    pub count: u64,
    /// Why.
    pub reason: LogReason,
    /// Where.
    pub context: LogContext,
    /// The refused command name, key or channel (`AUTH` for auth).
    pub object: Vec<u8>,
    /// The user (for auth: the name that was tried).
    pub username: Vec<u8>,
    /// Unix time in ms of the latest grouped event.
    pub ctime_ms: i64,
    /// The `CLIENT LIST` line of the client, without the trailing newline.
    pub client_info: Vec<u8>,
}

impl LogEntry {
    /// A fresh entry with count 1.
    pub fn new(
        reason: LogReason,
        context: LogContext,
        object: &[u8],
        username: &[u8],
        client_info: &[u8],
        ctime_ms: i64,
    ) -> LogEntry {
        LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            ctime_ms,
            client_info: client_info.to_vec(),
        }
    }

    fn groups_with(&self, other: &LogEntry) -> bool {
        self.reason == other.reason
            && self.context == other.context
            && (self.ctime_ms - other.ctime_ms).abs() <= GROUPING_MAX_DELTA_MS
            && self.object == other.object
            && self.username == other.username
    }

    /// The entry as one `ACL LOG` map: `count`, `reason`, `context`,
    /// `object`, `username`, `age-seconds` (a double), `client-info`.
    pub fn to_value(&self, now_ms: i64) -> Value {
        let count = i64::try_from(self.count).unwrap_or(i64::MAX);
        Value::map(vec![
            ("count", Value::Integer(count)),
            ("reason", Value::bulk(self.reason.name())),
            ("context", Value::bulk(self.context.name())),
            ("object", Value::bulk(&self.object)),
            ("username", Value::bulk(&self.username)),
            (
                "age-seconds",
                Value::Double((now_ms - self.ctime_ms) as f64 / 1000.0),
            ),
            ("client-info", Value::bulk(&self.client_info)),
        ])
    }
}

/// The bounded, grouped log. See the module documentation.
#[derive(Debug, Clone)]
pub struct AclLog {
    entries: VecDeque<LogEntry>,
    max_len: usize,
    /// Events recorded per reason, in [`LogReason`] order (7.2's INFO
    /// `acl_access_denied_*`): kept by `ACL LOG RESET`, cleared by
    /// `CONFIG RESETSTAT`.
    denied: [u64; 4],
}

impl Default for AclLog {
    fn default() -> Self {
        AclLog::new(DEFAULT_MAX_LEN)
    }
}

impl AclLog {
    /// An empty log keeping at most `max_len` entries.
    pub fn new(max_len: usize) -> AclLog {
        AclLog {
            entries: VecDeque::new(),
            max_len,
            denied: [0; 4],
        }
    }

    /// `acllog-max-len`. As upstream, a smaller value trims the log only
    /// when the next new entry is added.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len;
    }

    /// The current bound.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Records an event (see the module documentation for grouping).
    pub fn add(&mut self, entry: LogEntry) {
        if let Some(n) = self.denied.get_mut(entry.reason as usize) {
            *n += 1;
        }
        let scan = self.entries.len().min(GROUPING_SCAN);
        if let Some(pos) = (0..scan).find(|&i| self.entries[i].groups_with(&entry)) {
            if let Some(mut found) = self.entries.remove(pos) {
                found.count += 1;
                found.client_info = entry.client_info;
                found.ctime_ms = entry.ctime_ms;
                self.entries.push_front(found);
            }
            return;
        }
        self.entries.push_front(entry);
        while self.entries.len() > self.max_len {
            self.entries.pop_back();
        }
    }

    /// The entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many events of `reason` were recorded (INFO
    /// `acl_access_denied_auth|cmd|key|channel`).
    pub fn denied(&self, reason: LogReason) -> u64 {
        self.denied.get(reason as usize).copied().unwrap_or(0)
    }

    /// `CONFIG RESETSTAT`: the per-reason counts start again from zero.
    pub fn reset_counts(&mut self) {
        self.denied = [0; 4];
    }

    /// `ACL LOG RESET`.
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// The `ACL LOG [count]` reply: the `count` newest entries (default
    /// 10; upstream replies an empty array for a negative count) as maps.
    pub fn reply(&self, count: Option<i64>, now_ms: i64) -> Value {
        let count = usize::try_from(count.unwrap_or(10)).unwrap_or(0);
        Value::Array(
            self.entries
                .iter()
                .take(count)
                .map(|e| e.to_value(now_ms))
                .collect(),
        )
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
