//! The texts upstream prints: the full latency report, the `-q` line, the
//! `--csv` row and the progress line, byte for byte (numbers go through
//! the same C `float`/`double` conversions upstream's `printf`s see).

use std::fmt::Write as _;

use crate::hdr::Histogram;
use crate::out::{clean_line, fixed, fixed_w};
use crate::setup::ServerConfig;

/// The `--csv` header line.
pub const CSV_HEADER: &str = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n";

/// Which form the report takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Quiet,
    Csv,
}

/// A cluster master as the report lists it.
#[derive(Debug, Clone)]
pub struct NodeReport {
    pub config: Option<ServerConfig>,
}

/// Everything one report shows.
#[derive(Debug)]
pub struct Input<'a> {
    pub title: &'a str,
    pub finished: i64,
    pub totlatency_ms: i64,
    pub clients: i32,
    pub datasize: i32,
    pub keepalive: i32,
    pub server: Option<&'a ServerConfig>,
    pub cluster: Option<&'a [NodeReport]>,
    pub threads: i32,
    pub last_printed_bytes: usize,
    pub hist: &'a Histogram,
}

/// `int64 / 1000.0f` in C: the integer becomes a float first.
fn ms(us: i64) -> f64 {
    f64::from(us as f32 / 1000.0f32)
}

/// Renders the report in `mode`.
pub fn render(r: &Input<'_>, mode: Mode) -> String {
    let h = r.hist;
    let reqpersec = r.finished as f32 / (r.totlatency_ms as f32 / 1000.0f32);
    let p0 = h.min() as f32 / 1000.0f32;
    let p50 = h.value_at_percentile(50.0) as f32 / 1000.0f32;
    let p95 = h.value_at_percentile(95.0) as f32 / 1000.0f32;
    let p99 = h.value_at_percentile(99.0) as f32 / 1000.0f32;
    let p100 = h.max() as f32 / 1000.0f32;
    let avg = (h.mean() / 1000.0) as f32;
    let f = |v: f32, d: usize| fixed(f64::from(v), d);
    let mut o = String::new();
    match mode {
        Mode::Csv => {
            let _ = writeln!(
                o,
                "\"{}\",\"{}\",\"{}\",\"{}\",\"{}\",\"{}\",\"{}\",\"{}\"",
                r.title,
                f(reqpersec, 2),
                f(avg, 3),
                f(p0, 3),
                f(p50, 3),
                f(p95, 3),
                f(p99, 3),
                f(p100, 3)
            );
        }
        Mode::Quiet => {
            o.push_str(&clean_line(r.last_printed_bytes));
            let _ = writeln!(
                o,
                "{}: {} requests per second, p50={} msec",
                r.title,
                f(reqpersec, 2),
                f(p50, 3)
            );
        }
        Mode::Full => {
            o.push_str(&clean_line(r.last_printed_bytes));
            let _ = writeln!(o, "====== {} ======", r.title);
            let _ = writeln!(
                o,
                "  {} requests completed in {} seconds",
                r.finished,
                f(r.totlatency_ms as f32 / 1000.0, 2)
            );
            let _ = writeln!(o, "  {} parallel clients", r.clients);
            let _ = writeln!(o, "  {} bytes payload", r.datasize);
            let _ = writeln!(o, "  keep alive: {}", r.keepalive);
            if let Some(nodes) = r.cluster {
                let _ = writeln!(o, "  cluster mode: yes ({} masters)", nodes.len());
                for (m, n) in nodes.iter().enumerate() {
                    let Some(cfg) = &n.config else {
                        continue;
                    };
                    let _ = writeln!(o, "  node [{m}] configuration:");
                    let save = if cfg.save.is_empty() {
                        "NONE"
                    } else {
                        &cfg.save
                    };
                    let _ = writeln!(o, "    save: {save}");
                    let _ = writeln!(o, "    appendonly: {}", cfg.appendonly);
                }
            } else if let Some(cfg) = r.server {
                let _ = writeln!(o, "  host configuration \"save\": {}", cfg.save);
                let _ = writeln!(o, "  host configuration \"appendonly\": {}", cfg.appendonly);
            }
            let _ = writeln!(
                o,
                "  multi-thread: {}",
                if r.threads > 0 { "yes" } else { "no" }
            );
            if r.threads > 0 {
                let _ = writeln!(o, "  threads: {}", r.threads);
            }
            o.push('\n');
            o.push_str("Latency by percentile distribution:\n");
            let total = h.total();
            let mut previous: Option<u64> = None;
            for (pct, value, cumulative) in h.percentile_rows(1) {
                if previous != Some(cumulative) || cumulative == total {
                    let _ = writeln!(
                        o,
                        "{}% <= {} milliseconds (cumulative count {cumulative})",
                        fixed(pct, 3),
                        fixed(ms(value), 3)
                    );
                }
                previous = Some(cumulative);
            }
            o.push('\n');
            o.push_str("Cumulative distribution of latencies:\n");
            let mut previous: Option<u64> = None;
            for (value, cumulative) in h.linear_rows(100, 2000, 1000) {
                if previous != Some(cumulative) || cumulative == total {
                    let pct = (cumulative as f64 / total as f64) * 100.0;
                    let _ = writeln!(
                        o,
                        "{}% <= {} milliseconds (cumulative count {cumulative})",
                        fixed(pct, 3),
                        fixed(ms(value), 3)
                    );
                }
                previous = Some(cumulative);
            }
            o.push('\n');
            o.push_str("Summary:\n");
            let _ = writeln!(
                o,
                "  throughput summary: {} requests per second",
                f(reqpersec, 2)
            );
            o.push_str("  latency summary (msec):\n");
            let _ = writeln!(
                o,
                "    {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "avg", "min", "p50", "p95", "p99", "max"
            );
            let w = |v: f32| fixed_w(f64::from(v), 9, 3);
            let _ = writeln!(
                o,
                "    {} {} {} {} {} {}",
                w(avg),
                w(p0),
                w(p50),
                w(p95),
                w(p99),
                w(p100)
            );
        }
    }
    o
}

/// The progress line (without the clean line before it).
pub fn progress(
    title: &str,
    instantaneous_rps: f32,
    rps: f32,
    avg_sec_ms: f64,
    avg_ms: f64,
) -> String {
    format!(
        "{title}: rps={} (overall: {}) avg_msec={} (overall: {})\r",
        fixed(f64::from(instantaneous_rps), 1),
        fixed(f64::from(rps), 1),
        fixed(avg_sec_ms, 3),
        fixed(avg_ms, 3)
    )
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
