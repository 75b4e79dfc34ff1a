//! Crate tests: request vectors fed whole, byte by byte and split at every
//! offset; every protocol error; encoder vectors for both protocols; decoder
//! vectors and decode(encode(x)) round trips. Expected bytes and error texts
//! were checked against redis-server 7.0.15.

use bytes::{Bytes, BytesMut};

use crate::*;

// ---------------------------------------------------------------- requests

/// Outcome of feeding a whole input to a fresh parser: the commands parsed
/// and then either an error or the number of bytes left unconsumed.
#[derive(Debug, PartialEq)]
struct Outcome {
    commands: Vec<Vec<Bytes>>,
    error: Option<String>,
    /// Bytes still in the buffer plus those held in parser state are not
    /// comparable across feeding patterns; record only whether a request
    /// is still in progress.
    in_request: bool,
}

fn feed(chunks: &[&[u8]]) -> Outcome {
    feed_with(chunks, RequestParser::new())
}

fn feed_with(chunks: &[&[u8]], mut p: RequestParser) -> Outcome {
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match p.parse(&mut buf) {
                Ok(Some(args)) => commands.push(args),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        commands,
                        error: Some(e.0),
                        in_request: false,
                    }
                }
            }
        }
    }
    Outcome {
        commands,
        error: None,
        in_request: p.in_request(),
    }
}

/// Feeds `input` whole, byte by byte and in two pieces split at every
/// offset; all must agree. Returns the whole-input outcome.
fn feed_all_ways(input: &[u8]) -> Outcome {
    feed_all_ways_with(input, RequestParser::new)
}

fn feed_all_ways_with(input: &[u8], make: impl Fn() -> RequestParser) -> Outcome {
    let whole = feed_with(&[input], make());
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(feed_with(&bytes, make()), whole, "byte by byte: {input:?}");
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(feed_with(&[a, b], make()), whole, "split at {i}: {input:?}");
    }
    whole
}

fn cmds(list: &[&[&str]]) -> Vec<Vec<Bytes>> {
    list.iter()
        .map(|c| {
            c.iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        })
        .collect()
}

fn ok(input: &[u8], want: &[&[&str]]) {
    let out = feed_all_ways(input);
    assert_eq!(out.error, None, "input {input:?}");
    assert_eq!(out.commands, cmds(want), "input {input:?}");
}

fn err(input: &[u8], before: &[&[&str]], text: &str) {
    let out = feed_all_ways(input);
    assert_eq!(out.commands, cmds(before), "input {input:?}");
    assert_eq!(out.error.as_deref(), Some(text), "input {input:?}");
}

#[test]
fn request_vectors() {
    ok(b"*1\r\n$4\r\nPING\r\n", &[&["PING"]]);
    ok(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
        &[&["SET", "k", ""]],
    );
    ok(
        b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n*1\r\n$4\r\nPING\r\n",
        &[&["ECHO", "a\r\nb"], &["PING"]],
    );
    // Empty and negative multibulk counts are skipped.
    ok(b"*0\r\n*-1\r\n*-5\r\nPING\r\n", &[&["PING"]]);
    // Inline requests, CRLF or bare LF, blank lines skipped.
    ok(b"PING\r\n", &[&["PING"]]);
    ok(b"\n\r\n   \nPING\n", &[&["PING"]]);
    ok(
        b"SET k \"a b\\x41\" 'c'\r\nGET k\n",
        &[&["SET", "k", "a bA", "c"], &["GET", "k"]],
    );
    // Mixed inline and multibulk.
    ok(
        b"PING\r\n*1\r\n$4\r\nPING\r\nPING\n",
        &[&["PING"], &["PING"], &["PING"]],
    );
    // Upstream skips the byte after a header's CR and the two bytes after a
    // payload without looking at them.
    ok(b"*1\rx$4\r\nPING\r\n", &[&["PING"]]);
    ok(b"*1\r\n$4\rxPING\r\n", &[&["PING"]]);
    ok(
        b"*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n",
        &[&["PING"], &["PING"]],
    );
    // Binary payloads, including NUL and CR/LF.
    ok(b"*1\r\n$5\r\na\0\r\nb\r\n", &[&["a\0\r\nb"]]);
    // Incomplete input: nothing returned, no error.
    for partial in [
        &b"*"[..],
        b"*1",
        b"*1\r",
        b"*1\r\n$",
        b"*1\r\n$4\r\nPI",
        b"*1\r\n$4\r\nPING\r",
        b"PING",
        b"*1\r\nfoo",
    ] {
        let out = feed_all_ways(partial);
        assert_eq!(out.commands, Vec::<Vec<Bytes>>::new());
        assert_eq!(out.error, None);
    }
    // A NUL before the line end hides it, as with upstream's strchr.
    ok(b"PING\0x\nPING\n", &[]);
    ok(b"*1\0\r\n$4\r\nPING\r\n", &[]);
    ok(b"PING\nPING\0\n", &[&["PING"]]);
}

#[test]
fn request_errors() {
    let mb = "Protocol error: invalid multibulk length";
    err(b"*\r\n", &[], mb);
    err(b"*x\r\n", &[], mb);
    err(b"*-0\r\n", &[], mb);
    err(b"*01\r\n", &[], mb);
    err(b"*+1\r\n", &[], mb);
    err(b"*2147483648\r\n", &[], mb);
    err(b"*99999999999999999999\r\n", &[], mb);
    err(b"*1\n$4\r\n", &[], mb);
    let out = feed_all_ways(b"*2147483647\r\n");
    assert_eq!((out.error, out.in_request), (None, true));

    err(
        b"PING\r\n*1\r\nfoo\r\n",
        &[&["PING"]],
        "Protocol error: expected '$', got 'f'",
    );
    err(b"*1\r\n\r\n", &[], "Protocol error: expected '$', got ' '");
    err(
        b"*1\r\n\n\r\n",
        &[],
        "Protocol error: expected '$', got ' '",
    );
    let out = feed(&[b"*1\r\n\xff\r\n"]);
    let e = ProtocolError(out.error.unwrap_or_default());
    assert_eq!(e.reply_bytes(), b"Protocol error: expected '$', got '\xff'");

    let bl = "Protocol error: invalid bulk length";
    err(b"*1\r\n$-1\r\n", &[], bl);
    err(b"*1\r\n$\r\n", &[], bl);
    err(b"*1\r\n$x\r\n", &[], bl);
    err(b"*1\r\n$01\r\n", &[], bl);
    err(b"*1\r\n$536870913\r\n", &[], bl);
    let out = feed_all_ways(b"*1\r\n$536870912\r\n");
    assert_eq!((out.error, out.in_request), (None, true));
    // The bulk limit is settable.
    let small = || RequestParser::with_limits(Limits::new(3));
    let out = feed_all_ways_with(b"*1\r\n$4\r\nPING\r\n", small);
    assert_eq!(out.error.as_deref(), Some(bl));
    let out = feed_all_ways_with(b"*1\r\n$3\r\nGET\r\n", small);
    assert_eq!(out.commands, cmds(&[&["GET"]]));
    let mut p = RequestParser::new();
    p.set_limits(Limits::new(1));
    assert_eq!(p.limits().max_bulk_len, 1);

    // Headers and inline lines without terminator beyond 64 KiB.
    let mut long = b"*".to_vec();
    long.extend(std::iter::repeat(b'1').take(INLINE_MAX));
    assert_eq!(
        feed(&[&long]).error.as_deref(),
        Some("Protocol error: too big mbulk count string")
    );
    assert_eq!(feed(&[&long[..INLINE_MAX]]).error, None);
    let mut long = b"*1\r\n$".to_vec();
    long.extend(std::iter::repeat(b'1').take(INLINE_MAX));
    assert_eq!(
        feed(&[&long]).error.as_deref(),
        Some("Protocol error: too big bulk count string")
    );
    let long = vec![b'a'; INLINE_MAX + 1];
    assert_eq!(
        feed(&[&long]).error.as_deref(),
        Some("Protocol error: too big inline request")
    );
    assert_eq!(feed(&[&long[..INLINE_MAX]]).error, None);
    // A line longer than the limit is fine if its end is already there.
    let mut long = vec![b'a'; INLINE_MAX + 10];
    long.push(b'\n');
    assert_eq!(feed(&[&long]).commands.len(), 1);
    // NUL-hidden line ends lead to the same error once over the limit.
    let mut long = b"PING\0x\n".to_vec();
    long.extend(vec![b'a'; INLINE_MAX - 7]);
    assert_eq!(feed(&[&long]).error, None);
    long.push(b'a');
    assert_eq!(
        feed(&[&long]).error.as_deref(),
        Some("Protocol error: too big inline request")
    );

    err(
        b"\"abc\n",
        &[],
        "Protocol error: unbalanced quotes in request",
    );
    err(
        b"PING\n'a'b\r\n",
        &[&["PING"]],
        "Protocol error: unbalanced quotes in request",
    );

    // Unauthenticated clients get tighter limits.
    let gated = || {
        let mut p = RequestParser::new();
        p.set_auth_required(true);
        p
    };
    let out = feed_all_ways_with(b"*11\r\n", gated);
    assert_eq!(
        out.error.as_deref(),
        Some("Protocol error: unauthenticated multibulk length")
    );
    let out = feed_all_ways_with(b"*1\r\n$16385\r\n", gated);
    assert_eq!(
        out.error.as_deref(),
        Some("Protocol error: unauthenticated bulk length")
    );
    let out = feed_all_ways_with(b"*10\r\n$16384\r\n", gated);
    assert_eq!((out.error, out.in_request), (None, true));
}

#[test]
fn big_bulk_in_chunks_is_zero_copy_and_hinted() {
    let len = 1_000_000;
    let mut input = format!("*2\r\n$3\r\nSET\r\n${len}\r\n").into_bytes();
    input.extend(std::iter::repeat(b'x').take(len));
    input.extend_from_slice(b"\r\n");
    let mut p = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut result = None;
    let mut saw_hint = false;
    for chunk in input.chunks(16 * 1024) {
        buf.extend_from_slice(chunk);
        match p.parse(&mut buf) {
            Ok(Some(args)) => result = Some(args),
            Ok(None) => {
                if p.reserve_hint() > 0 {
                    saw_hint = true;
                    // The hint is exactly what is missing.
                    assert!(p.reserve_hint() <= len + 2);
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(saw_hint);
    assert_eq!(p.reserve_hint(), 0);
    let args = result.unwrap_or_default();
    assert_eq!(args.len(), 2);
    assert_eq!(args[1].len(), len);
    assert!(buf.is_empty());
}

#[test]
fn reserve_hint_is_exact() {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"*1\r\n$10\r\nabc"[..]);
    assert_eq!(p.parse(&mut buf), Ok(None));
    assert_eq!(p.reserve_hint(), 9);
    buf.extend_from_slice(b"defghij\r\n");
    assert_eq!(
        p.parse(&mut buf),
        Ok(Some(vec![Bytes::from_static(b"abcdefghij")]))
    );
    assert_eq!(p.reserve_hint(), 0);
}
