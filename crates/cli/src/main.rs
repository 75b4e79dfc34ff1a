//! `redis-cli`: a drop-in replacement for upstream's command line client.
//!
//! # Layout
//! - [`opts`]: option parsing with upstream's messages and C-style numbers.
//! - [`format`]: tty / raw / CSV rendering of replies.
//! - [`session`]: connecting, sending, printing, redirects, prompt state.
//! - [`help`]: `help` rendered from the server's `COMMAND DOCS`.
//! - [`repl`]: interactive mode and commands read from a non-tty stdin.
//! - [`pipe`]: `--pipe` mass insertion.
//! - [`eval`]: `--eval` and the Lua debugger client (`--ldb`).
//! - [`cluster`]: `--cluster` cluster manager.

mod cluster;
mod eval;
mod format;
mod help;
mod opts;
mod pipe;
mod repl;
mod session;

use std::io::{IsTerminal, Read};

use opts::Parsed;
use session::Session;

fn main() {
    let mut argv = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let prog = argv.next().unwrap_or_else(|| "redis-cli".into());
    let args: Vec<String> = argv.collect();
    // FAKETTY lets tests get the human format without a pty, as upstream allows.
    let stdout_tty = std::io::stdout().is_terminal() || std::env::var_os("FAKETTY").is_some();
    let (mut cfg, rest) = match opts::parse(&prog, &args, stdout_tty) {
        Parsed::Run(cfg, rest) => (*cfg, rest),
        Parsed::Exit {
            stdout,
            stderr,
            code,
        } => {
            session::out(stdout.as_bytes());
            eprint!("{stderr}");
            std::process::exit(code);
        }
    };

    if !cfg.no_auth_warning && cfg.auth.is_some() {
        eprintln!(
            "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe."
        );
    }
    if cfg.auth.is_none() {
        cfg.auth = std::env::var("REDISCLI_AUTH").ok();
    }
    if cfg.askpass {
        cfg.auth = repl::ask_password("Please input password: ");
    }

    if let Some(mut cmd) = cfg.cluster_cmd.take() {
        if std::env::var("REDISCLI_CLUSTER_YES").is_ok_and(|v| v == "1") {
            cmd.yes = true;
        }
        if cmd.from_askpass {
            cmd.from_pass = repl::ask_password("Please input import source node password: ");
        }
        std::process::exit(cluster::run(&cfg, cmd));
    }

    let mut session = match Session::new(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(1);
        }
    };

    if session.cfg.pipe {
        if !session.connect(false) {
            std::process::exit(1);
        }
        std::process::exit(pipe::run(&mut session));
    }

    // The words after `--eval <file>` are its keys and arguments (-x and -X
    // do not apply, as upstream).
    if session.cfg.eval.is_some() {
        std::process::exit(eval::run(&mut session, rest));
    }

    if rest.is_empty() {
        repl::run(&mut session);
        std::process::exit(0);
    }

    // `-X tag`: the tag must be one of the arguments (checked before
    // connecting, as upstream).
    if let Some(tag) = &session.cfg.stdin_tag {
        if !rest.iter().any(|a| a == tag) {
            eprintln!("Using -X option but stdin tag not match.");
            std::process::exit(1);
        }
    }
    if !session.connect(false) {
        std::process::exit(1);
    }
    std::process::exit(noninteractive(&mut session, rest));
}

/// One command from the command line, possibly repeated (`-r`).
fn noninteractive(session: &mut Session, rest: Vec<String>) -> i32 {
    let mut args: Vec<Vec<u8>> = Vec::with_capacity(rest.len() + 1);
    for a in rest {
        if session.cfg.quoted_input {
            match redis_common::args::split_args(a.as_bytes()) {
                Some(mut v) if v.len() == 1 => args.extend(v.pop()),
                _ => {
                    session::out(b"Invalid quoted string\n");
                    return 1;
                }
            }
        } else {
            args.push(a.into_bytes());
        }
    }
    if session.cfg.stdin_lastarg {
        let mut buf = Vec::new();
        // A read error leaves what was read so far, as upstream's loop does.
        let _ = std::io::stdin().lock().read_to_end(&mut buf);
        args.push(buf);
    } else if let Some(tag) = session.cfg.stdin_tag.clone() {
        // The first argument equal to the tag (main checked there is one).
        if let Some(slot) = args.iter_mut().find(|a| a.as_slice() == tag.as_bytes()) {
            let mut buf = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut buf);
            *slot = buf;
        }
    }
    let repeat = session.cfg.repeat;
    match session.issue(&args, repeat) {
        Ok(()) => 0,
        Err(()) => 1,
    }
}
