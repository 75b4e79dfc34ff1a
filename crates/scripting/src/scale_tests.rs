//! Tests at sizes mlua's reference stack (about 8000 handles) and a C
//! frame's stack limit (8000 slots) would not survive: tens of thousands of
//! cached scripts and functions, `redis.call` with 7999 arguments (as
//! upstream's `Script check unpack with massive arguments`), replies of
//! 100,000 elements.

use bytes::Bytes;
use redis_common::log::LogLevel;
use redis_resp::{Frame, Protocol};

use crate::host::{CallContext, Host};
use crate::{FunctionEngine, Interpreter};

/// Commands sized by their arguments: `lpush k v...` answers the number of
/// values, `lrange n` an array of `n` bulks, `hgetall n` a map of `n`
/// fields (flattened for RESP2), `echo x` `x`; anything else is unknown.
#[derive(Default)]
struct Sized {
    argc: Vec<usize>,
    log: Vec<(LogLevel, String)>,
}

fn count(arg: &Bytes) -> usize {
    std::str::from_utf8(arg).unwrap().parse().unwrap()
}

impl Host for Sized {
    fn call(&mut self, argv: Vec<Bytes>, ctx: &CallContext) -> Frame {
        self.argc.push(argv.len());
        match argv[0].as_ref() {
            b"lpush" => Frame::Integer(argv.len() as i64 - 2),
            b"lrange" => Frame::Array(
                (0..count(&argv[1]))
                    .map(|i| Frame::bulk(format!("e{i}")))
                    .collect(),
            ),
            b"hgetall" => {
                let pairs = (0..count(&argv[1]))
                    .map(|i| (Frame::bulk(format!("f{i}")), Frame::bulk(format!("v{i}"))));
                match ctx.resp {
                    Protocol::Resp3 => Frame::Map(pairs.collect()),
                    Protocol::Resp2 => Frame::Array(pairs.flat_map(|(k, v)| [k, v]).collect()),
                }
            }
            b"echo" => Frame::Bulk(argv[1].clone()),
            _ => Frame::error("ERR Unknown Redis command called from script"),
        }
    }

    fn acl_check_cmd(&mut self, argv: &[Bytes]) -> Option<bool> {
        (argv[0].as_ref() == b"lpush").then_some(true)
    }

    fn log(&mut self, level: LogLevel, msg: &str) {
        self.log.push((level, msg.to_string()));
    }
}

fn eval(it: &mut Interpreter, h: &mut Sized, body: &str) -> Frame {
    it.eval(h, body.as_bytes(), &[], &[])
}

fn err_text(f: &Frame) -> String {
    match f {
        Frame::Error(e) => String::from_utf8_lossy(e).into_owned(),
        other => format!("not an error: {other:?}"),
    }
}

fn sha(body: &str) -> String {
    redis_common::sha1::sha1_hex(body.as_bytes())
}

#[test]
fn twenty_thousand_cached_scripts() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Sized::default();
    let mut shas = Vec::new();
    for i in 0..20_000 {
        shas.push(it.load(format!("return {i}").as_bytes()).unwrap());
    }
    assert_eq!(it.cached_scripts(), 20_000);
    for i in [0, 1, 7_999, 8_000, 12_345, 19_999] {
        assert_eq!(
            it.evalsha(&mut h, shas[i].as_bytes(), &[], &[]),
            Frame::Integer(i as i64)
        );
        assert!(it.exists(shas[i].to_ascii_uppercase().as_bytes()));
    }
    // Loading a cached body again keeps its entry.
    assert_eq!(it.load(b"return 5").unwrap(), shas[5]);
    assert_eq!(it.cached_scripts(), 20_000);
    // EVAL of new bodies on top, with KEYS and ARGV.
    for i in 0..2_000 {
        let keys = [Bytes::from(format!("k{i}"))];
        let args = [Bytes::from("a"), Bytes::from("b")];
        let body = format!("return {{KEYS[1], #ARGV, {i}}}");
        assert_eq!(
            it.eval(&mut h, body.as_bytes(), &keys, &args),
            Frame::Array(vec![
                Frame::bulk(format!("k{i}")),
                Frame::Integer(2),
                Frame::Integer(i)
            ])
        );
    }
    assert_eq!(it.cached_scripts(), 22_000);
    let before = it.used_memory();
    it.flush().unwrap();
    assert_eq!(it.cached_scripts(), 0);
    assert!(it.used_memory() < before / 10);
    assert!(!it.exists(shas[0].as_bytes()));
    // And again after the flush.
    for i in 0..10_000 {
        it.load(format!("return -{i}").as_bytes()).unwrap();
    }
    assert_eq!(
        it.evalsha(&mut h, sha("return -9999").as_bytes(), &[], &[]),
        Frame::Integer(-9999)
    );
    assert_eq!(
        it.evalsha(&mut h, shas[3].as_bytes(), &[], &[]),
        Frame::error("NOSCRIPT No matching script. Please use EVAL.")
    );
}

fn fcall(e: &mut FunctionEngine, h: &mut Sized, name: &str) -> Frame {
    e.call(h, name.as_bytes(), &[], &[])
}

/// A library `name` registering `f<first>`..`f<first+n-1>`, each returning
/// its number.
fn library(name: &str, first: usize, n: usize) -> String {
    let mut code = format!("#!lua name={name}\n");
    code.push_str(&format!(
        "for i = {first}, {} do redis.register_function('f' .. i, function() return i end) end",
        first + n - 1
    ));
    code
}

#[test]
fn thousands_of_functions() {
    let mut e = FunctionEngine::new().unwrap();
    let mut h = Sized::default();
    // 3,000 functions across 100 libraries.
    for l in 0..100 {
        e.load(library(&format!("lib{l}"), l * 30, 30).as_bytes(), false)
            .unwrap();
    }
    assert_eq!(e.counts(), (3_000, 100));
    for f in [0, 29, 30, 1_500, 2_999] {
        assert_eq!(
            fcall(&mut e, &mut h, &format!("F{f}")),
            Frame::Integer(f as i64)
        );
    }
    // One library with 4,000 more (bigger ones risk the 500 ms load
    // timeout when the test machine is busy).
    e.load(library("big", 3_000, 4_000).as_bytes(), false)
        .unwrap();
    assert_eq!(e.counts(), (7_000, 101));
    assert_eq!(fcall(&mut e, &mut h, "f6999"), Frame::Integer(6_999));
    // Replacing, failing and deleting libraries releases their callbacks.
    let used = e.used_memory();
    for _ in 0..10 {
        e.load(library("big", 3_000, 4_000).as_bytes(), true)
            .unwrap();
        let clash = e.load(library("other", 2_990, 20).as_bytes(), false);
        assert_eq!(
            clash,
            Err(Frame::error("ERR Function f2990 already exists"))
        );
    }
    // Without the release it would be about 7 times as much.
    assert!(
        e.used_memory() < used * 4,
        "callbacks of replaced libraries stay"
    );
    assert_eq!(fcall(&mut e, &mut h, "f3000"), Frame::Integer(3_000));
    e.delete(b"big").unwrap();
    assert_eq!(e.counts(), (3_000, 100));
    assert_eq!(
        fcall(&mut e, &mut h, "f3000"),
        Frame::error("ERR Function not found")
    );
    // Restore with FLUSH replaces everything.
    let codes = e.codes();
    e.restore(&codes, crate::RestorePolicy::Flush).unwrap();
    assert_eq!(e.counts(), (3_000, 100));
    assert_eq!(fcall(&mut e, &mut h, "f2999"), Frame::Integer(2_999));
    e.flush().unwrap();
    assert_eq!(e.counts(), (0, 0));
    assert!(e.used_memory() < used / 4, "{} {used}", e.used_memory());
    // Usable after the flush.
    e.load(library("again", 0, 10).as_bytes(), false).unwrap();
    assert_eq!(fcall(&mut e, &mut h, "f9"), Frame::Integer(9));
}

/// `local a = {} for i=1,<n> do a[i] = <item> end` then `<tail>`.
fn massive(n: usize, item: &str, tail: &str) -> String {
    format!("local a = {{}} for i=1,{n} do a[i] = {item} end {tail}")
}

#[test]
fn redis_call_with_massive_arguments() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Sized::default();
    // Upstream's test.
    let body = massive(7999, "1", "return redis.call(\"lpush\", \"l\", unpack(a))");
    assert_eq!(eval(&mut it, &mut h, &body), Frame::Integer(7999));
    assert_eq!(h.argc.last(), Some(&8001));
    // Strings, and every count around the packing threshold.
    for n in [1, 30, 31, 32, 33, 100, 7_997] {
        let body = massive(n, "'v' .. i", "return redis.pcall('lpush', 'l', unpack(a))");
        assert_eq!(eval(&mut it, &mut h, &body), Frame::Integer(n as i64));
    }
    let body = massive(7999, "'v' .. i", "return redis.call(unpack(a))");
    let reply = eval(&mut it, &mut h, &body);
    assert_eq!(
        err_text(&reply),
        format!(
            "ERR Unknown Redis command called from script script: {}, on @user_script:1.",
            sha(&body)
        )
    );
    // Argument errors, with the script's position.
    let body = massive(
        5000,
        "i",
        "a[4000] = {} return redis.call('lpush', 'l', unpack(a))",
    );
    assert_eq!(
        err_text(&eval(&mut it, &mut h, &body)),
        format!(
            "ERR Lua redis lib command arguments must be strings or integers script: {}, on @user_script:1.",
            sha(&body)
        )
    );
    let body = massive(
        5000,
        "i",
        "a[4000] = {} local r = redis.pcall('lpush', 'l', unpack(a)) return r",
    );
    assert_eq!(
        eval(&mut it, &mut h, &body),
        Frame::error("ERR Lua redis lib command arguments must be strings or integers")
    );
    // A trailing nil among many arguments is an argument too.
    let body = massive(
        100,
        "i",
        "return redis.pcall('lpush', 'l', unpack(a, 1, 101))",
    );
    assert_eq!(
        eval(&mut it, &mut h, &body),
        Frame::error("ERR Lua redis lib command arguments must be strings or integers")
    );
    // The other functions of the library.
    let body = massive(
        7999,
        "'x'",
        "redis.log(redis.LOG_WARNING, unpack(a)) return 1",
    );
    assert_eq!(eval(&mut it, &mut h, &body), Frame::Integer(1));
    let (level, msg) = h.log.last().unwrap();
    assert_eq!(*level, LogLevel::Warning);
    assert_eq!(msg.len(), 7999 * 2 - 1);
    let body = massive(7999, "'x'", "return redis.sha1hex(unpack(a))");
    assert_eq!(
        err_text(&eval(&mut it, &mut h, &body)),
        format!(
            "ERR wrong number of arguments script: {}, on @user_script:1.",
            sha(&body)
        )
    );
    let body = massive(
        7999,
        "'x'",
        "return redis.acl_check_cmd('lpush', unpack(a))",
    );
    assert_eq!(eval(&mut it, &mut h, &body), Frame::Integer(1));
    let body = massive(7999, "2", "return redis.setresp(unpack(a))");
    assert_eq!(
        err_text(&eval(&mut it, &mut h, &body)),
        format!(
            "ERR redis.setresp() requires one argument. script: {}, on @user_script:1.",
            sha(&body)
        )
    );
    let body = massive(7999, "3", "return redis.set_repl(unpack(a))");
    assert_eq!(
        err_text(&eval(&mut it, &mut h, &body)),
        format!(
            "ERR redis.set_repl() requires two arguments. script: {}, on @user_script:1.",
            sha(&body)
        )
    );
    // Small calls are unaffected afterwards.
    assert_eq!(
        eval(&mut it, &mut h, "return redis.call('echo', 'hi')"),
        Frame::bulk("hi")
    );
    assert_eq!(
        eval(&mut it, &mut h, "return redis.sha1hex('')"),
        Frame::bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
}

#[test]
fn massive_arguments_in_functions() {
    let mut e = FunctionEngine::new().unwrap();
    let mut h = Sized::default();
    let code = "#!lua name=m\nredis.register_function('m', function()\n\
        local a = {} for i=1,7999 do a[i] = 1 end\n\
        return redis.call('lpush', 'l', unpack(a))\nend)\n\
        redis.register_function('bad', function()\n\
        local a = {} for i=1,7999 do a[i] = 1 end\n\
        return redis.call('nope', unpack(a))\nend)";
    e.load(code.as_bytes(), false).unwrap();
    assert_eq!(fcall(&mut e, &mut h, "m"), Frame::Integer(7999));
    assert_eq!(
        err_text(&fcall(&mut e, &mut h, "bad")),
        "ERR Unknown Redis command called from script script: bad, on @user_function:8."
    );
}

#[test]
fn huge_replies_reach_the_script() {
    let mut it = Interpreter::new().unwrap();
    let mut h = Sized::default();
    assert_eq!(
        eval(
            &mut it,
            &mut h,
            "local r = redis.call('lrange', '100000') return {#r, r[1], r[100000]}"
        ),
        Frame::Array(vec![
            Frame::Integer(100_000),
            Frame::bulk("e0"),
            Frame::bulk("e99999")
        ])
    );
    // Returned as they are.
    match eval(&mut it, &mut h, "return redis.call('lrange', '100000')") {
        Frame::Array(items) => {
            assert_eq!(items.len(), 100_000);
            assert_eq!(items[99_999], Frame::bulk("e99999"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        eval(
            &mut it,
            &mut h,
            "local r = redis.call('hgetall', '50000') return {#r, r[99999], r[100000]}"
        ),
        Frame::Array(vec![
            Frame::Integer(100_000),
            Frame::bulk("f49999"),
            Frame::bulk("v49999")
        ])
    );
    assert_eq!(
        eval(
            &mut it,
            &mut h,
            "redis.setresp(3) local r = redis.call('hgetall', '50000') \
             local n = 0 for k, v in pairs(r.map) do n = n + 1 end return {n, r.map.f123}"
        ),
        Frame::Array(vec![Frame::Integer(50_000), Frame::bulk("v123")])
    );
    // Scripts returning many values: only the first is the reply.
    assert_eq!(
        eval(
            &mut it,
            &mut h,
            "local a = {} for i=1,7999 do a[i] = 'x' .. i end return unpack(a)"
        ),
        Frame::bulk("x1")
    );
}
