//! redis-benchmark throughput tables: `basic` (the classic string and
//! connection tests, and SET/GET over 100,000 random keys: without `-r`
//! every request names the same key, which hides the keyspace's cache
//! misses) and `types` (list, set, hash and sorted-set commands),
//! plus the accumulator the persistence and replication sections reuse for
//! their write-throughput rows. Median requests/s and p99 over the rounds,
//! server CPU µs per request from /proc (utime+stime).

use std::collections::BTreeMap;
use std::time::Instant;

use super::report::{self, fmt, median, obj, pair, Table};
use super::server::{Side, Srv};
use super::tool;
use super::Ctx;
use crate::json::Json;

const PIPELINES: &[u32] = &[1, 16];
const BASIC: &[&str] = &["set", "get", "incr", "mset", "ping"];
/// Tests run again with `-r RANDOM_KEYS` in `basic` (rows `r100k:set`…).
const RANDOM_TESTS: &[&str] = &["set", "get"];
const RANDOM_KEYS: &str = "100000";
const TYPES: &[&str] = &[
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "sadd",
    "hset",
    "spop",
    "zadd",
    "lrange_100",
    "lrange_600",
];

#[derive(Default)]
struct Samples {
    rps: Vec<f64>,
    p99: Vec<f64>,
    cpu_ticks: f64,
    requests: u64,
}

/// Samples keyed by (row label, pipeline, side index), in first-seen order.
#[derive(Default)]
pub struct Throughput {
    order: Vec<(String, u32)>,
    data: BTreeMap<(String, u32, usize), Samples>,
    pub stopped_early: bool,
}

impl Throughput {
    /// One redis-benchmark run of `test` with `extra` arguments against
    /// `server`; each CSV row is stored under `prefix` + its name.
    pub fn sample(
        &mut self,
        server: &Srv,
        (prefix, extra): (&str, &[&str]),
        test: &str,
        pipeline: u32,
        n: u64,
    ) -> Result<(), String> {
        let sampled = tool::run(server, test, pipeline, n, extra)?;
        self.add(server, prefix, sampled, pipeline, n);
        Ok(())
    }

    /// One redis-benchmark run of a custom `command`, stored as `label`.
    pub fn sample_command(
        &mut self,
        server: &Srv,
        label: &str,
        command: &[&str],
        pipeline: u32,
        n: u64,
    ) -> Result<(), String> {
        let (rows, ticks) = tool::run_command(server, command, pipeline, n)?;
        let rows = rows
            .into_iter()
            .map(|(_, r, p)| (String::new(), r, p))
            .collect();
        self.add(server, label, (rows, ticks), pipeline, n);
        Ok(())
    }

    fn add(
        &mut self,
        server: &Srv,
        prefix: &str,
        sampled: (Vec<tool::Row>, u64),
        pipeline: u32,
        n: u64,
    ) {
        let (rows, ticks) = sampled;
        let n_rows = rows.len() as f64;
        for (name, rps, p99) in rows {
            let label = format!("{prefix}{name}");
            if !self.order.contains(&(label.clone(), pipeline)) {
                self.order.push((label.clone(), pipeline));
            }
            let s = self
                .data
                .entry((label, pipeline, server.side.idx()))
                .or_default();
            s.rps.push(rps);
            s.p99.extend(p99);
            // The CPU of one invocation is shared by its rows.
            s.cpu_ticks += ticks as f64 / n_rows;
            s.requests += n;
        }
    }

    /// The table (today's format) and the JSON rows.
    pub fn render(&self, title: &str, tick: f64) -> (Table, Json) {
        let mut t = Table::new(
            title,
            &[
                "test",
                "P",
                "ours rps",
                "ref rps",
                "ratio",
                "p99 ms ours/ref",
                "cpu us/req o/r",
            ],
        );
        let mut json = Vec::new();
        for (name, p) in &self.order {
            let get = |side: usize| self.data.get(&(name.clone(), *p, side));
            let rps = |s: Option<&Samples>| s.and_then(|s| median(&s.rps));
            let p99 = |s: Option<&Samples>| s.and_then(|s| median(&s.p99));
            let cpu = |s: Option<&Samples>| {
                s.filter(|s| s.requests > 0)
                    .map(|s| s.cpu_ticks / tick * 1e6 / s.requests as f64)
            };
            let (o, r) = (get(0), get(1));
            t.row(vec![
                name.clone(),
                p.to_string(),
                fmt(rps(o), 0),
                fmt(rps(r), 0),
                fmt(report::ratio(rps(o), rps(r)), 2),
                format!("{}/{}", fmt(p99(o), 3), fmt(p99(r), 3)),
                format!("{}/{}", fmt(cpu(o), 2), fmt(cpu(r), 2)),
            ]);
            json.push(obj(vec![
                ("test", report::s(name)),
                ("pipeline", Json::Num(p.to_string())),
                ("rps", pair(rps(o), rps(r))),
                ("p99_ms", pair(p99(o), p99(r))),
                ("cpu_us_per_request", pair(cpu(o), cpu(r))),
            ]));
        }
        if self.stopped_early {
            t.notes
                .push("stopped early: time budget reached (fewer rounds than asked)".into());
        }
        (t, Json::Arr(json))
    }
}

/// Runs `tests` at each pipeline depth against a fresh pair, alternating
/// the side that goes first per test and round; `random` tests run again
/// over `-r RANDOM_KEYS` keys.
fn table(ctx: &Ctx, title: &str, tests: &[&str], random: &[&str]) -> Result<(Table, Json), String> {
    let plain = tests.iter().map(|t| (*t, ("", &[][..])));
    let rand_args: &[&str] = &["-r", RANDOM_KEYS];
    let rand = random.iter().map(|t| (*t, ("r100k:", rand_args)));
    let runs: Vec<(&str, (&str, &[&str]))> = plain.chain(rand).collect();
    let pair = ctx.start_pair(&[])?;
    let mut acc = Throughput::default();
    let started = Instant::now();
    'rounds: for round in 0..ctx.opts.rounds as usize {
        for &pipeline in PIPELINES {
            for (ti, &(test, variant)) in runs.iter().enumerate() {
                if started.elapsed() > ctx.opts.budget() {
                    acc.stopped_early = true;
                    break 'rounds;
                }
                // LRANGE replies are hundreds of elements: fewer requests
                // keep the run time in line with the other tests.
                let n = if test.starts_with("lrange") {
                    (ctx.opts.requests / 4).max(1)
                } else {
                    ctx.opts.requests
                };
                for side in Side::order(round + ti) {
                    acc.sample(&pair[side.idx()], variant, test, pipeline, n)?;
                }
            }
        }
        eprintln!(
            "bench: {title}: round {} done after {:.0?}",
            round + 1,
            started.elapsed()
        );
    }
    let (mut t, json) = acc.render(title, ctx.tick);
    t.notes.push(format!(
        "{} requests per run (LRANGE: a quarter), {} clients, {} round(s); CPU resolution is one clock tick ({:.0} us).",
        ctx.opts.requests,
        tool::CLIENTS,
        ctx.opts.rounds,
        1e6 / ctx.tick
    ));
    Ok((t, json))
}

pub fn basic(ctx: &Ctx) -> Result<(Table, Json), String> {
    table(ctx, "basic: redis-benchmark", BASIC, RANDOM_TESTS)
}

pub fn types(ctx: &Ctx) -> Result<(Table, Json), String> {
    table(ctx, "types: redis-benchmark data-type commands", TYPES, &[])
}
