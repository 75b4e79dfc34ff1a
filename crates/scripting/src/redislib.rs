//! The C-like half of the `redis` library and of `math.random`: functions
//! implemented in Rust so that, as upstream's C functions, they keep the
//! calling script's frame on the stack (a Lua wrapper would be tail-called
//! away by `return redis.call(...)` and lose the error's line).
//!
//! Errors they raise are [`Raise`] values; the Lua side turns them back
//! into what upstream raises (an `{err=...}` table or a message string)
//! with `decode`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use mlua::{Function, Lua, Table, Value, Variadic};
use redis_common::sha1::sha1_hex;
use redis_resp::Protocol;

use crate::host::ReplFlags;
use crate::rand48::{Rand48, RandSource};

/// Name of the registry slot holding the per-run host function.
pub(crate) const HOST_KEY: &str = "redis_scripting_host";

/// An error raised by a library function.
#[derive(Debug, Clone)]
pub(crate) enum Raise {
    /// Raised as `{err=<text>}` (errors of `redis.call` and friends).
    Table(Vec<u8>),
    /// Raised as a string.
    Message(String),
}

impl std::fmt::Display for Raise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Raise::Table(t) => write!(f, "{}", String::from_utf8_lossy(t)),
            Raise::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Raise {}

pub(crate) fn raise_table(text: impl Into<Vec<u8>>) -> mlua::Error {
    mlua::Error::external(Raise::Table(text.into()))
}

pub(crate) fn raise(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::external(Raise::Message(msg.into()))
}

/// `luaL_where(L, 1)`: `user_script:<line>: ` when the caller is Lua code.
fn where_prefix(lua: &Lua) -> String {
    if let Some(frame) = lua.inspect_stack(1) {
        let line = frame.curr_line();
        if line > 0 {
            if let Some(src) = frame.source().short_src {
                return format!("{src}:{line}: ");
            }
        }
    }
    String::new()
}

/// An error with the caller's position, as `luaL_error` writes it.
pub(crate) fn raise_here(lua: &Lua, msg: &str) -> mlua::Error {
    raise(format!("{}{msg}", where_prefix(lua)))
}

/// `luaL_argerror`: `bad argument #<i> to '<name>' (<msg>)`, with the
/// name the caller used for the running function (`?` when unknown).
pub(crate) fn arg_error(lua: &Lua, i: usize, msg: &str) -> mlua::Error {
    let name = lua
        .inspect_stack(0)
        .and_then(|f| f.names().name.map(|n| n.into_owned()))
        .unwrap_or_else(|| "?".to_string());
    raise_here(lua, &format!("bad argument #{i} to '{name}' ({msg})"))
}

/// Finds the [`Raise`] behind an error value, through mlua's wrappers.
fn find_raise(e: &mlua::Error) -> Option<&Raise> {
    match e {
        mlua::Error::CallbackError { cause, .. } => find_raise(cause),
        mlua::Error::WithContext { cause, .. } => find_raise(cause),
        other => other.downcast_ref::<Raise>(),
    }
}

/// `B.decode(e)`: what upstream would have raised in place of `e`.
fn decode(lua: &Lua, v: Value) -> mlua::Result<Value> {
    let Value::Error(e) = v else {
        return Ok(v);
    };
    Ok(match find_raise(&e) {
        Some(Raise::Table(text)) => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(text)?)?;
            Value::Table(t)
        }
        Some(Raise::Message(m)) => Value::String(lua.create_string(m)?),
        None => Value::String(lua.create_string(e.to_string())?),
    })
}

/// `(int)lua_tonumber(v)`.
fn to_int(lua: &Lua, v: Option<&Value>) -> mlua::Result<i64> {
    let Some(v) = v else {
        return Ok(0);
    };
    Ok(lua
        .coerce_number(v.clone())?
        .map_or(0, |n| n.trunc() as i32 as i64))
}

/// `luaL_checkint(L, i)` for the function `fname`.
fn check_int(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<i64> {
    let got = match args.get(i - 1) {
        None => "no value",
        Some(v) => match lua.coerce_number(v.clone())? {
            Some(n) => return Ok(n.trunc() as i32 as i64),
            None => v.type_name(),
        },
    };
    Err(arg_error(lua, i, &format!("number expected, got {got}")))
}

/// State the library functions share with the interpreter (atomics, so
/// the interpreter stays `Send`).
#[derive(Debug)]
pub(crate) struct Shared {
    rand: Mutex<RandSource>,
    resp: AtomicU8,
    repl: AtomicU8,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            rand: Mutex::new(RandSource::new()),
            resp: AtomicU8::new(2),
            repl: AtomicU8::new(3),
        }
    }

    fn source(&self) -> MutexGuard<'_, RandSource> {
        match self.rand.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn rand(&self) -> Rand48 {
        self.source().get()
    }

    pub fn set_rand(&self, g: Rand48) {
        self.source().set(g);
    }

    /// The generator's handle (to share it with another Lua state).
    pub fn rand_source(&self) -> RandSource {
        self.source().clone()
    }

    /// Draws from `src` from now on.
    pub fn set_rand_source(&self, src: RandSource) {
        *self.source() = src;
    }

    pub fn resp(&self) -> Protocol {
        if self.resp.load(Ordering::Relaxed) == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }

    pub fn set_resp(&self, p: Protocol) {
        let v = match p {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        };
        self.resp.store(v, Ordering::Relaxed);
    }

    pub fn repl(&self) -> ReplFlags {
        ReplFlags::from_bits(self.repl.load(Ordering::Relaxed))
    }

    pub fn set_repl(&self, bits: u8) {
        self.repl.store(bits & 3, Ordering::Relaxed);
    }
}

fn host_fn(lua: &Lua) -> mlua::Result<Function> {
    match lua.named_registry_value::<Value>(HOST_KEY)? {
        Value::Function(f) => Ok(f),
        _ => Err(raise_table("ERR redis library called outside of a script")),
    }
}

/// Builds the bridge table `B` the prelude installs. `chunk` is the name
/// user code is compiled under (`@user_script`, `@user_function`): errors
/// are located in the innermost frame of such code.
pub(crate) fn bridge(lua: &Lua, shared: &Arc<Shared>, chunk: &'static str) -> mlua::Result<Table> {
    let b = lua.create_table()?;
    b.raw_set("decode", lua.create_function(decode)?)?;
    b.raw_set("bit", crate::bitlib::create(lua)?)?;
    b.raw_set("struct", crate::structlib::create(lua)?)?;
    b.raw_set("cjson", crate::cjson::create(lua)?)?;
    b.raw_set("cmsgpack", crate::cmsgpack::create(lua)?)?;
    crate::baselib::install(lua, &b)?;
    for (name, op) in [("call", "call"), ("pcall", "pcall"), ("acl", "acl")] {
        b.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                let (ok, v): (bool, Value) = host_fn(lua)?.call((op, args))?;
                if ok {
                    return Ok(v);
                }
                match v {
                    Value::String(s) => Err(raise_table(s.as_bytes().to_vec())),
                    _ => Err(raise_table("ERR unknown error")),
                }
            })?,
        )?;
    }
    b.raw_set(
        "log",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() < 2 {
                return Err(raise_table(
                    "ERR redis.log() requires two arguments or more.",
                ));
            }
            let level = match &args[0] {
                Value::Number(n) => n.trunc() as i32 as i64,
                Value::Integer(n) => *n,
                _ => {
                    return Err(raise_table(
                        "ERR First argument must be a number (log level).",
                    ))
                }
            };
            if !(0..=3).contains(&level) {
                return Err(raise_table("ERR Invalid debug level."));
            }
            let mut parts: Vec<Vec<u8>> = Vec::new();
            for v in args.iter().skip(1) {
                if matches!(v, Value::String(_) | Value::Number(_) | Value::Integer(_)) {
                    if let Some(s) = lua.coerce_string(v.clone())? {
                        parts.push(s.as_bytes().to_vec());
                    }
                }
            }
            let msg = lua.create_string(parts.join(&b' '))?;
            host_fn(lua)?.call::<()>(("log", level, msg))
        })?,
    )?;
    b.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise_table("ERR wrong number of arguments"));
            }
            let data = match &args[0] {
                v @ (Value::String(_) | Value::Number(_) | Value::Integer(_)) => lua
                    .coerce_string(v.clone())?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            Ok(sha1_hex(&data))
        })?,
    )?;
    let sh = Arc::clone(shared);
    b.raw_set(
        "setresp",
        lua.create_function(move |lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise_table("ERR redis.setresp() requires one argument."));
            }
            match to_int(lua, args.first())? {
                2 => sh.set_resp(Protocol::Resp2),
                3 => sh.set_resp(Protocol::Resp3),
                _ => return Err(raise_table("ERR RESP version must be 2 or 3.")),
            }
            Ok(())
        })?,
    )?;
    let sh = Arc::clone(shared);
    b.raw_set(
        "set_repl",
        lua.create_function(move |lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise_table("ERR redis.set_repl() requires two arguments."));
            }
            let flags = to_int(lua, args.first())?;
            if !(0..=3).contains(&flags) {
                return Err(raise_table(
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            sh.set_repl(flags as u8);
            Ok(())
        })?,
    )?;
    let sh = Arc::clone(shared);
    b.raw_set(
        "random",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let mut g = sh.rand();
            let r = g.next_float();
            sh.set_rand(g);
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = check_int(lua, &args, 1)?;
                    if u < 1 {
                        return Err(arg_error(lua, 1, "interval is empty"));
                    }
                    Ok((r * u as f64).floor() + 1.0)
                }
                2 => {
                    let l = check_int(lua, &args, 1)?;
                    let u = check_int(lua, &args, 2)?;
                    if l > u {
                        return Err(arg_error(lua, 2, "interval is empty"));
                    }
                    Ok((r * (u - l + 1) as f64).floor() + l as f64)
                }
                _ => Err(raise_here(lua, "wrong number of arguments")),
            }
        })?,
    )?;
    let sh = Arc::clone(shared);
    b.raw_set(
        "randomseed",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let seed = check_int(lua, &args, 1)?;
            sh.set_rand(Rand48::seeded(seed as i32));
            Ok(())
        })?,
    )?;
    b.raw_set(
        "where",
        lua.create_function(move |lua, ()| {
            for level in 0..256 {
                let Some(frame) = lua.inspect_stack(level) else {
                    break;
                };
                if frame.source().source.as_deref() == Some(chunk) {
                    return Ok((Some(chunk.to_string()), Some(frame.curr_line())));
                }
            }
            Ok((None, None))
        })?,
    )?;
    Ok(b)
}

/// Converts the arguments of `redis.call` and friends into a command line.
pub(crate) fn command_args(args: &[Value]) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Value::String(s) => argv.push(Bytes::from(s.as_bytes().to_vec())),
            Value::Number(n) => argv.push(Bytes::from(redis_resp::format_double(*n))),
            // mlua hands integral numbers over as integers (losing the sign
            // of -0, which upstream would send as "-0").
            Value::Integer(i) => argv.push(Bytes::from(redis_resp::format_double(*i as f64))),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(argv)
}
