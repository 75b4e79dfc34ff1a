//! Tests of the host slot and of C-like functions with many arguments.

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
