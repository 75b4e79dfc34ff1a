//! Tests of `opts.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn run(args: &[&str]) -> Config {
    let v: Vec<OsString> = args.iter().map(OsString::from).collect();
    match parse(&v) {
        Parsed::Run { cfg, .. } => *cfg,
        Parsed::Exit { stdout, stderr, .. } => panic!("exit: {stdout}{stderr}"),
    }
}

fn exit(args: &[&str]) -> (String, String, i32) {
    let v: Vec<OsString> = args.iter().map(OsString::from).collect();
    match parse(&v) {
        Parsed::Run { .. } => panic!("expected an exit"),
        Parsed::Exit {
            stdout,
            stderr,
            code,
        } => (stdout, stderr, code),
    }
}

#[test]
fn defaults_and_clamps() {
    let c = run(&[]);
    assert_eq!(
        (c.clients, c.requests, c.datasize, c.pipeline),
        (50, 100_000, 3, 1)
    );
    assert_eq!((c.port, c.keepalive, c.precision), (6379, 1, 3));
    let c = run(&[
        "-d",
        "0",
        "-P",
        "-3",
        "-r",
        "-5",
        "--precision",
        "9",
        "-c",
        "-2",
    ]);
    assert_eq!((c.datasize, c.pipeline, c.keyspacelen), (1, 1, 0));
    assert!(c.randomkeys);
    assert_eq!((c.precision, c.clients), (4, -2));
    assert_eq!(run(&["--precision", "-1"]).precision, 3);
    assert_eq!(run(&["-d", "2000000000"]).datasize, 1 << 30);
    assert_eq!(run(&["-n", "12abc"]).requests, 12);
}

#[test]
fn tests_list_and_command() {
    let c = run(&["-t", "SET,Get", "-q"]);
    assert_eq!(c.tests.as_deref(), Some(",set,get,"));
    let c = run(&["-n", "5", "set", "-x", "y"]);
    assert_eq!(
        c.command,
        vec![b"set".to_vec(), b"-x".to_vec(), b"y".to_vec()]
    );
    assert_eq!(c.requests, 5);
}

#[test]
fn invalid_options() {
    let (out, _, code) = exit(&["-n"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("Invalid option \"-n\" or option argument missing\n\nUsage:"));
    let (out, _, _) = exit(&["--foo"]);
    assert!(out.starts_with("Invalid option \"--foo\""));
    let (out, _, _) = exit(&["-r", "-x"]);
    assert!(out.starts_with("Invalid option \"-x\""));
    let (out, _, code) = exit(&["--help"]);
    assert_eq!((out.as_str(), code), (USAGE, 0));
    let (out, _, _) = exit(&["--version"]);
    assert_eq!(out, "redis-benchmark 7.0.15\n");
}

#[test]
fn uri() {
    let c = run(&["-u", "redis://us%41:p%40ss@h:7000/3"]);
    assert_eq!(c.user.as_deref(), Some("usA"));
    assert_eq!(c.auth.as_deref(), Some("p@ss"));
    assert_eq!((c.host.as_str(), c.port, c.dbnum), ("h", 7000, 3));
    let c = run(&["-u", "redis://:pw@h"]);
    assert_eq!(
        (c.user.as_deref(), c.auth.as_deref()),
        (Some(""), Some("pw"))
    );
    let (_, err, code) = exit(&["-u", "http://x"]);
    assert_eq!((err.as_str(), code), ("Invalid URI scheme\n", 1));
}

#[test]
fn warnings() {
    let v: Vec<OsString> = ["-e", "--threads", "900"]
        .iter()
        .map(OsString::from)
        .collect();
    match parse(&v) {
        Parsed::Run { cfg, warnings } => {
            assert_eq!(cfg.threads, 500);
            assert!(warnings.contains("-e option has no effect"));
            assert!(warnings.contains("Too many threads, limiting threads to 500."));
        }
        Parsed::Exit { .. } => panic!(),
    }
}
