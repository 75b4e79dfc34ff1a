//! Choosing the replica to promote.

use std::cmp::Ordering;

use super::instance::{Master, Replica};
use super::{since, Timings};

/// Whether a replica may be promoted at all.
fn eligible(m: &Master, r: &Replica, t: &Timings, max_master_down: u64, now: u64) -> bool {
    let ping_validity = t.ping_period.saturating_mul(5);
    let info_validity = if m.c.s_down {
        ping_validity
    } else {
        t.info_period.saturating_mul(3)
    };
    !r.c.s_down
        && r.c.link.connected
        && since(now, r.c.link.last_avail_time) <= ping_validity
        && r.priority != 0
        && r.c
            .info_refresh
            .is_some_and(|i| since(now, i) <= info_validity)
        && r.master_link_down_ms <= max_master_down
}

/// Promotion order: lower priority, then larger replication offset, then
/// the smaller run id (a missing run id sorts last).
fn compare(a: &Replica, b: &Replica) -> Ordering {
    a.priority
        .cmp(&b.priority)
        .then_with(|| b.repl_offset.cmp(&a.repl_offset))
        .then_with(|| match (&a.c.run_id, &b.c.run_id) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
        })
}

/// The index in `m.replicas` of the best replica to promote, if any.
pub(crate) fn select_replica(m: &Master, t: &Timings, now: u64) -> Option<usize> {
    let mut max_master_down = m.conf.down_after_ms.saturating_mul(10);
    if m.c.s_down {
        if let Some(t) = m.c.s_down_since {
            max_master_down = max_master_down.saturating_add(since(now, t));
        }
    }
    m.replicas
        .iter()
        .enumerate()
        .filter(|(_, r)| eligible(m, r, t, max_master_down, now))
        .min_by(|(_, a), (_, b)| compare(a, b))
        .map(|(i, _)| i)
}
