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
    long.extend(std::iter::repeat_n(b'1', INLINE_MAX));
    assert_eq!(
        feed(&[&long]).error.as_deref(),
        Some("Protocol error: too big mbulk count string")
    );
    assert_eq!(feed(&[&long[..INLINE_MAX]]).error, None);
    let mut long = b"*1\r\n$".to_vec();
    long.extend(std::iter::repeat_n(b'1', INLINE_MAX));
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
    input.extend(std::iter::repeat_n(b'x', len));
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

// ---------------------------------------------------------------- encoder

fn enc(f: &Frame, proto: Protocol) -> Vec<u8> {
    f.to_bytes(proto).to_vec()
}

fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

fn b(s: &str) -> Frame {
    Frame::bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
// 3.141 is the value `DEBUG PROTOCOL double` sends, not an attempt at pi.
#[allow(clippy::approx_constant)]
fn encoder_vectors() {
    use Protocol::{Resp2, Resp3};
    // (frame, RESP2 bytes, RESP3 bytes); most observed from redis-server
    // 7.0.15 `DEBUG PROTOCOL <type>` and ZSCORE.
    let attr = Frame::Attribute(vec![(
        b("key-popularity"),
        Frame::Array(vec![b("key:123"), int(90)]),
    )]);
    let cases: Vec<(Frame, &[u8], &[u8])> = vec![
        (Frame::ok(), b"+OK\r\n", b"+OK\r\n"),
        (
            Frame::error("ERR unknown command"),
            b"-ERR unknown command\r\n",
            b"-ERR unknown command\r\n",
        ),
        (int(12345), b":12345\r\n", b":12345\r\n"),
        (
            int(i64::MIN),
            b":-9223372036854775808\r\n",
            b":-9223372036854775808\r\n",
        ),
        (
            b("Hello World"),
            b"$11\r\nHello World\r\n",
            b"$11\r\nHello World\r\n",
        ),
        (b(""), b"$0\r\n\r\n", b"$0\r\n\r\n"),
        (Frame::Null, b"$-1\r\n", b"_\r\n"),
        (Frame::NullArray, b"*-1\r\n", b"_\r\n"),
        (Frame::Double(3.141), b"$5\r\n3.141\r\n", b",3.141\r\n"),
        (
            Frame::Double(0.1),
            b"$19\r\n0.10000000000000001\r\n",
            b",0.10000000000000001\r\n",
        ),
        (Frame::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n"),
        (
            Frame::Double(f64::NEG_INFINITY),
            b"$4\r\n-inf\r\n",
            b",-inf\r\n",
        ),
        (Frame::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n"),
        (
            Frame::BigNumber(Bytes::from_static(b"1234567999999999999999999999999999999")),
            b"$37\r\n1234567999999999999999999999999999999\r\n",
            b"(1234567999999999999999999999999999999\r\n",
        ),
        (
            Frame::Array(vec![int(0), int(1), int(2)]),
            b"*3\r\n:0\r\n:1\r\n:2\r\n",
            b"*3\r\n:0\r\n:1\r\n:2\r\n",
        ),
        (Frame::Array(vec![]), b"*0\r\n", b"*0\r\n"),
        (
            Frame::Set(vec![int(0), int(1), int(2)]),
            b"*3\r\n:0\r\n:1\r\n:2\r\n",
            b"~3\r\n:0\r\n:1\r\n:2\r\n",
        ),
        (
            Frame::Map(vec![
                (int(0), Frame::Boolean(false)),
                (int(1), Frame::Boolean(true)),
                (int(2), Frame::Boolean(false)),
            ]),
            b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
            b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
        ),
        (
            attr.clone(),
            b"",
            b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n",
        ),
        (
            Frame::Array(vec![attr.clone(), b("x")]),
            b"*1\r\n$1\r\nx\r\n",
            b"*1\r\n|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$1\r\nx\r\n",
        ),
        (
            Frame::Push(vec![b("server-cpu-usage"), int(42)]),
            b"*2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n",
            b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n",
        ),
        (
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"This is a verbatim\nstring"),
            },
            b"$25\r\nThis is a verbatim\nstring\r\n",
            b"=29\r\ntxt:This is a verbatim\nstring\r\n",
        ),
        (Frame::Boolean(true), b":1\r\n", b"#t\r\n"),
        (Frame::Boolean(false), b":0\r\n", b"#f\r\n"),
        (
            Frame::Array(vec![Frame::Map(vec![(
                b("a"),
                Frame::Set(vec![Frame::Null]),
            )])]),
            b"*1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n",
            b"*1\r\n%1\r\n$1\r\na\r\n~1\r\n_\r\n",
        ),
    ];
    for (frame, r2, r3) in &cases {
        assert_eq!(enc(frame, Resp2), *r2, "RESP2 {frame:?}");
        assert_eq!(enc(frame, Resp3), *r3, "RESP3 {frame:?}");
    }
}

#[test]
fn writers_match_frames() {
    use crate::write::*;
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        let mut out = BytesMut::new();
        write_simple(&mut out, b"OK");
        write_error(&mut out, b"ERR x");
        write_integer(&mut out, -42);
        write_bulk(&mut out, b"abc");
        write_null(&mut out, proto);
        write_null_array(&mut out, proto);
        write_array_len(&mut out, 1);
        write_double(&mut out, proto, 1e20);
        write_map_len(&mut out, proto, 1);
        write_boolean(&mut out, proto, true);
        write_big_number(&mut out, proto, b"-12");
        write_set_len(&mut out, proto, 1);
        write_verbatim(&mut out, proto, *b"mkd", b"# hi");
        write_push_len(&mut out, proto, 0);
        let frames = [
            Frame::ok(),
            Frame::error("ERR x"),
            int(-42),
            b("abc"),
            Frame::Null,
            Frame::NullArray,
            Frame::Array(vec![Frame::Double(1e20)]),
            Frame::Map(vec![(
                Frame::Boolean(true),
                Frame::BigNumber(Bytes::from_static(b"-12")),
            )]),
            Frame::Set(vec![Frame::Verbatim {
                format: *b"mkd",
                text: Bytes::from_static(b"# hi"),
            }]),
            Frame::Push(vec![]),
        ];
        let mut want = BytesMut::new();
        for f in &frames {
            f.encode(proto, &mut want);
        }
        assert_eq!(out, want, "{proto:?}");
    }
    let mut out = BytesMut::new();
    write_attribute_len(&mut out, 2);
    assert_eq!(&out[..], b"|2\r\n");
}

#[test]
fn request_encoding_round_trips_through_parser() {
    let args: [&[u8]; 3] = [b"SET", b"k\r\n", b""];
    let mut out = BytesMut::new();
    encode_request(&args, &mut out);
    assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n");
    let mut p = RequestParser::new();
    let got = p.parse(&mut out);
    assert_eq!(
        got,
        Ok(Some(
            args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
        ))
    );
}

// ---------------------------------------------------------------- decoder

/// Decodes every frame from `input` fed in `chunks`, both through a
/// stateful [`FrameCodec`] and the stateless [`decode`]; both must agree.
fn decode_chunks(chunks: &[&[u8]]) -> Result<Vec<Frame>, DecodeError> {
    use tokio_util::codec::Decoder;
    let mut codec = FrameCodec::default();
    let mut a = BytesMut::new();
    let mut b = BytesMut::new();
    let mut via_codec = Vec::new();
    let mut via_fn = Vec::new();
    let mut codec_err = None;
    let mut fn_err = None;
    for chunk in chunks {
        a.extend_from_slice(chunk);
        b.extend_from_slice(chunk);
        while codec_err.is_none() {
            let before = a.len();
            match codec.decode(&mut a) {
                Ok(Some(f)) => via_codec.push(f),
                Ok(None) => {
                    assert_eq!(a.len(), before, "Ok(None) must not consume");
                    break;
                }
                Err(CodecError::Decode(e)) => codec_err = Some(e),
                Err(CodecError::Io(e)) => panic!("{e}"),
            }
        }
        while fn_err.is_none() {
            let before = b.len();
            match decode(&mut b) {
                Ok(Some(f)) => via_fn.push(f),
                Ok(None) => {
                    assert_eq!(b.len(), before, "Ok(None) must not consume");
                    break;
                }
                Err(e) => fn_err = Some(e),
            }
        }
    }
    assert_eq!(frames_str(&via_codec), frames_str(&via_fn));
    assert_eq!(codec_err, fn_err);
    match fn_err {
        Some(e) => Err(e),
        None => Ok(via_fn),
    }
}

/// Debug text, so NaN compares equal to itself.
fn frames_str(frames: &[Frame]) -> String {
    format!("{frames:?}")
}

fn decode_all_ways(input: &[u8]) -> Result<Vec<Frame>, DecodeError> {
    let whole = decode_chunks(&[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let text = |r: &Result<Vec<Frame>, DecodeError>| format!("{r:?}");
    assert_eq!(
        text(&decode_chunks(&bytes)),
        text(&whole),
        "byte by byte {input:?}"
    );
    for i in 0..=input.len() {
        let (x, y) = input.split_at(i);
        assert_eq!(
            text(&decode_chunks(&[x, y])),
            text(&whole),
            "split {i} {input:?}"
        );
    }
    whole
}

#[test]
fn decoder_vectors() {
    let one = |input: &[u8], want: Frame| {
        let got = decode_all_ways(input);
        assert_eq!(
            format!("{got:?}"),
            format!("{:?}", Ok::<_, DecodeError>(vec![want])),
            "{input:?}"
        );
    };
    one(b"+OK\r\n", Frame::ok());
    one(b"-ERR x\r\n", Frame::error("ERR x"));
    one(b":-5\r\n", int(-5));
    one(b":+5\r\n", int(5));
    one(b"$3\r\na\r\n\r\n", b("a\r\n"));
    one(b"$0\r\n\r\n", b(""));
    one(b"$-1\r\n", Frame::Null);
    one(b"*-1\r\n", Frame::NullArray);
    one(b"_\r\n", Frame::Null);
    one(b",1.5\r\n", Frame::Double(1.5));
    one(b",inf\r\n", Frame::Double(f64::INFINITY));
    one(b",-inf\r\n", Frame::Double(f64::NEG_INFINITY));
    one(b",nan\r\n", Frame::Double(f64::NAN));
    one(b",1e+20\r\n", Frame::Double(1e20));
    one(b"#t\r\n", Frame::Boolean(true));
    one(b"#f\r\n", Frame::Boolean(false));
    one(
        b"(-123456789012345678901234567890\r\n",
        Frame::BigNumber(Bytes::from_static(b"-123456789012345678901234567890")),
    );
    one(
        b"=15\r\ntxt:Some string\r\n",
        Frame::Verbatim {
            format: *b"txt",
            text: Bytes::from_static(b"Some string"),
        },
    );
    one(b"!8\r\nERR a\r\nb\r\n", Frame::error("ERR a\r\nb"));
    one(b"*0\r\n", Frame::Array(vec![]));
    one(
        b"*2\r\n*1\r\n:1\r\n%1\r\n+k\r\n~2\r\n_\r\n#t\r\n",
        Frame::Array(vec![
            Frame::Array(vec![int(1)]),
            Frame::Map(vec![(
                Frame::simple("k"),
                Frame::Set(vec![Frame::Null, Frame::Boolean(true)]),
            )]),
        ]),
    );
    one(
        b">2\r\n+message\r\n:1\r\n",
        Frame::Push(vec![Frame::simple("message"), int(1)]),
    );
    one(
        b"*2\r\n:1\r\n|1\r\n+ttl\r\n:3\r\n:2\r\n",
        Frame::Array(vec![
            int(1),
            Frame::Attribute(vec![(Frame::simple("ttl"), int(3))]),
            int(2),
        ]),
    );
    // Attributes inside a map are dropped.
    one(
        b"%1\r\n|1\r\n+a\r\n+b\r\n+k\r\n+v\r\n",
        Frame::Map(vec![(Frame::simple("k"), Frame::simple("v"))]),
    );
    // A top-level attribute comes as its own frame, then the value.
    let got = decode_all_ways(b"|1\r\n+key\r\n:9\r\n$1\r\nx\r\n+next\r\n");
    assert_eq!(
        got,
        Ok(vec![
            Frame::Attribute(vec![(Frame::simple("key"), int(9))]),
            b("x"),
            Frame::simple("next"),
        ])
    );
    // Several frames in one buffer.
    assert_eq!(
        decode_all_ways(b":1\r\n:2\r\n*1\r\n:3\r\n"),
        Ok(vec![int(1), int(2), Frame::Array(vec![int(3)])])
    );
    // Incomplete input yields nothing.
    for partial in [
        &b"$3\r\nab"[..],
        b"*2\r\n:1\r\n",
        b"+OK\r",
        b"%1\r\n+k\r\n",
        b"|1\r\n+a\r\n",
    ] {
        assert_eq!(decode_all_ways(partial), Ok(vec![]), "{partial:?}");
    }
}

#[test]
fn decoder_errors() {
    let bad = |input: &[u8]| match decode_all_ways(input) {
        Err(e) => e,
        Ok(frames) => panic!("{input:?} gave {frames:?}"),
    };
    assert_eq!(bad(b"?x\r\n"), DecodeError::UnknownType(b'?'));
    // Found at once, without waiting for the end of the line.
    assert_eq!(bad(b"*1\r\n\x01"), DecodeError::UnknownType(1));
    // The text is hiredis', which redis-cli prints after "Error: ".
    for (byte, text) in [
        (b'?', r#""?""#),
        (b'|', r#""|""#),
        (1, r#""\x01""#),
        (b'"', r#""\"""#),
        (b'\\', r#""\\""#),
        (b'\r', r#""\r""#),
    ] {
        assert_eq!(
            DecodeError::UnknownType(byte).to_string(),
            format!("Protocol error, got {text} as reply type byte")
        );
    }
    bad(b"+OK\n");
    bad(b"\r\n");
    bad(b":abc\r\n");
    bad(b":\r\n");
    bad(b"$-2\r\n");
    bad(b"$01\r\n");
    bad(b"$3\r\nabcde");
    bad(b"*-2\r\n");
    bad(b"%-1\r\n");
    bad(b"#x\r\n");
    bad(b"_x\r\n");
    bad(b",\r\n");
    bad(b",abc\r\n");
    bad(b"(12a\r\n");
    bad(b"=3\r\ntxt\r\n");
    bad(b"=5\r\ntxtxy\r\n");
    bad(b"$?\r\n");
    bad(b"*?\r\n");
    // A huge length header is refused before anything is allocated.
    assert_eq!(bad(b"$600000000\r\n"), DecodeError::TooLarge(600_000_000));
    assert_eq!(
        bad(b"*3000000000\r\n"),
        DecodeError::TooLarge(3_000_000_000)
    );
    // Nesting is bounded.
    let mut deep = b"*1\r\n".repeat(129);
    deep.extend_from_slice(b":1\r\n");
    assert_eq!(bad(&deep), DecodeError::TooDeep(128));
    let mut ok = b"*1\r\n".repeat(128);
    ok.extend_from_slice(b":1\r\n");
    assert!(decode(&mut BytesMut::from(&ok[..])).is_ok_and(|f| f.is_some()));
    // Limits are configurable.
    let limits = DecodeLimits {
        max_bulk_len: 2,
        ..DecodeLimits::default()
    };
    assert_eq!(
        decode_with(&mut BytesMut::from(&b"$3\r\nabc\r\n"[..]), &limits),
        Err(DecodeError::TooLarge(3))
    );
}

#[test]
fn decode_of_encode_round_trips() {
    let frames = vec![
        Frame::ok(),
        Frame::error("ERR no"),
        int(0),
        int(i64::MAX),
        int(i64::MIN),
        b("bin\0\r\n"),
        Frame::Null,
        Frame::Double(0.1),
        Frame::Double(-1.5e-300),
        Frame::Double(f64::INFINITY),
        Frame::Double(1.7976931348623157e308),
        Frame::Boolean(true),
        Frame::BigNumber(Bytes::from_static(b"123456789012345678901234567890")),
        Frame::Verbatim {
            format: *b"mkd",
            text: Bytes::from_static(b"# x\r\ny"),
        },
        Frame::Array(vec![b("a"), Frame::Array(vec![]), Frame::Null]),
        Frame::Map(vec![
            (b("k"), Frame::Map(vec![])),
            (int(1), Frame::Double(2.0)),
        ]),
        Frame::Set(vec![b("m"), int(2)]),
        Frame::Push(vec![b("message"), b("ch"), b("payload")]),
        Frame::Array(vec![
            Frame::Attribute(vec![(b("a"), int(1))]),
            b("x"),
            Frame::Set(vec![Frame::Attribute(vec![]), Frame::Boolean(false)]),
        ]),
    ];
    for f in &frames {
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            let mut buf = f.to_bytes(proto);
            let want = f.clone().downgrade(proto);
            let got = decode(&mut buf);
            assert_eq!(got, Ok(Some(want)), "{proto:?} {f:?}");
            assert!(buf.is_empty());
        }
    }
    // RESP3 has one null, so NullArray comes back as Null.
    assert_eq!(
        decode(&mut Frame::NullArray.to_bytes(Protocol::Resp3)),
        Ok(Some(Frame::Null))
    );
    assert_eq!(
        decode(&mut Frame::NullArray.to_bytes(Protocol::Resp2)),
        Ok(Some(Frame::NullArray))
    );
    // A top-level attribute round-trips as two frames.
    let attr = Frame::Attribute(vec![(b("k"), int(1))]);
    let mut buf = attr.to_bytes(Protocol::Resp3);
    b("v").encode(Protocol::Resp3, &mut buf);
    assert_eq!(decode(&mut buf), Ok(Some(attr)));
    assert_eq!(decode(&mut buf), Ok(Some(b("v"))));
}

#[test]
fn codec_encodes_frames_and_requests() {
    use tokio_util::codec::Encoder;
    let mut codec = FrameCodec::new(Protocol::Resp3);
    let mut out = BytesMut::new();
    let r: Result<(), std::io::Error> = codec.encode(Frame::Boolean(true), &mut out);
    assert!(r.is_ok());
    codec.set_protocol(Protocol::Resp2);
    assert_eq!(codec.protocol(), Protocol::Resp2);
    let r: Result<(), std::io::Error> = codec.encode(&Frame::Boolean(true), &mut out);
    assert!(r.is_ok());
    let args = ["GET", "k"];
    let r: Result<(), std::io::Error> = codec.encode(&args[..], &mut out);
    assert!(r.is_ok());
    assert_eq!(&out[..], b"#t\r\n:1\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

#[test]
fn codec_decodes_a_large_reply_in_chunks() {
    use tokio_util::codec::Decoder;
    let frame = Frame::Array((0..50_000).map(int).collect());
    let data = frame.to_bytes(Protocol::Resp2);
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    let mut got = None;
    for chunk in data.chunks(512) {
        buf.extend_from_slice(chunk);
        if let Some(f) = codec.decode(&mut buf).ok().flatten() {
            got = Some(f);
        }
    }
    assert_eq!(got, Some(frame));
}

/// The whole-request fast path and the incremental path agree on random
/// streams: valid requests with up to 20 arguments (binary payloads with
/// CR, LF and NUL inside), empty and negative counts, inline lines, and the
/// same streams with one byte changed (malformed headers, NULs in headers,
/// wrong markers), under default, small and unauthenticated limits.
/// Fed whole, the fast path takes every complete request it can; byte by
/// byte and in random chunks, the incremental path does.
#[test]
fn fast_path_agrees_with_incremental_parsing() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let alphabet: &[u8] = b"ab\r\n\0$*-0123456789 \"'";
    for round in 0..3000 {
        let mut input = Vec::new();
        for _ in 0..rng.gen_range(1..5) {
            match rng.gen_range(0..10) {
                0 => input.extend_from_slice(b"*0\r\n"),
                1 => input.extend_from_slice(b"*-1\r\n"),
                2 => input.extend_from_slice(b"PING a \"b c\"\r\n"),
                _ => {
                    let n = rng.gen_range(1..=20);
                    input.extend_from_slice(format!("*{n}\r\n").as_bytes());
                    for _ in 0..n {
                        let len = rng.gen_range(0..12);
                        let arg: Vec<u8> = (0..len)
                            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                            .collect();
                        input.extend_from_slice(format!("${len}\r\n").as_bytes());
                        input.extend_from_slice(&arg);
                        input.extend_from_slice(b"\r\n");
                    }
                }
            }
        }
        if round % 2 == 1 && !input.is_empty() {
            let i = rng.gen_range(0..input.len());
            input[i] = alphabet[rng.gen_range(0..alphabet.len())];
        }
        let make: fn() -> RequestParser = match round % 3 {
            0 => RequestParser::new,
            1 => || RequestParser::with_limits(Limits::new(5)),
            _ => || {
                let mut p = RequestParser::new();
                p.set_auth_required(true);
                p
            },
        };
        let whole = feed_with(&[&input], make());
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(feed_with(&bytes, make()), whole, "byte by byte: {input:?}");
        let mut chunks = Vec::new();
        let mut rest: &[u8] = &input;
        while !rest.is_empty() {
            let (a, b) = rest.split_at(rng.gen_range(1..=rest.len()));
            chunks.push(a);
            rest = b;
        }
        assert_eq!(feed_with(&chunks, make()), whole, "chunks: {input:?}");
    }
}

#[test]
fn held_bytes_count_the_partial_request() {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva"[..]);
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    // SET and k were taken (with their CRLFs); "va" waits in the buffer.
    assert_eq!(p.held_bytes(), 5 + 3);
    buf.extend_from_slice(b"lue\r\n");
    assert!(p.parse(&mut buf).unwrap().is_some());
    assert_eq!(p.held_bytes(), 0);
}
