//! Memory used by clients: the per-client estimate, the `INFO` figures
//! built on it (`mem_clients_normal`, `mem_clients_slaves`,
//! `client_recent_max_input_buffer`, `client_recent_max_output_buffer`)
//! and client eviction (`maxmemory-clients`, upstream 7.0's
//! `evictClients`).
//!
//! A client's memory is its query buffer, the output it is owed (replies
//! not yet written plus messages pushed to it and not yet taken) and a
//! fixed overhead for its structures and reply buffer, like the `tot-mem`
//! of `CLIENT LIST`.

use crate::client::ClientInfo;
use crate::state::State;

/// What every client costs besides its buffers: the 16 KB reply buffer
/// and the client structures.
pub const CLIENT_FIXED_OVERHEAD: usize = 16 * 1024 + 1024;

/// `maxmemory-clients` below this is raised to it, so that a bad setting
/// cannot make the server evict every client at once.
pub const MIN_CLIENT_EVICTION_LIMIT: u64 = 128 * 1024;

/// Seconds over which `client_recent_max_*` peaks are kept.
const PEAK_SLOTS: usize = 8;

/// Recent peaks of input and output buffers, one slot per second.
#[derive(Clone, Debug, Default)]
pub struct Peaks {
    /// (second, biggest input buffer, biggest output owed) per slot.
    slots: [(i64, usize, usize); PEAK_SLOTS],
}

impl Peaks {
    fn note(&mut self, now_secs: i64, input: usize, output: usize) {
        let slot = &mut self.slots[now_secs.rem_euclid(PEAK_SLOTS as i64) as usize];
        if slot.0 != now_secs {
            *slot = (now_secs, 0, 0);
        }
        slot.1 = slot.1.max(input);
        slot.2 = slot.2.max(output);
    }

    /// The biggest (input, output) seen in the last few seconds.
    pub fn recent_max(&self, now_secs: i64) -> (usize, usize) {
        self.slots
            .iter()
            .filter(|s| now_secs - s.0 < PEAK_SLOTS as i64)
            .fold((0, 0), |(i, o), s| (i.max(s.1), o.max(s.2)))
    }
}

/// The output a client is owed: replies not yet written plus messages
/// pushed to it and not yet taken (a replica's pushes are the shared
/// replication stream, reported apart, and are left out).
pub fn output_owed(c: &ClientInfo) -> usize {
    let mut n = c.signal.output_len();
    if !c.is_replica {
        n += c.signal.push.queued_bytes();
    }
    n
}

/// What upstream's preallocated reply buffer (16 KB, counted in
/// [`CLIENT_FIXED_OVERHEAD`]) holds of a client's pending output.
const REPLY_BUFFER: usize = 16 * 1024;

impl State {
    /// Output owed to normal clients that fits their reply buffers:
    /// upstream writes it into memory counted since the client connected,
    /// so queuing it (invalidation messages of the keys being evicted,
    /// replies) allocates nothing there and must not make eviction go on.
    pub fn reply_buffer_allowance(&self) -> u64 {
        self.clients
            .values()
            .filter(|c| !c.is_replica)
            .map(|c| output_owed(c).min(REPLY_BUFFER) as u64)
            .sum()
    }
}

/// The memory attributed to a client: its output counted by the buffer
/// holding it (what the allocator gave, as upstream counts allocation
/// sizes), so client eviction acts before the keys pay for it.
pub fn client_memory(c: &ClientInfo) -> usize {
    let mut out = c.signal.output_mem().max(c.signal.output_len());
    if !c.is_replica {
        out += c.signal.push.queued_bytes();
    }
    let entries = c.watched + c.sub + c.psub + c.ssub;
    CLIENT_FIXED_OVERHEAD + c.qbuf + c.multi_mem + entries * PER_ENTRY_OVERHEAD + out
}

/// What a watched key or a subscription costs a client (its list node or
/// table slot and the name it shares), as upstream counts them.
const PER_ENTRY_OVERHEAD: usize = 64;

/// True for the clients client eviction considers and counts: normal and
/// pub/sub clients (not replicas, not our primary's link).
fn evictable_class(c: &ClientInfo) -> bool {
    !c.is_replica
}

impl State {
    /// (normal and pub/sub clients, replicas): memory for `INFO memory`.
    pub fn clients_memory(&self) -> (u64, u64) {
        let mut normal = 0u64;
        let mut replicas = 0u64;
        for c in self.clients.values() {
            let m = client_memory(c) as u64;
            if c.is_replica {
                replicas += m;
            } else {
                normal += m;
            }
        }
        (normal, replicas)
    }

    /// The client eviction limit in bytes, 0 when off.
    pub fn client_eviction_limit(&self) -> u64 {
        match self.cached.maxmemory_clients {
            0 => 0,
            n => n.max(MIN_CLIENT_EVICTION_LIMIT),
        }
    }

    /// Periodic client bookkeeping (from the cron): the recent buffer
    /// peaks, and client eviction.
    pub fn clients_cron(&mut self, now: i64) {
        let now_secs = now / 1000;
        let (mut input, mut output) = (0, 0);
        for c in self.clients.values() {
            input = input.max(c.qbuf);
            output = output.max(output_owed(c));
        }
        self.client_peaks.note(now_secs, input, output);
        self.evict_clients(None);
    }

    /// Client eviction: while normal and pub/sub clients together use
    /// `maxmemory-clients` or more, closes the biggest evictable one
    /// (`CLIENT NO-EVICT` clients are counted but never closed). Returns
    /// true when `current` (the client whose command is about to run) was
    /// closed.
    pub fn evict_clients(&mut self, current: Option<u64>) -> bool {
        let limit = self.client_eviction_limit();
        if limit == 0 {
            return false;
        }
        let mut total = 0u64;
        let mut candidates: Vec<(usize, u64)> = Vec::new();
        for c in self.clients.values() {
            if !evictable_class(c) || c.signal.is_killed() {
                continue;
            }
            let m = client_memory(c);
            total += m as u64;
            if !c.no_evict {
                candidates.push((m, c.id));
            }
        }
        if total < limit {
            return false;
        }
        // Biggest first (upstream picks from its largest memory bucket).
        candidates.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut evicted_current = false;
        let mut victims = candidates.into_iter();
        while total >= limit {
            let Some((m, id)) = victims.next() else {
                self.log_warning("Over client maxmemory after evicting all evictable clients");
                break;
            };
            if let Some(c) = self.clients.get_mut(&id) {
                let line = c.line(crate::state::now_ms());
                c.signal.kill();
                // Its buffers go when its connection ends, a moment later:
                // key eviction must not pay for them meanwhile (upstream
                // frees a client at once).
                if c.freeing_mem == 0 {
                    c.freeing_mem = m;
                    self.clients_freeing += m as u64;
                }
                self.log_notice(&format!("Evicting client: {line}"));
            }
            self.stats.evicted_clients += 1;
            total = total.saturating_sub(m as u64);
            evicted_current |= current == Some(id);
        }
        evicted_current
    }
}

#[cfg(test)]
#[path = "clients_mem_tests.rs"]
mod tests;
