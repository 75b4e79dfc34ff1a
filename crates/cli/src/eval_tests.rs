//! Unit tests of `eval.rs`: the keys/arguments split of `--eval` and the
//! colours of the debugger's status lines (kept apart so the module holds
//! only library code).

use super::*;

fn argv(words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    eval_argv(b"body".to_vec(), &words)
        .into_iter()
        .map(|a| String::from_utf8(a).unwrap())
        .collect()
}

#[test]
fn lone_comma_separates_keys_from_args() {
    assert_eq!(
        argv(&["k1", "k2", ",", "a1", "a2"]),
        ["EVAL", "body", "2", "k1", "k2", "a1", "a2"]
    );
    // No comma: every word is a key.
    assert_eq!(argv(&["k1", "k2"]), ["EVAL", "body", "2", "k1", "k2"]);
    assert_eq!(argv(&[]), ["EVAL", "body", "0"]);
}

#[test]
fn only_the_first_lone_comma_counts() {
    assert_eq!(
        argv(&["k1", ",", ",", "a1"]),
        ["EVAL", "body", "1", "k1", ",", "a1"]
    );
    assert_eq!(
        argv(&["k1", ",", "a1", ","]),
        ["EVAL", "body", "1", "k1", "a1", ","]
    );
    assert_eq!(argv(&[","]), ["EVAL", "body", "0"]);
    assert_eq!(argv(&[",", "a1"]), ["EVAL", "body", "0", "a1"]);
    assert_eq!(argv(&["k1", ","]), ["EVAL", "body", "1", "k1"]);
}

#[test]
fn glued_commas_are_ordinary_words() {
    assert_eq!(
        argv(&["k1", "k2,", "a1"]),
        ["EVAL", "body", "3", "k1", "k2,", "a1"]
    );
    assert_eq!(
        argv(&["k1", ",k2", "a1"]),
        ["EVAL", "body", "3", "k1", ",k2", "a1"]
    );
    assert_eq!(argv(&["k1,a1"]), ["EVAL", "body", "1", "k1,a1"]);
    assert_eq!(
        argv(&["k1", ",,", "a1"]),
        ["EVAL", "body", "3", "k1", ",,", "a1"]
    );
}

#[test]
fn empty_words_are_kept() {
    assert_eq!(argv(&["", "", ",", ""]), ["EVAL", "body", "2", "", "", ""]);
}

#[test]
fn missing_file_message() {
    let err = read_script("/nonexistent/dir/x.lua").unwrap_err();
    assert_eq!(
        err,
        "Can't open file '/nonexistent/dir/x.lua': No such file or directory"
    );
}

#[test]
fn status_line_colours() {
    // Listings need five bytes and a digit in the fourth.
    assert_eq!(color(b"-> 12  x"), "0;33");
    assert_eq!(color(b"->#12"), "0;33");
    assert_eq!(color(b"x> 12"), "0;33");
    assert_eq!(color(b"->#1"), "0;37");
    assert_eq!(color(b"-> a "), "0;37");
    assert_eq!(color(b"  #6   local r"), "1;37");
    assert_eq!(color(b"  #6"), "0;37");
    // A listing wins over any tag.
    assert_eq!(color(b"-> 12 <error>"), "0;33");
    assert_eq!(color(b"  #1 <value>"), "1;37");
    // Tags anywhere in the line, in upstream's precedence.
    assert_eq!(color(b"x <error>"), "0;31");
    assert_eq!(color(b"<error> <value>"), "0;35");
    assert_eq!(color(b"<retval> 2"), "0;35");
    assert_eq!(color(b"<hint> <error>"), "1;37");
    assert_eq!(color(b"<debug> <error>"), "0;31");
    assert_eq!(color(b"<reply> <redis>"), "0;36");
    assert_eq!(color(b"<redis> <debug>"), "0;32");
    assert_eq!(color(b"<debug> line 5: 1"), "1;37");
    assert_eq!(color(b"<ERROR>"), "0;37");
    assert_eq!(color(b""), "0;37");
}

#[test]
fn end_marker_is_hidden_and_stops_colours() {
    let mut out = Vec::new();
    let mut ended = false;
    write_status(b"<value> 1", &mut out, true, true, &mut ended);
    write_status(b"<endsession>", &mut out, true, true, &mut ended);
    write_status(b"<value> 2", &mut out, true, true, &mut ended);
    assert!(ended);
    assert_eq!(out, b"\x1b[0;35;49m<value> 1\x1b[0m<value> 2");
    // Outside a session statuses are plain and the marker is text.
    let mut out = Vec::new();
    let mut ended = false;
    write_status(b"<endsession>", &mut out, false, true, &mut ended);
    assert!(!ended);
    assert_eq!(out, b"<endsession>");
}

#[test]
fn debugger_eval_keeps_the_code_as_typed() {
    let args = |line: &str| {
        debugger_eval(line).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        args("eval \"return 1\""),
        Some(vec!["eval".into(), "\"return 1\"".into()])
    );
    assert_eq!(
        args("e  error(\"x\") "),
        Some(vec!["e".into(), " error(\"x\") ".into()])
    );
    assert_eq!(args("eval "), Some(vec!["eval".into(), String::new()]));
    // Anything else is split as usual.
    assert_eq!(args("eval"), None);
    assert_eq!(args("Eval 1"), None);
    assert_eq!(args("  eval 1"), None);
    assert_eq!(args("eval\t1"), None);
    assert_eq!(args("evalx 1"), None);
}
