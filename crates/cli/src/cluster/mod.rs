//! `redis-cli --cluster <subcommand> ...`: the cluster manager, a drop-in
//! for upstream 7.0's (same messages, prompts, exit codes and colours).
//!
//! # Layout
//! - [`Command`]: the subcommand, its arguments and every `--cluster-*`
//!   option (filled by [`crate::opts`]).
//! - `manager`: shared state, logging, loading a cluster, prompts.
//! - `node`: one node and the parsing of its `CLUSTER NODES` line.
//! - `check`: `check`/`fix` (open slots, coverage, multiple owners).
//! - `migrate`: moving slots and their keys (`MIGRATE ... KEYS`).
//! - `create`: `create` with slot allocation and replica placement.
//! - `commands`: the other subcommands.
//! - `rdb`: fetching a node's RDB for `backup`.
//! - `slot`: CRC16 key hashing.
//!
//! Like upstream, messages go to stdout (errors from the manager included)
//! except the few upstream writes to stderr; colours are used when `TERM`
//! contains `xterm`, which is upstream's test, not whether stdout is a tty.

mod check;
mod commands;
mod create;
mod manager;
mod migrate;
mod node;
mod rdb;
mod slot;

use std::rc::Rc;

use crate::opts::Config;
use manager::{err_out, out, Manager};

/// Default `--cluster-timeout` (ms) for MIGRATE.
pub const DEFAULT_TIMEOUT: i32 = 60000;
/// Default `--cluster-pipeline`: keys per MIGRATE.
pub const DEFAULT_PIPELINE: i32 = 10;
/// Default `--cluster-threshold` (percent) for rebalance.
pub const DEFAULT_THRESHOLD: f32 = 2.0;

const INVALID_HOST_ARG: &str = "[ERR] Invalid arguments: you need to pass either a valid address (ie. 120.0.0.1:7000) or space separated IP and port (ie. 120.0.0.1 7000)\n";

/// The cluster manager command line.
#[derive(Debug, Clone)]
pub struct Command {
    pub name: String,
    pub args: Vec<String>,
    pub yes: bool,
    pub fix: bool,
    pub slave: bool,
    pub use_empty_masters: bool,
    pub simulate: bool,
    pub replace: bool,
    pub copy: bool,
    pub search_multiple_owners: bool,
    pub fix_with_unreachable_masters: bool,
    pub only_masters: bool,
    pub only_replicas: bool,
    pub replicas: i32,
    pub from: Option<String>,
    pub to: Option<String>,
    pub weights: Option<Vec<String>>,
    pub master_id: Option<String>,
    pub slots: i32,
    pub timeout: i32,
    pub pipeline: i32,
    pub threshold: f32,
    pub from_user: Option<String>,
    pub from_pass: Option<String>,
    pub from_askpass: bool,
}

impl Default for Command {
    fn default() -> Command {
        Command {
            name: String::new(),
            args: Vec::new(),
            yes: false,
            fix: false,
            slave: false,
            use_empty_masters: false,
            simulate: false,
            replace: false,
            copy: false,
            search_multiple_owners: false,
            fix_with_unreachable_masters: false,
            only_masters: false,
            only_replicas: false,
            replicas: 0,
            from: None,
            to: None,
            weights: None,
            master_id: None,
            slots: 0,
            timeout: DEFAULT_TIMEOUT,
            pipeline: DEFAULT_PIPELINE,
            threshold: DEFAULT_THRESHOLD,
            from_user: None,
            from_pass: None,
            from_askpass: false,
        }
    }
}

/// Subcommand names and arities (negative: at least that many arguments).
const COMMANDS: &[(&str, i32)] = &[
    ("create", -2),
    ("check", -1),
    ("info", -1),
    ("fix", -1),
    ("reshard", -1),
    ("rebalance", -1),
    ("add-node", 2),
    ("del-node", 2),
    ("call", -2),
    ("set-timeout", 2),
    ("import", 1),
    ("backup", 2),
    ("help", 0),
];

/// `ip:port` (with an optional `@busport`) or `ip port`; `None` when no
/// non-zero port can be read.
pub fn host_from_args(args: &[String]) -> Option<(String, i32)> {
    let (ip, port) = match args {
        [] => return None,
        [addr] => {
            let (ip, port, _) = node::parse_address(addr)?;
            (ip, port)
        }
        [ip, port, ..] => (ip.clone(), crate::opts::atoi(port) as i32),
    };
    (port != 0).then_some((ip, port))
}

/// Prints the invalid host arguments message; the subcommand then fails.
fn invalid_host() -> bool {
    err_out(INVALID_HOST_ARG);
    false
}

/// Runs the cluster manager and returns the process exit code.
pub fn run(cfg: &Config, cmd: Command) -> i32 {
    let Some(&(_, arity)) = COMMANDS.iter().find(|(n, _)| *n == cmd.name) else {
        err_out("Unknown --cluster subcommand\n");
        return 1;
    };
    let argc = cmd.args.len() as i32;
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        err_out("[ERR] Wrong number of arguments for specified --cluster sub command\n");
        return 1;
    }
    if cmd.name == "help" {
        out(include_str!("help.txt"));
        return 1;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Rc::new(rt),
        Err(e) => {
            err_out(&format!("Error: {e}\n"));
            return 1;
        }
    };
    let colors = std::env::var("TERM").is_ok_and(|t| t.contains("xterm"));
    let mut m = Manager {
        rt,
        nodes: Vec::new(),
        errors: Vec::new(),
        unreachable_masters: 0,
        cmd,
        colors,
        auth: cfg.auth.clone(),
        user: cfg.user.clone(),
        verbose: cfg.verbose,
        mb_delim: cfg.mb_delim.clone(),
    };
    let args = m.cmd.args.clone();
    let ok = match m.cmd.name.as_str() {
        "create" => create::create(&mut m, &args),
        "check" => commands::check(&mut m, &args),
        "info" => commands::info(&mut m, &args),
        "fix" => {
            m.cmd.fix = true;
            commands::check(&mut m, &args)
        }
        "reshard" => commands::reshard(&mut m, &args),
        "rebalance" => commands::rebalance(&mut m, &args),
        "add-node" => commands::add_node(&mut m, &args),
        "del-node" => commands::del_node(&mut m, &args),
        "call" => commands::call(&mut m, &args),
        "set-timeout" => commands::set_timeout(&mut m, &args),
        "import" => commands::import(&mut m, &args),
        "backup" => commands::backup(&mut m, &args),
        _ => false,
    };
    i32::from(!ok)
}

#[cfg(test)]
#[path = "cluster_mod_tests.rs"]
mod tests;
