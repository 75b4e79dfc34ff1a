//! The C-like half of the `redis` library and of `math.random`: functions
//! implemented in Rust so that, as upstream's C functions, they keep the
//! calling script's frame on the stack (a Lua wrapper would be tail-called
//! away by `return redis.call(...)` and lose the error's line).
//!
//! Errors they raise are [`Raise`] values; the Lua side turns them back
//! into what upstream raises (an `{err=...}` table or a message string)
//! with `decode`.
//!
//! `redis.call`, `pcall`, `acl_check_cmd` and `log` reach the server through
//! the [`crate::Host`] the run lends to [`Shared::host`]. `redis.call` and
//! `redis.pcall` are C functions on the Lua API
//! ([`crate::raw::command_function`]: they raise `{err=...}` tables
//! themselves); the others and `sha1hex`, `setresp`, `set_repl` take any
//! number of arguments ([`c_like`]: 7999 of them, as `unpack` makes, are
//! fine).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use mlua::{Lua, Table, Value, Variadic};
use redis_common::log::LogLevel;
use redis_common::sha1::sha1_hex;
use redis_resp::Protocol;

use crate::host::ReplFlags;
use crate::rand48::{Rand48, RandSource};
use crate::raw::{c_like, command_function, Args, HostSlot};

/// What the library functions raise when no run lends them a host.
pub(crate) const OUTSIDE: &str = "ERR redis library called outside of a script";

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
    /// The host of the run in progress.
    pub host: HostSlot,
    /// Set when a tick killed the run (the kill hook is in place and the
    /// tick hook must come back when the run ends).
    pub killed: AtomicBool,
    /// Runs since the last garbage-collection step (see
    /// [`crate::interp::with_host`]).
    pub runs: AtomicU32,
    /// The last run's error reply came from a command it called and was
    /// counted then (see [`crate::convert::error_counted`]).
    pub error_counted: AtomicBool,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            rand: Mutex::new(RandSource::new()),
            resp: AtomicU8::new(2),
            repl: AtomicU8::new(3),
            host: HostSlot::default(),
            killed: AtomicBool::new(false),
            runs: AtomicU32::new(0),
            error_counted: AtomicBool::new(false),
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
    b.raw_set("call", command_function(lua, shared, false)?)?;
    b.raw_set("pcall", command_function(lua, shared, true)?)?;
    b.raw_set("debug", crate::ldb_raw::debug_function(lua, false)?)?;
    b.raw_set("breakpoint", crate::ldb_raw::debug_function(lua, true)?)?;
    let sh = Arc::clone(shared);
    b.raw_set(
        "acl",
        c_like(lua, move |_, args| {
            let argv = command_args(&args)?.map_err(raise_table)?;
            match sh.host.with(|h| h.acl_check_cmd(&argv)) {
                Some(Some(ok)) => Ok(ok),
                Some(None) => Err(raise_table(
                    "ERR Invalid command passed to redis.acl_check_cmd()",
                )),
                None => Err(raise_table(OUTSIDE)),
            }
        })?,
    )?;
    let sh = Arc::clone(shared);
    b.raw_set(
        "log",
        c_like(lua, move |lua, args| {
            if args.len() < 2 {
                return Err(raise_table(
                    "ERR redis.log() requires two arguments or more.",
                ));
            }
            let level = match args.get(0)? {
                Value::Number(n) => n.trunc() as i32 as i64,
                Value::Integer(n) => n,
                _ => {
                    return Err(raise_table(
                        "ERR First argument must be a number (log level).",
                    ))
                }
            };
            let level = match level {
                0 => LogLevel::Debug,
                1 => LogLevel::Verbose,
                2 => LogLevel::Notice,
                3 => LogLevel::Warning,
                _ => return Err(raise_table("ERR Invalid debug level.")),
            };
            let mut msg: Vec<u8> = Vec::new();
            let mut glued = false;
            for i in 1..args.len() {
                let v = args.get(i)?;
                let part = match &v {
                    Value::String(s) => Some(s.as_bytes().to_vec()),
                    Value::Number(_) | Value::Integer(_) => {
                        lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
                    }
                    _ => None,
                };
                if let Some(part) = part {
                    if glued {
                        msg.push(b' ');
                    }
                    msg.extend_from_slice(&part);
                    glued = true;
                }
            }
            let msg = String::from_utf8_lossy(&msg);
            sh.host
                .with(|h| h.log(level, &msg))
                .ok_or_else(|| raise_table(OUTSIDE))
        })?,
    )?;
    b.raw_set(
        "sha1hex",
        c_like(lua, |lua, args| {
            if args.len() != 1 {
                return Err(raise_table("ERR wrong number of arguments"));
            }
            let data = match &args.get(0)? {
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
        c_like(lua, move |lua, args| {
            if args.len() != 1 {
                return Err(raise_table("ERR redis.setresp() requires one argument."));
            }
            match to_int(lua, Some(&args.get(0)?))? {
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
        c_like(lua, move |lua, args| {
            if args.len() != 1 {
                return Err(raise_table("ERR redis.set_repl() requires two arguments."));
            }
            let flags = to_int(lua, Some(&args.get(0)?))?;
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

/// Converts the arguments of `redis.call` and friends into a command line
/// (the inner error is the text to raise).
pub(crate) fn command_args(args: &Args) -> mlua::Result<Result<Vec<Bytes>, &'static str>> {
    const NOT_STRING: &str = "ERR Lua redis lib command arguments must be strings or integers";
    if args.is_empty() {
        return Ok(Err(
            "ERR Please specify at least one argument for this redis lib call",
        ));
    }
    let mut argv = Vec::with_capacity(args.len());
    match args {
        Args::List(values) => {
            for v in values.iter() {
                match command_arg(v) {
                    Some(arg) => argv.push(arg),
                    None => return Ok(Err(NOT_STRING)),
                }
            }
        }
        Args::Packed(t, n) => {
            for i in 1..=*n {
                match command_arg(&t.raw_get(i)?) {
                    Some(arg) => argv.push(arg),
                    None => return Ok(Err(NOT_STRING)),
                }
            }
        }
    }
    Ok(Ok(argv))
}

/// One argument of a command line: strings, and numbers as upstream
/// formats them.
fn command_arg(v: &Value) -> Option<Bytes> {
    match v {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Number(n) => Some(Bytes::from(redis_resp::format_double(*n))),
        // mlua hands integral numbers over as integers (losing the sign of
        // -0, which upstream would send as "-0").
        Value::Integer(i) => Some(Bytes::from(redis_resp::format_double(*i as f64))),
        _ => None,
    }
}
