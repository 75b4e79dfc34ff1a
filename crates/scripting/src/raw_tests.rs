//! Tests of the host slot, of C-like functions with many arguments, and
//! of the Lua API paths: `redis.call`, `KEYS`/`ARGV` reuse, results read
//! from the stack.

use bytes::Bytes;
use mlua::{Lua, Value};
use redis_common::log::LogLevel;
use redis_resp::Frame;

use super::{c_like, Args, HostSlot, PACK_OVER};
use crate::host::{CallContext, Host};

#[derive(Default)]
struct Counter {
    calls: usize,
}

impl Host for Counter {
    fn call(&mut self, _: Vec<Bytes>, _: &CallContext) -> Frame {
        self.calls += 1;
        Frame::Integer(self.calls as i64)
    }

    fn acl_check_cmd(&mut self, _: &[Bytes]) -> Option<bool> {
        None
    }

    fn log(&mut self, _: LogLevel, _: &str) {}
}

#[test]
fn host_slot_lends_for_the_run_only() {
    let slot = HostSlot::default();
    assert!(slot.with(|_| ()).is_none());
    let mut host = Counter::default();
    let seen = slot.lend(&mut host, || {
        let ctx = CallContext {
            resp: redis_resp::Protocol::Resp2,
            repl: crate::host::ReplFlags::ALL,
            pcall: false,
        };
        let a = slot.with(|h| h.call(Vec::new(), &ctx));
        // Borrowed: a nested borrow finds the slot empty.
        let nested = slot.with(|_| slot.with(|_| ()).is_none());
        let b = slot.with(|h| h.call(Vec::new(), &ctx));
        (a, nested, b)
    });
    assert_eq!(
        seen,
        (Some(Frame::Integer(1)), Some(true), Some(Frame::Integer(2)))
    );
    assert!(slot.with(|_| ()).is_none());
    assert_eq!(host.calls, 2);
}

#[test]
fn host_slot_is_cleared_after_a_panic() {
    let slot = HostSlot::default();
    let mut host = Counter::default();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        slot.lend(&mut host, || {
            let _ = slot.with(|_| panic!("boom"));
        })
    }));
    assert!(r.is_err());
    assert!(slot.with(|_| ()).is_none());
}

/// `f(...)` answering how it was called: `"list"` or `"packed"`, the count
/// and the sum of the numeric arguments (`nil` counts as 0).
fn counter(lua: &Lua) -> mlua::Function {
    c_like(lua, |_, args: Args| {
        let how = match &args {
            Args::List(_) => "list",
            Args::Packed(..) => "packed",
        };
        let mut sum = 0i64;
        for i in 0..args.len() {
            if let Value::Integer(n) = args.get(i)? {
                sum += n;
            }
        }
        // Past the end: nil.
        assert!(args.get(args.len()).unwrap().is_nil());
        Ok((how, args.len(), sum))
    })
    .unwrap()
}

#[test]
fn c_like_packs_many_arguments() {
    let lua = Lua::new();
    lua.globals().set("f", counter(&lua)).unwrap();
    let run = |n: usize| -> (String, usize, i64) {
        lua.load(format!(
            "local a = {{}} for i = 1, {n} do a[i] = i end return f(unpack(a))"
        ))
        .eval()
        .unwrap()
    };
    let small = PACK_OVER as usize;
    assert_eq!(run(0), ("list".into(), 0, 0));
    assert_eq!(
        run(small),
        ("list".into(), small, (small * (small + 1) / 2) as i64)
    );
    assert_eq!(
        run(small + 1),
        (
            "packed".into(),
            small + 1,
            ((small + 1) * (small + 2) / 2) as i64
        )
    );
    assert_eq!(run(7999), ("packed".into(), 7999, 7999 * 8000 / 2));
    // Trailing nils are arguments too.
    let (how, n, sum): (String, usize, i64) = lua
        .load("return f(1, 2, unpack({}, 1, 100))")
        .eval()
        .unwrap();
    assert_eq!((how.as_str(), n, sum), ("packed", 102, 3));
}

#[test]
fn c_like_errors_keep_the_caller_frame() {
    let lua = Lua::new();
    let fail = c_like(&lua, |_, args: Args| -> mlua::Result<()> {
        Err(mlua::Error::runtime(format!("failed with {}", args.len())))
    })
    .unwrap();
    lua.globals().set("fail", fail).unwrap();
    lua.globals().set("counter", counter(&lua)).unwrap();
    for n in [1, 500] {
        // A tail call keeps the calling frame: the traceback shows the
        // chunk's line.
        let err = lua
            .load(format!(
                "local a = {{}} for i = 1, {n} do a[i] = i end\nreturn fail(unpack(a))"
            ))
            .set_name("=chunk")
            .exec()
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("failed with {n}")), "{err}");
        assert!(err.contains("chunk:2:"), "{err}");
    }
    // pcall sees the error, and the stack is usable afterwards.
    let (ok, n): (bool, usize) = lua
        .load(
            "local a = {} for i = 1, 600 do a[i] = i end
             local ok = pcall(fail, unpack(a))
             local _, m = counter(unpack(a))
             return ok, m",
        )
        .eval()
        .unwrap();
    assert_eq!((ok, n), (false, 600));
}

/// A host answering `echo`-like commands: `nest <n>` gives arrays nested
/// `n` deep, `args` the argument count, anything else its first argument
/// as a bulk string; it records every command line.
#[derive(Default)]
struct Echo {
    seen: Vec<Vec<Bytes>>,
}

impl Host for Echo {
    fn call(&mut self, argv: Vec<Bytes>, _: &CallContext) -> Frame {
        let reply = match argv.first().map(|a| a.as_ref()) {
            Some(b"nest") => {
                let n: usize = std::str::from_utf8(&argv[1]).unwrap().parse().unwrap();
                let mut f = Frame::Integer(1);
                for _ in 0..n {
                    f = Frame::Array(vec![f]);
                }
                f
            }
            Some(b"args") => Frame::Integer(argv.len() as i64),
            Some(b"fail") => Frame::error("ERR failed"),
            _ => Frame::Bulk(argv.get(1).cloned().unwrap_or_default()),
        };
        self.seen.push(argv);
        reply
    }

    fn acl_check_cmd(&mut self, _: &[Bytes]) -> Option<bool> {
        None
    }

    fn log(&mut self, _: LogLevel, _: &str) {}
}

fn b(s: &str) -> Bytes {
    Bytes::from(s.to_string())
}

fn run(
    it: &mut crate::Interpreter,
    h: &mut Echo,
    body: &str,
    keys: &[&str],
    args: &[&str],
) -> Frame {
    let keys: Vec<Bytes> = keys.iter().map(|k| b(k)).collect();
    let args: Vec<Bytes> = args.iter().map(|k| b(k)).collect();
    it.eval(h, body.as_bytes(), &keys, &args)
}

#[test]
fn keys_and_argv_are_fresh_in_every_run() {
    let mut it = crate::Interpreter::new().unwrap();
    let mut h = Echo::default();
    let show = "local t = {} for k, v in pairs(KEYS) do t[#t+1] = 'K' .. tostring(k) .. '=' .. tostring(v) end \
                for k, v in pairs(ARGV) do t[#t+1] = 'A' .. tostring(k) .. '=' .. tostring(v) end \
                t[#t+1] = tostring(getmetatable(KEYS)) .. tostring(getmetatable(ARGV)) return t";
    let strings = |items: &[&str]| Frame::Array(items.iter().map(|s| Frame::Bulk(b(s))).collect());
    assert_eq!(
        run(&mut it, &mut h, show, &["a", "b", "c"], &["x"]),
        strings(&["K1=a", "K2=b", "K3=c", "A1=x", "nilnil"])
    );
    assert_eq!(
        run(&mut it, &mut h, show, &["d"], &[]),
        strings(&["K1=d", "nilnil"])
    );
    // Whatever a script does to the tables is gone in the next run.
    let spoil = "KEYS.extra = 1 KEYS[5] = 'e' ARGV[1] = nil ARGV[3] = 'z' \
                 setmetatable(ARGV, {__index = function() return 'meta' end}) return 1";
    assert_eq!(
        run(&mut it, &mut h, spoil, &["a", "b"], &["x", "y"]),
        Frame::Integer(1)
    );
    assert_eq!(
        run(&mut it, &mut h, show, &["p"], &["q", "r"]),
        strings(&["K1=p", "A1=q", "A2=r", "nilnil"])
    );
    // An error table that is KEYS itself (the handler writes into it).
    let r = run(&mut it, &mut h, "error(KEYS)", &["k"], &[]);
    assert!(matches!(r, Frame::Error(_)), "{r:?}");
    assert_eq!(run(&mut it, &mut h, show, &[], &[]), strings(&["nilnil"]));
    // Long lists are not kept.
    let many: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
    let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        run(&mut it, &mut h, "return #KEYS", &many, &[]),
        Frame::Integer(200)
    );
    assert_eq!(
        run(&mut it, &mut h, show, &["one"], &[]),
        strings(&["K1=one", "nilnil"])
    );
}

#[test]
fn redis_call_reads_the_stack_directly() {
    let mut it = crate::Interpreter::new().unwrap();
    let mut h = Echo::default();
    // Any number of arguments (the reference takes 7999 from unpack).
    assert_eq!(
        run(
            &mut it,
            &mut h,
            "local t = {} for i = 1, 7999 do t[i] = 'v' end return redis.call('args', unpack(t))",
            &[],
            &[]
        ),
        Frame::Integer(8000)
    );
    // Numbers as %.17g, also tiny and negative zero ones.
    assert_eq!(
        run(
            &mut it,
            &mut h,
            "return redis.call('echo', 1e-310)",
            &[],
            &[]
        ),
        Frame::Bulk(b("9.9999999999999694e-311"))
    );
    assert_eq!(
        run(&mut it, &mut h, "return redis.call('echo', -0.0)", &[], &[]),
        Frame::Bulk(b("-0"))
    );
    assert_eq!(
        run(&mut it, &mut h, "return redis.call('echo', 3)", &[], &[]),
        Frame::Bulk(b("3"))
    );
    // Embedded zeros and empty strings pass as they are.
    assert_eq!(
        run(
            &mut it,
            &mut h,
            "return redis.call('echo', 'a\\0b')",
            &[],
            &[]
        ),
        Frame::Bulk(b("a\0b"))
    );
    assert_eq!(
        run(&mut it, &mut h, "return redis.call('echo', '')", &[], &[]),
        Frame::Bulk(Bytes::new())
    );
    assert_eq!(
        h.seen.last().map(|a| a.len()),
        Some(2),
        "the empty argument is passed"
    );
    // Errors: raised by call, handed back by pcall, with the flag.
    assert_eq!(
        run(
            &mut it,
            &mut h,
            "local r = redis.pcall('fail') return {r.err, tostring(r.ignore_error_stats_update)}",
            &[],
            &[]
        ),
        Frame::Array(vec![Frame::Bulk(b("ERR failed")), Frame::Bulk(b("true"))])
    );
    assert_eq!(
        run(&mut it, &mut h, "return redis.pcall('fail')", &[], &[]),
        Frame::error("ERR failed")
    );
    assert!(it.last_error_counted());
    assert_eq!(
        run(&mut it, &mut h, "return redis.pcall(true)", &[], &[]),
        Frame::error("ERR Lua redis lib command arguments must be strings or integers")
    );
    assert!(!it.last_error_counted());
    let body = "redis.call('fail')";
    let sha = redis_common::sha1::sha1_hex(body.as_bytes());
    assert_eq!(
        run(&mut it, &mut h, body, &[], &[]),
        Frame::Error(b(&format!("ERR failed script: {sha}, on @user_script:1.")))
    );
    assert!(it.last_error_counted());
    // Nesting the stack cannot hold is an error, not a crash.
    assert_eq!(
        run(&mut it, &mut h, "return redis.call('nest', '3')", &[], &[]),
        Frame::Array(vec![Frame::Array(vec![Frame::Array(vec![
            Frame::Integer(1)
        ])])])
    );
    let r = run(
        &mut it,
        &mut h,
        "return redis.pcall('nest', '5000')",
        &[],
        &[],
    );
    assert!(
        matches!(&r, Frame::Error(e) if e.starts_with(b"ERR reached lua stack limit")),
        "{r:?}"
    );
}

#[test]
fn common_results_are_read_from_the_stack() {
    let mut it = crate::Interpreter::new().unwrap();
    let mut h = Echo::default();
    let mut ev = |body: &str| run(&mut it, &mut h, body, &[], &[]);
    assert_eq!(ev("return {ok='a\\r\\nb'}"), Frame::simple("a  b"));
    assert_eq!(ev("return {err='bad\\nthing'}"), Frame::error("bad thing"));
    assert_eq!(ev("return {err=1, ok='fine'}"), Frame::simple("fine"));
    assert_eq!(ev("return 3.9"), Frame::Integer(3));
    assert_eq!(ev("return -3.9"), Frame::Integer(-3));
    assert_eq!(ev("return 0/0"), Frame::Integer(i64::MIN));
    assert_eq!(ev("return 2^63"), Frame::Integer(i64::MIN));
    assert_eq!(ev("return true"), Frame::Integer(1));
    assert_eq!(ev("return false"), Frame::Null);
    assert_eq!(ev("return type"), Frame::Null);
    assert_eq!(ev("return coroutine.create(function() end)"), Frame::Null);
    assert_eq!(ev("redis.setresp(3) return true"), Frame::Boolean(true));
    assert_eq!(ev("redis.setresp(3) return false"), Frame::Boolean(false));
    assert_eq!(
        ev("return {1, 'a'}"),
        Frame::Array(vec![Frame::Integer(1), Frame::Bulk(b("a"))])
    );
}
