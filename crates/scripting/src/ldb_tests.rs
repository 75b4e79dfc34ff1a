//! Tests of the debugger's console logic (outputs recorded from the
//! reference server's LDB).

use super::*;

fn session(src: &str) -> Ldb {
    let mut l = Ldb::new(&Arc::new(Shared::new()), src.as_bytes(), 0);
    l.current_line = 1;
    l
}

fn lines(l: &mut Ldb) -> Vec<String> {
    let out = String::from_utf8(l.take_logs()).unwrap_or_default();
    out.split("\r\n")
        .skip(1)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_start_matches('+').to_string())
        .collect()
}

#[test]
fn parses_commands_like_upstream() {
    let mut input = b"*2\r\n$5\r\nprint\r\n$1\r\na\r\n*1\r\n$1\r\nc".to_vec();
    assert_eq!(
        parse_command(&mut input),
        Parsed::Command(vec![b"print".to_vec(), b"a".to_vec()])
    );
    assert_eq!(parse_command(&mut input), Parsed::Incomplete);
    input.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_command(&mut input),
        Parsed::Command(vec![b"c".to_vec()])
    );
    assert_eq!(parse_command(&mut input), Parsed::Incomplete);
    for bad in [
        &b"hello\r\n"[..],
        b"*2000\r\n",
        b"*1\r\n$2000\r\n",
        b"*0\r\n",
        b"*1\r\nx",
        b"*1\r\n$1\r\nab\r\n",
    ] {
        let mut input = bad.to_vec();
        assert_eq!(parse_command(&mut input), Parsed::Error, "{bad:?}");
    }
    let mut input = b"*1\r\n$11\r\nhello\0world\r\n".to_vec();
    assert_eq!(
        parse_command(&mut input),
        Parsed::Command(vec![b"hello\0world".to_vec()])
    );
}

#[test]
fn formats_numbers_as_percent_g() {
    for (x, s) in [
        (1.0, "1"),
        (3.5, "3.5"),
        (0.1, "0.1"),
        (1234567891.0, "1.23457e+09"),
        (123456.0, "123456"),
        (1e300, "1e+300"),
        (-0.0, "-0"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (f64::INFINITY, "inf"),
    ] {
        assert_eq!(fmt_g(x), s);
    }
}

#[test]
fn quotes_strings_like_sdscatrepr() {
    let mut out = Vec::new();
    repr(&mut out, b"a\n\"b\0\xff\\");
    assert_eq!(out, b"\"a\\n\\\"b\\x00\\xff\\\\\"".to_vec());
}

#[test]
fn lists_and_breakpoints() {
    let mut l = session("local a = 1\nlocal b = 2\nreturn a");
    l.current_line = 3;
    l.list(0, 5);
    assert_eq!(
        lines(&mut l),
        [
            "   1   local a = 1",
            "   2   local b = 2",
            "-> 3   return a"
        ]
    );
    l.break_command(&[b"2".to_vec(), b"9".to_vec(), b"x".to_vec(), b"-1".to_vec()]);
    assert_eq!(
        lines(&mut l),
        [
            "   1   local a = 1",
            "  #2   local b = 2",
            "-> 3   return a",
            "Wrong line number.",
            "Invalid argument:'x'",
            "No breakpoint in the specified line."
        ]
    );
    l.break_command(&[b"3".to_vec()]);
    l.break_command(&[]);
    assert_eq!(
        lines(&mut l),
        [
            "  #2   local b = 2",
            "->#3   return a",
            "2 breakpoints set:",
            "  #2   local b = 2",
            "->#3   return a"
        ]
    );
    l.break_command(&[b"0".to_vec()]);
    l.break_command(&[]);
    assert_eq!(
        lines(&mut l),
        [
            "All breakpoints removed.",
            "No breakpoints set. Use 'b <line>' to add one."
        ]
    );
}

#[test]
fn trailing_line_ends_make_no_source_line() {
    let mut l = session("local a = 1\r\nreturn a\n\n");
    l.current_line = 2;
    l.list(0, 5);
    // (A CR inside a line shows as a space on the console.)
    assert_eq!(lines(&mut l), ["   1   local a = 1 ", "-> 2   return a"]);
    assert!(session("\n\r\n").src.is_empty());
}

#[test]
fn maxlen_trims_values_and_replies() {
    let mut l = session("return 1");
    l.maxlen_command(Some(b"3"));
    l.log_reply(
        &Frame::Bulk(bytes::Bytes::from("z".repeat(100))),
        Protocol::Resp2,
    );
    let got = lines(&mut l);
    assert_eq!(got[0], "<value> replies are truncated at 60 bytes.");
    assert_eq!(got[1], format!("<reply> \"{} ...", "z".repeat(51)));
    assert_eq!(got.len(), 2, "no hint once maxlen was used");
    let mut l = session("return 1");
    l.maxlen = 60;
    l.log_reply(
        &Frame::Bulk(bytes::Bytes::from("z".repeat(100))),
        Protocol::Resp2,
    );
    assert_eq!(
        lines(&mut l)[1],
        "<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming."
    );
}

#[test]
fn shows_replies_as_the_reference() {
    let mut l = session("return 1");
    let f = Frame::Array(vec![
        Frame::Bulk("a".into()),
        Frame::Integer(2),
        Frame::Null,
    ]);
    l.log_reply(&f, Protocol::Resp2);
    l.log_reply(&Frame::Simple("OK".into()), Protocol::Resp2);
    l.log_reply(
        &Frame::error("ERR value is not an integer or out of range"),
        Protocol::Resp2,
    );
    l.log_reply(
        &Frame::error("ERR Unknown Redis command called from script"),
        Protocol::Resp2,
    );
    let map = Frame::Map(vec![(Frame::Bulk("a".into()), Frame::Bulk("1".into()))]);
    l.log_reply(&map, Protocol::Resp3);
    l.log_reply(&Frame::Set(vec![Frame::Bulk("m".into())]), Protocol::Resp3);
    l.log_reply(&Frame::Double(2.5), Protocol::Resp3);
    l.log_reply(&Frame::Boolean(true), Protocol::Resp3);
    l.log_reply(&Frame::Null, Protocol::Resp3);
    assert_eq!(
        lines(&mut l),
        [
            "<reply> [\"a\",2,NULL]",
            "<reply> \"+OK\"",
            "<error> -ERR value is not an integer or out of range",
            "<reply> \"-ERR value is not an integer or out of range\"",
            "<error> Unknown Redis command called from script",
            "<reply> {\"a\" => \"1\"}",
            "<reply> ~(\"m\")",
            "<reply> (double) 2.5",
            "<reply> #true",
            "<reply> (null)",
        ]
    );
}
