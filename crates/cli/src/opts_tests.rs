//! Unit tests of `opts.rs` (kept apart so the module holds only
//! library code).

use super::*;

fn run(args: &[&str]) -> (Config, Vec<String>) {
    let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match parse("redis-cli", &v, false) {
        Parsed::Run(c, rest) => (*c, rest),
        Parsed::Exit { .. } => panic!("unexpected exit"),
    }
}

#[test]
fn c_number_parsing() {
    assert_eq!(atoi("12abc"), 12);
    assert_eq!(atoi("  -7"), -7);
    assert_eq!(atoi("x"), 0);
    assert_eq!(atof("0.25s"), 0.25);
    assert_eq!(atof("abc"), 0.0);
}

#[test]
fn options_stop_at_command() {
    let (c, rest) = run(&["-p", "7000", "-n", "2", "--raw", "get", "-x"]);
    assert_eq!(c.port, 7000);
    assert_eq!(c.input_db, 2);
    assert_eq!(rest, vec!["get", "-x"]);
}

#[test]
fn uri() {
    let (c, _) = run(&["-u", "redis://us%65r:p%40ss@example:7001/3"]);
    assert_eq!(c.user.as_deref(), Some("user"));
    assert_eq!(c.auth.as_deref(), Some("p@ss"));
    assert_eq!((c.host.as_str(), c.port, c.input_db), ("example", 7001, 3));
}

#[test]
fn cluster_manager_options() {
    let (c, rest) = run(&[
        "--cluster",
        "rebalance",
        "127.0.0.1",
        "7000",
        "--cluster-weight",
        "a=1",
        "b=2",
        "--cluster-threshold",
        "1.5",
        "--cluster-yes",
        "ignored",
    ]);
    assert!(rest.is_empty());
    let cc = c.cluster_cmd.unwrap();
    assert_eq!(cc.name, "rebalance");
    assert_eq!(cc.args, vec!["127.0.0.1", "7000"]);
    assert_eq!(cc.weights, Some(vec!["a=1".to_string(), "b=2".to_string()]));
    assert_eq!(
        (cc.threshold, cc.yes, cc.timeout, cc.pipeline),
        (1.5, true, 60000, 10)
    );
    // Arguments may also follow the options.
    let (c, _) = run(&["--cluster", "check", "--cluster-yes", "h:1", "x"]);
    assert_eq!(c.cluster_cmd.unwrap().args, vec!["h:1", "x"]);
    let v = vec!["--cluster".to_string()];
    assert!(matches!(
        parse("redis-cli", &v, false),
        Parsed::Exit { code: 1, .. }
    ));
}

#[test]
fn unknown_option() {
    let v = vec!["--stat".to_string()];
    assert!(matches!(
        parse("redis-cli", &v, false),
        Parsed::Exit { code: 1, .. }
    ));
}

#[test]
fn eval_and_debugger_options() {
    let (c, rest) = run(&["--ldb", "--eval", "f.lua", "k", ",", "a"]);
    assert_eq!(c.eval.as_deref(), Some("f.lua"));
    assert!(c.eval_ldb && !c.eval_ldb_sync);
    assert_eq!(rest, vec!["k", ",", "a"]);
    // The debugger switches to raw output; later options still win.
    assert_eq!(run(&["--ldb", "--eval", "f"]).0.output, Output::Raw);
    let (c, _) = run(&["--ldb-sync-mode", "--csv", "--ldb", "--eval", "f"]);
    assert!(c.eval_ldb_sync);
    assert_eq!(c.output, Output::Raw);
    assert_eq!(
        run(&["--ldb-sync-mode", "--no-raw", "--eval", "f"])
            .0
            .output,
        Output::Standard
    );
    let v = vec!["--ldb".to_string(), "ping".to_string()];
    match parse("./cli", &v, false) {
        Parsed::Exit { stderr, code, .. } => {
            assert_eq!(code, 1);
            assert_eq!(
                stderr,
                "Options --ldb and --ldb-sync-mode require --eval.\n\
                 Try ./cli --help for more information.\n"
            );
        }
        Parsed::Run(..) => panic!("--ldb without --eval must fail"),
    }
}
