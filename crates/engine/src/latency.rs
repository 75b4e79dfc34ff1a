//! The latency monitor (`latency-monitor-threshold`, the `LATENCY`
//! command): named events (`command`, `fast-command`, `expire-cycle`,
//! `eviction-cycle`, `eviction-del`, ...) record how long an operation
//! took when that reached the threshold, one sample per second at most
//! (the worst one), in a ring of the last [`HISTORY_LEN`] samples per
//! event, plus the all-time maximum.
//!
//! Also renders the two human-readable reports, `LATENCY GRAPH` (an ASCII
//! chart of an event's samples) and `LATENCY DOCTOR` (a summary with
//! advice); both follow upstream's layout but are our own wording and
//! drawing rules.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Samples kept per event (upstream keeps 160).
pub const HISTORY_LEN: usize = 160;

/// One sample: when (Unix seconds) and how long (milliseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub time: i64,
    pub latency: u64,
}

/// The samples of one event.
#[derive(Clone, Debug)]
pub struct Series {
    /// Ring buffer; `next` is where the next new second goes.
    ring: Vec<Sample>,
    next: usize,
    /// Worst latency ever recorded (survives the ring's wrap-around).
    pub max: u64,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            ring: vec![Sample::default(); HISTORY_LEN],
            next: 0,
            max: 0,
        }
    }
}

impl Series {
    fn add(&mut self, now_secs: i64, ms: u64) {
        self.max = self.max.max(ms);
        let last = (self.next + HISTORY_LEN - 1) % HISTORY_LEN;
        if self.ring[last].time == now_secs {
            // One sample per second: keep that second's worst.
            let s = &mut self.ring[last];
            s.latency = s.latency.max(ms);
            return;
        }
        self.ring[self.next] = Sample {
            time: now_secs,
            latency: ms,
        };
        self.next = (self.next + 1) % HISTORY_LEN;
    }

    /// The recorded samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        (0..HISTORY_LEN)
            .map(|i| self.ring[(self.next + i) % HISTORY_LEN])
            .filter(|s| s.time != 0)
            .collect()
    }

    /// The most recent sample.
    pub fn latest(&self) -> Sample {
        self.ring[(self.next + HISTORY_LEN - 1) % HISTORY_LEN]
    }
}

/// Every event's samples.
#[derive(Clone, Debug, Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<String, Series>,
}

impl LatencyMonitor {
    /// Records `ms` for `event` at `now_secs` when the monitor is on
    /// (`threshold_ms > 0`) and the latency reaches the threshold.
    pub fn add_if_needed(&mut self, threshold_ms: i64, event: &str, ms: u64, now_secs: i64) {
        if threshold_ms <= 0 || ms < threshold_ms as u64 {
            return;
        }
        match self.events.get_mut(event) {
            Some(s) => s.add(now_secs, ms),
            None => {
                let mut s = Series::default();
                s.add(now_secs, ms);
                self.events.insert(event.to_string(), s);
            }
        }
    }

    /// `LATENCY RESET [event ...]`: forgets the named events (all of them
    /// without names); returns how many existed.
    pub fn reset(&mut self, names: &[String]) -> usize {
        if names.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        names
            .iter()
            .filter(|n| self.events.remove(n.as_str()).is_some())
            .count()
    }

    /// `LATENCY GRAPH event`: `None` when the event has no samples.
    pub fn graph(&self, event: &str, now_secs: i64) -> Option<String> {
        let series = self.events.get(event)?;
        let samples = series.samples();
        let low = samples.iter().map(|s| s.latency).min()?;
        let high = samples.iter().map(|s| s.latency).max().unwrap_or(low);
        let mut out = format!(
            "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
            series.max,
            "-".repeat(80)
        );
        for chunk in samples.chunks(80) {
            render_chart(&mut out, chunk, low, high, now_secs);
        }
        Some(out)
    }

    /// `LATENCY DOCTOR`: a report on every event, with advice.
    pub fn doctor(&self, threshold_ms: i64, slowlog_slower_than_us: i64) -> String {
        if self.events.is_empty() {
            return "No latency spike was observed since this server started (or since the last LATENCY RESET): nothing to report.\n".to_string();
        }
        let mut out =
            String::from("Latency spikes were observed in this instance. Per event class:\n\n");
        for (i, (name, series)) in self.events.iter().enumerate() {
            let samples = series.samples();
            let n = samples.len().max(1) as f64;
            let avg = samples.iter().map(|s| s.latency as f64).sum::<f64>() / n;
            let mad = samples
                .iter()
                .map(|s| (s.latency as f64 - avg).abs())
                .sum::<f64>()
                / n;
            let period = match (samples.first(), samples.last()) {
                (Some(a), Some(b)) => (b.time - a.time) as f64 / n,
                _ => 0.0,
            };
            let _ = writeln!(
                out,
                "{}. {name}: {} latency spikes (average {:.0}ms, mean deviation {:.0}ms, period {period:.2} sec). Worst all time event {}ms.",
                i + 1,
                samples.len(),
                avg,
                mad,
                series.max,
            );
        }
        out.push_str("\nAdvice:\n\n");
        let has = |prefix: &str| self.events.keys().any(|k| k.starts_with(prefix));
        if has("command") || has("fast-command") {
            if slowlog_slower_than_us < 0 || slowlog_slower_than_us / 1000 > threshold_ms {
                let _ = writeln!(
                    out,
                    "- The slow log does not record commands as slow as the latency monitor threshold: consider 'CONFIG SET slowlog-log-slower-than {}'.",
                    threshold_ms.max(0) * 1000
                );
            }
            out.push_str(
                "- Check the slow log (SLOWLOG GET) to find which commands are slow to execute.\n",
            );
            out.push_str("- Deleting, expiring or evicting (maxmemory) large values blocks the server: enable the lazyfree-lazy-* options or split large values into smaller ones.\n");
        }
        if has("fast-command") {
            out.push_str("- Commands flagged as fast (O(1) or O(log N)) were slow: the server may be starved of CPU or swapping; check the system's load.\n");
        }
        if has("expire-cycle") {
            out.push_str("- The active expiry cycle was slow: many keys expire at the same time; spread their deadlines or lower active-expire-effort.\n");
        }
        if has("eviction") {
            out.push_str("- Eviction was slow: consider lazyfree-lazy-eviction, or a lower maxmemory-eviction-tenacity.\n");
        }
        if has("aof") {
            out.push_str("- Writes to the append-only file were slow: check the disk, or consider appendfsync everysec and no-appendfsync-on-rewrite.\n");
        }
        out
    }
}

/// Draws one block of up to 80 columns: four chart rows (a column's bar
/// rises with its sample between the lowest and highest of the graph; its
/// top shows a finer step with `_`, `-` or `` ` ``, or `#` at the very
/// top), a blank row, then each sample's age written downwards ("12s",
/// "3m", "2h", "4d").
fn render_chart(out: &mut String, samples: &[Sample], low: u64, high: u64, now_secs: i64) {
    const ROWS: usize = 4;
    const TOPS: &[u8] = b"_-`";
    let span = high.saturating_sub(low);
    let cols: Vec<(usize, usize)> = samples
        .iter()
        .map(|s| {
            let rel = if span == 0 {
                1.0
            } else {
                (s.latency - low) as f64 / span as f64
            };
            let steps = (rel * (ROWS * TOPS.len()) as f64) as usize;
            (steps / TOPS.len(), steps % TOPS.len())
        })
        .collect();
    for row in 0..ROWS {
        // Row 0 is the top; a column of height h fills the bottom h rows.
        let from_bottom = ROWS - 1 - row;
        for &(h, fine) in &cols {
            let c = if h >= ROWS {
                if row == 0 {
                    '#'
                } else {
                    '|'
                }
            } else if from_bottom < h {
                '|'
            } else if from_bottom == h {
                TOPS[fine] as char
            } else {
                ' '
            };
            out.push(c);
        }
        out.push('\n');
    }
    out.push_str(&" ".repeat(cols.len()));
    out.push('\n');
    let labels: Vec<Vec<u8>> = samples
        .iter()
        .map(|s| age_label(now_secs - s.time).into_bytes())
        .collect();
    let height = labels.iter().map(Vec::len).max().unwrap_or(0);
    for row in 0..height {
        for l in &labels {
            out.push(l.get(row).map_or(' ', |&b| b as char));
        }
        out.push('\n');
    }
}

fn age_label(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 86400 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}d", secs / 86400)
    }
}

#[cfg(test)]
#[path = "latency_tests.rs"]
mod tests;
