//! Fuzz target: arbitrary bytes through the server-side `RequestParser` and
//! the client-side `decode`. Beyond "never panics", it checks the properties
//! the unit tests check on fixed vectors: feeding the input whole or in two
//! pieces (split at an offset taken from the input) gives the same result,
//! `Ok(None)` consumes nothing in the decoder, and every decoded frame
//! re-encodes (RESP3) to something that decodes to the same frame.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use redis_resp::{decode, Frame, Protocol, RequestParser};

/// Parses all requests; the outcome is the commands and the error, if any.
fn requests(chunks: &[&[u8]]) -> (Vec<Vec<Bytes>>, Option<String>) {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(args)) => out.push(args),
                Ok(None) => break,
                Err(e) => return (out, Some(e.0)),
            }
        }
    }
    (out, None)
}

/// Decodes all frames; Debug text so that NaN doubles compare equal.
fn frames(chunks: &[&[u8]]) -> String {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match decode(&mut buf) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) consumed input");
                    break;
                }
                Err(e) => return format!("{out:?} error {e:?}"),
            }
        }
    }
    for f in &out {
        check_round_trip(f);
    }
    format!("{out:?}")
}

fn check_round_trip(f: &Frame) {
    let mut enc = BytesMut::new();
    f.encode(Protocol::Resp3, &mut enc);
    let back = decode(&mut enc);
    if clean(f, true) {
        // RESP3 has a single null, so a top-level NullArray comes back as Null.
        let want = match f {
            Frame::NullArray => Frame::Null,
            other => other.clone(),
        };
        let back = back.map(|o| o.map(|g| format!("{g:?}")));
        assert_eq!(back, Ok(Some(format!("{want:?}"))), "round trip of {f:?}");
        assert!(enc.is_empty(), "round trip left bytes: {f:?}");
    }
}

/// Frames whose RESP3 encoding is lossless: no nested NullArray (it comes
/// back as Null) and no CR/LF in simple strings or errors (a `!` blob error
/// decodes as an Error that a simple `-` line cannot carry).
fn clean(f: &Frame, top: bool) -> bool {
    match f {
        Frame::NullArray => top,
        Frame::Simple(s) | Frame::Error(s) => !s.iter().any(|&c| c == b'\r' || c == b'\n'),
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => v.iter().all(|x| clean(x, false)),
        Frame::Map(p) | Frame::Attribute(p) => {
            p.iter().all(|(k, v)| clean(k, false) && clean(v, false))
        }
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b)) % (data.len() + 1);
    let (a, b) = data.split_at(split);

    let whole = requests(&[data]);
    assert_eq!(requests(&[a, b]), whole, "request split at {split}");

    let whole = frames(&[data]);
    assert_eq!(frames(&[a, b]), whole, "decode split at {split}");
});
