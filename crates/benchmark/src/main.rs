//! `redis-benchmark`: a drop-in replacement for upstream 7.0's load
//! generator — same options, same default tests, same reports.
//!
//! # Layout
//! - [`opts`]: option parsing with upstream's messages and C numbers.
//! - [`setup`]: blocking connections for the server's configuration.
//! - [`cluster`]: `--cluster` masters, slots and hash tags.
//! - [`engine`]: the load loop (one readiness loop per thread).
//! - [`reply`]: counting replies without decoding them.
//! - [`hdr`]: the latency histogram and its iterators.
//! - [`report`], [`out`]: the printed texts.
//! - [`run`]: one benchmark from start to report, progress lines.

mod cluster;
mod engine;
mod hdr;
mod opts;
mod out;
mod reply;
mod report;
mod run;
mod setup;

use std::ffi::OsString;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use redis_resp::encode_request;

use cluster::Cluster;
use engine::{Settings, Target};
use opts::{Config, Parsed};
use report::NodeReport;
use run::Runner;
use setup::Addr;

/// One request in RESP.
fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_request(args, &mut out);
    out.to_vec()
}

/// Upstream's `genBenchmarkRandomData`: a fixed LCG sequence of bytes in
/// `'0'..'o'`, continued across `-l` iterations.
fn random_data(state: &mut u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            b'0' + ((*state >> 16) & 63) as u8
        })
        .collect()
}

/// The commands sent before the first batch of each connection: AUTH,
/// CLIENT TRACKING, SELECT (not for cluster clients), HELLO 3.
fn prefixes(cfg: &Config) -> ((Vec<u8>, u32), (Vec<u8>, u32)) {
    let mut head = Vec::new();
    let mut count = 0;
    if let Some(pass) = &cfg.auth {
        match &cfg.user {
            Some(user) => head.extend(encode(&[b"AUTH", user.as_bytes(), pass.as_bytes()])),
            None => head.extend(encode(&[b"AUTH", pass.as_bytes()])),
        }
        count += 1;
    }
    if cfg.tracking {
        head.extend(encode(&[b"CLIENT", b"TRACKING", b"on"]));
        count += 1;
    }
    let mut plain = head.clone();
    let mut plain_count = count;
    if cfg.dbnum != 0 {
        plain.extend(encode(&[b"SELECT", cfg.dbnum.to_string().as_bytes()]));
        plain_count += 1;
    }
    if cfg.resp3 {
        let hello = encode(&[b"HELLO", b"3"]);
        plain.extend_from_slice(&hello);
        plain_count += 1;
        head.extend(hello);
        count += 1;
    }
    ((plain, plain_count), (head, count))
}

fn main() {
    let program_start = Instant::now();
    let _ = engine::now_us();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (mut cfg, warnings) = match opts::parse(&args) {
        Parsed::Run { cfg, warnings } => (*cfg, warnings),
        Parsed::Exit {
            stdout,
            stderr,
            code,
        } => {
            eprint!("{stderr}");
            out::print(&stdout);
            std::process::exit(code);
        }
    };
    eprint!("{warnings}");

    let addr = Addr::from_config(&cfg);
    let mut tag: &[u8] = b"";
    let mut cluster = None;
    let mut server = None;
    let mut nodes = None;
    if cfg.cluster {
        tag = b":{tag}";
        let c = Cluster::fetch(&cfg);
        if cfg.threads == 0 {
            cfg.threads = i32::try_from(c.len()).unwrap_or(opts::MAX_THREADS);
        }
        if let Ok(list) = c.nodes.lock() {
            nodes = Some(
                list.iter()
                    .map(|n| NodeReport {
                        config: n.config.clone(),
                    })
                    .collect(),
            );
        }
        cluster = Some(Arc::new(c));
    } else {
        server = setup::server_config(&cfg, &addr);
        if server.is_none() {
            eprintln!("WARNING: Could not fetch server CONFIG");
        }
    }
    if cfg.keepalive == 0 {
        eprintln!(
            "WARNING: Keepalive disabled. You probably need 'echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse' for Linux and 'sudo sysctl -w net.inet.tcp.msl=1000' for Mac OS X in order to use a lot of clients/requests"
        );
    }
    if cfg.idle {
        out::print(&format!(
            "Creating {} idle connections and waiting forever (Ctrl+C when done)\n",
            cfg.clients
        ));
    }

    let target = match &addr {
        Addr::Unix(path) => Target::Unix(path.clone()),
        Addr::Tcp { host, port } => {
            let shown = addr.to_string();
            match setup::resolve(host, *port) {
                Ok(a) => Target::Tcp { shown, addr: a },
                // Cluster clients connect to the masters instead.
                Err(_) if cluster.is_some() => Target::Unix(String::new()),
                Err(e) => {
                    eprintln!(
                        "Could not connect to Redis at {shown}: {}",
                        setup::connect_error_text(&e)
                    );
                    std::process::exit(1);
                }
            }
        }
    };
    let (prefix, cluster_prefix) = prefixes(&cfg);
    let settings = Settings {
        requests: i64::from(cfg.requests),
        pipeline: i64::from(cfg.pipeline),
        keepalive: cfg.keepalive != 0,
        randomkeys: cfg.randomkeys,
        keyspacelen: u64::try_from(cfg.keyspacelen).unwrap_or(0),
        idle: cfg.idle,
        prefix,
        cluster_prefix,
        target,
        cluster,
        config: cfg.clone(),
    };
    let mut runner = Runner::new(cfg.clone(), settings, server, nodes, program_start);
    if cfg.idle {
        runner.idle();
    }
    if cfg.csv {
        out::print(report::CSV_HEADER);
    }

    if !cfg.command.is_empty() {
        let title = cfg
            .command
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut args = cfg.command.clone();
        if cfg.stdin_lastarg {
            let mut buf = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut buf);
            args.push(buf);
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let cmd = encode(&refs);
        let datasize = i32::try_from(cmd.len()).unwrap_or(i32::MAX);
        loop {
            runner.benchmark(&title, &cmd, datasize);
            if !cfg.loop_forever {
                break;
            }
        }
        return;
    }

    let selected = |name: &str| {
        cfg.tests
            .as_ref()
            .is_none_or(|t| t.contains(&format!(",{name},")))
    };
    let key = [b"key", tag, b":__rand_int__"].concat();
    let list = [b"mylist", tag].concat();
    let datasize = cfg.datasize;
    let mut state: u32 = 1234;
    loop {
        let data = random_data(&mut state, usize::try_from(datasize).unwrap_or(1));
        let data = data.as_slice();
        let mut bench = |title: &str, cmd: Vec<u8>| runner.benchmark(title, &cmd, datasize);
        if selected("ping_inline") || selected("ping") {
            bench("PING_INLINE", b"PING\r\n".to_vec());
        }
        if selected("ping_mbulk") || selected("ping") {
            bench("PING_MBULK", encode(&[b"PING"]));
        }
        if selected("set") {
            bench("SET", encode(&[b"SET", &key, data]));
        }
        if selected("get") {
            bench("GET", encode(&[b"GET", &key]));
        }
        if selected("incr") {
            let counter = [b"counter", tag, b":__rand_int__"].concat();
            bench("INCR", encode(&[b"INCR", &counter]));
        }
        if selected("lpush") {
            bench("LPUSH", encode(&[b"LPUSH", &list, data]));
        }
        if selected("rpush") {
            bench("RPUSH", encode(&[b"RPUSH", &list, data]));
        }
        if selected("lpop") {
            bench("LPOP", encode(&[b"LPOP", &list]));
        }
        if selected("rpop") {
            bench("RPOP", encode(&[b"RPOP", &list]));
        }
        if selected("sadd") {
            let set = [b"myset", tag].concat();
            bench("SADD", encode(&[b"SADD", &set, b"element:__rand_int__"]));
        }
        if selected("hset") {
            let hash = [b"myhash", tag].concat();
            bench(
                "HSET",
                encode(&[b"HSET", &hash, b"element:__rand_int__", data]),
            );
        }
        if selected("spop") {
            let set = [b"myset", tag].concat();
            bench("SPOP", encode(&[b"SPOP", &set]));
        }
        if selected("zadd") {
            let zset = [b"myzset", tag].concat();
            let score: &[u8] = if cfg.randomkeys {
                b"__rand_int__"
            } else {
                b"0"
            };
            bench(
                "ZADD",
                encode(&[b"ZADD", &zset, score, b"element:__rand_int__"]),
            );
        }
        if selected("zpopmin") {
            let zset = [b"myzset", tag].concat();
            bench("ZPOPMIN", encode(&[b"ZPOPMIN", &zset]));
        }
        let lranges = [
            ("lrange_100", "LRANGE_100 (first 100 elements)", &b"99"[..]),
            ("lrange_300", "LRANGE_300 (first 300 elements)", b"299"),
            ("lrange_500", "LRANGE_500 (first 500 elements)", b"499"),
            ("lrange_600", "LRANGE_600 (first 600 elements)", b"599"),
        ];
        if selected("lrange") || lranges.iter().any(|(name, _, _)| selected(name)) {
            bench(
                "LPUSH (needed to benchmark LRANGE)",
                encode(&[b"LPUSH", &list, data]),
            );
        }
        for (name, title, last) in lranges {
            if selected("lrange") || selected(name) {
                bench(title, encode(&[b"LRANGE", &list, b"0", last]));
            }
        }
        if selected("mset") {
            let mut args: Vec<&[u8]> = vec![b"MSET"];
            for _ in 0..10 {
                args.push(&key);
                args.push(data);
            }
            bench("MSET (10 keys)", encode(&args));
        }
        if !cfg.csv {
            out::print("\n");
        }
        if !cfg.loop_forever {
            break;
        }
    }
}
