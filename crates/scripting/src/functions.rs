//! Redis 7.0 functions: `FUNCTION LOAD` libraries and `FCALL`, as a
//! library the engine calls ([`FunctionEngine`]).
//!
//! # Libraries
//! A library is Lua code starting with a `#!<engine> name=<library>` line
//! ([`parse_metadata`], with 7.0.15's errors). The code runs once, at load
//! time, in the engine's own Lua state (separate from `EVAL`'s, as
//! upstream), with only a restricted `redis` table as global:
//! `register_function`, `log`, `LOG_*`, `REDIS_VERSION`,
//! `REDIS_VERSION_NUM`; any other global (and any other field of that
//! `redis`) is `Script attempted to access nonexistent global variable
//! '<name>'`, and writing globals or the table is `Attempt to modify a
//! readonly table`. A run longer than [`LOAD_TIMEOUT`] ends with `FUNCTION
//! LOAD timeout`. Errors of the run are `ERR Error registering functions:
//! <err>`, compile errors `ERR Error compiling function: <lua message>`, a
//! library registering nothing `ERR No functions registered`.
//!
//! `redis.register_function(name, callback)` or
//! `redis.register_function{function_name=, callback=, flags=, description=}`
//! registers a function; names follow the library name rule (letters,
//! digits, `_`) and must be unique across all libraries (compared without
//! case, as `FCALL` looks them up). Called after the load (a reference to
//! the load-time `redis` kept by a callback) it fails with
//! `redis.register_function can only be called on FUNCTION LOAD command`.
//!
//! # Calls
//! Library code (callbacks and the local functions they use) sees the
//! run-time globals when it is called: those of `EVAL` without `KEYS`,
//! `ARGV` and the error handler, and a `redis` table without
//! `replicate_commands`, `breakpoint` and `debug`. A callback gets the keys
//! and the arguments as its two table arguments; it reaches the server
//! through the same [`Host`] as `EVAL` (so [`Host::tick`] serves busy
//! scripts and `FUNCTION KILL`). Errors become `<err> script: <function>,
//! on @user_function:<line>.`. `math.random` draws from the same
//! generator as `EVAL` once the engine shares it
//! ([`FunctionEngine::set_rand_source`]).
//!
//! # What the engine must do
//! - Keep one [`FunctionEngine`] per server beside the [`Interpreter`]
//!   (created at start: RDB loading needs it) and give it the
//!   interpreter's generator: `engine.set_rand_source(interp.rand_source())`.
//! - `FUNCTION LOAD [REPLACE] code`: the last argument is the code, every
//!   one before it must be `REPLACE` (any case) or the reply is `ERR Unknown
//!   option given: <arg>` (so `FUNCTION LOAD REPLACE` loads the code
//!   `REPLACE`: `ERR Missing library metadata`); then [`FunctionEngine::load`]
//!   (bulk reply: the library name). Afterwards write
//!   [`FunctionEngine::take_load_log`] to the server log. The command is
//!   `write`, `denyoom`, `noscript`: `FUNCTION LOAD`, `DELETE`, `FLUSH`,
//!   `RESTORE` are propagated to replicas and the AOF as they are.
//! - `FUNCTION DELETE name` ([`FunctionEngine::delete`]), `FUNCTION FLUSH
//!   [ASYNC|SYNC]` ([`FunctionEngine::flush`]; another argument: `ERR
//!   FUNCTION FLUSH only supports SYNC|ASYNC option`).
//! - `FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern]` from
//!   [`FunctionEngine::libraries`]: one map per library, `library_name`,
//!   `engine`, `functions` (maps of `name`, `description` (bulk or null),
//!   `flags` (a set of status strings in the order documented on
//!   [`FunctionInfo::flags`])), then `library_code` with `WITHCODE`
//!   (RESP2: flat arrays). Errors: `ERR Unknown argument <arg>` (also for a
//!   repeated `WITHCODE`/`LIBRARYNAME`), `ERR library name argument was not
//!   given`.
//! - `FUNCTION DUMP`: one `RDB_OPCODE_FUNCTION2` (245) string per
//!   [`FunctionEngine::codes`] entry, RDB version (10) and CRC-64 as `DUMP`
//!   payloads; `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]` (default
//!   APPEND; other: `ERR Wrong restore policy given, value should be either
//!   FLUSH, APPEND or REPLACE.`; bad payload: `ERR DUMP payload version or
//!   checksum are wrong`) with [`FunctionEngine::restore`]; RDB loading and
//!   `DEBUG RELOAD` use the same (`Append` into an empty engine, `Flush`
//!   when replacing everything). AOF rewrite emits `FUNCTION LOAD` per code.
//! - `FUNCTION STATS`: `running_script` (null, or `name`, `command`,
//!   `duration_ms` of the running function) and `engines` → `LUA` →
//!   `libraries_count`, `functions_count` ([`FunctionEngine::counts`]);
//!   `INFO`'s `number_of_functions`, `number_of_libraries`,
//!   `used_memory_vm_functions` ([`FunctionEngine::used_memory`]),
//!   `used_memory_functions` ([`FunctionEngine::libraries_memory`]).
//! - `FCALL`/`FCALL_RO name numkeys key... arg...`: first
//!   [`FunctionEngine::find`] (`ERR Function not found`, before any
//!   check of numkeys), then numkeys as a strict integer (`-0`, `+1`, `01`
//!   refused: `ERR Bad number of keys provided`), `ERR Number of keys can't
//!   be negative`, `ERR Number of keys can't be greater than number of
//!   args`; then the flags as for a `#!lua` script (`FCALL_RO` of a
//!   function without `no-writes`: `ERR Can not execute a script with
//!   write flag using *_ro command.`; `no-writes`, `allow-oom`,
//!   `allow-stale`, `no-cluster`, `allow-cross-slot-keys` as for `EVAL`),
//!   then [`FunctionEngine::call_found`] with what `find` returned (or
//!   [`FunctionEngine::call`] by name) with a [`Host`]: the run is a busy
//!   function for `BUSY ... FUNCTION KILL`/`FUNCTION STATS`, its effects
//!   are replicated as `EVAL`'s.
//!
//! # Differences from the reference
//! - Two functions of one library whose names differ only in case are
//!   refused (`Function already exists in the library`); the reference
//!   crashes on an assertion.
//! - `FUNCTION RESTORE`/RDB loading also stop a library whose load runs
//!   past [`LOAD_TIMEOUT`] (the reference has no limit there and hangs).
//! - `redis.log` at load time cannot reach the server log directly: the
//!   lines are kept for the engine ([`FunctionEngine::take_load_log`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Function, Lua, Table, Value, Variadic};
use redis_common::log::LogLevel;
use redis_resp::{Frame, Protocol};

use crate::convert::{lua_to_frame, one_line, scalar_to_frame};
use crate::host::{CallContext, Host};
use crate::interp::{
    base_state, install_tick_hook, internal, script_error, with_host, ShaHash, PRELUDE,
};
use crate::rand48::RandSource;
use crate::raw::{run_protected, Lists, Ran, Scalar};
use crate::redislib::{raise_table, Shared};
use crate::shebang::ScriptFlags;
#[cfg(doc)]
use crate::Interpreter;

/// How long the load-time run of a library may take
/// (`FUNCTION LOAD timeout` after it).
pub const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// The one engine there is (`FUNCTION LIST`'s `engine`).
pub const ENGINE_NAME: &str = "LUA";

/// The name library code is compiled under (errors show `user_function`).
const CHUNK: &str = "@user_function";

const NAME_RULE: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One registered function, as `FUNCTION LIST` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The name as registered (`FCALL` finds it whatever the case).
    pub name: String,
    /// The library that registered it.
    pub library: String,
    /// `description` of the named-argument form, if given.
    pub description: Option<Bytes>,
    /// The `flags` of the named-argument form (`shebang` is always set).
    /// `FUNCTION LIST` shows them in this fixed order whatever the order
    /// given: `no-writes`, `allow-oom`, `allow-stale`, `no-cluster`,
    /// `allow-cross-slot-keys`.
    pub flags: ScriptFlags,
}

/// One library, as `FUNCTION LIST` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibraryInfo {
    pub name: String,
    /// Always [`ENGINE_NAME`].
    pub engine: &'static str,
    /// Sorted by name (the reference lists them in hash order, which
    /// changes from one run to the next).
    pub functions: Vec<FunctionInfo>,
    /// The code as loaded (`WITHCODE`, `FUNCTION DUMP`).
    pub code: Bytes,
}

/// How `FUNCTION RESTORE` (and RDB loading) merges libraries into the
/// existing ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Any library name that already exists is an error.
    Append,
    /// Libraries with the same name are replaced.
    Replace,
    /// Everything is replaced.
    Flush,
}

/// What a library's `#!` line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The engine as written (`lua` in any case is the only one).
    pub engine: Vec<u8>,
    /// The library name (already checked against the name rule).
    pub name: String,
    /// Where the code to compile starts: at the newline ending the `#!`
    /// line, so that line numbers count it.
    pub code_start: usize,
}

fn err_frame(text: impl AsRef<[u8]>) -> Frame {
    Frame::Error(one_line(text.as_ref()))
}

/// Whether `name` follows the rule for library and function names.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line into words the way `redis-cli` and the `#!` line parser
/// do: words separated by white space, `"..."` with backslash escapes
/// (`\n`, `\r`, `\t`, `\b`, `\a`, `\xHH`) and `'...'` (only `\'`), a
/// closing quote followed by something else than white space is an error,
/// as is an unterminated quote. `None` on error.
pub fn split_words(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    let at = |i: usize| line.get(i).copied();
    loop {
        while at(i).is_some_and(is_space) {
            i += 1;
        }
        if at(i).is_none() {
            return Some(words);
        }
        let mut word = Vec::new();
        let (mut dq, mut sq) = (false, false);
        loop {
            let c = at(i);
            if dq {
                match c {
                    None => return None,
                    Some(b'\\') => {
                        let hex = at(i + 2)
                            .and_then(hex_value)
                            .zip(at(i + 3).and_then(hex_value));
                        match (at(i + 1), hex) {
                            (Some(b'x'), Some((h, l))) => {
                                word.push(h * 16 + l);
                                i += 3;
                            }
                            (Some(n), _) => {
                                word.push(match n {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 0x08,
                                    b'a' => 0x07,
                                    other => other,
                                });
                                i += 1;
                            }
                            (None, _) => word.push(b'\\'),
                        }
                    }
                    Some(b'"') => {
                        if at(i + 1).is_some_and(|n| !is_space(n)) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => word.push(other),
                }
            } else if sq {
                match c {
                    None => return None,
                    Some(b'\\') if at(i + 1) == Some(b'\'') => {
                        word.push(b'\'');
                        i += 1;
                    }
                    Some(b'\'') => {
                        if at(i + 1).is_some_and(|n| !is_space(n)) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => word.push(other),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => dq = true,
                    Some(b'\'') => sq = true,
                    Some(other) => word.push(other),
                }
            }
            i += 1;
        }
        words.push(word);
    }
}

/// Parses a library's `#!` line. The error is the reply text.
pub fn parse_metadata(code: &[u8]) -> Result<Metadata, Vec<u8>> {
    if !code.starts_with(b"#!") {
        return Err(b"ERR Missing library metadata".to_vec());
    }
    // The line ends at the first newline; the reference reads it as a C
    // string, so a NUL before it means there is none.
    let end = code.iter().position(|&c| c == b'\n' || c == 0);
    let Some(nl) = end.filter(|&p| code.get(p) == Some(&b'\n')) else {
        return Err(b"ERR Invalid library metadata".to_vec());
    };
    let Some(words) = split_words(code.get(..nl).unwrap_or_default()) else {
        return Err(b"ERR Invalid library metadata".to_vec());
    };
    let mut words = words.into_iter();
    let first = words.next().unwrap_or_default();
    let engine = first.get(2..).unwrap_or_default().to_vec();
    let mut name: Option<Vec<u8>> = None;
    for word in words {
        let is_name = word
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"name="));
        if !is_name {
            let mut e = b"ERR Invalid metadata value given: ".to_vec();
            e.extend_from_slice(&word);
            return Err(e);
        }
        if name.is_some() {
            return Err(
                b"ERR Invalid metadata value, name argument was given multiple times".to_vec(),
            );
        }
        name = Some(word.get(5..).unwrap_or_default().to_vec());
    }
    let Some(name) = name else {
        return Err(b"ERR Library name was not given".to_vec());
    };
    if !valid_name(&name) {
        return Err(NAME_RULE.as_bytes().to_vec());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        let mut e = b"ERR Engine '".to_vec();
        e.extend_from_slice(&engine);
        e.extend_from_slice(b"' not found");
        return Err(e);
    }
    Ok(Metadata {
        engine,
        // Checked: ASCII letters, digits and '_' only.
        name: String::from_utf8_lossy(&name).into_owned(),
        code_start: nl,
    })
}

/// A registered function. Its callback lives in the Lua state, in the
/// store table under `id` (not as an mlua handle: those are limited to
/// about 8000); dropping the `Func` queues the slot for clearing
/// ([`FunctionEngine::sweep`]).
struct Func {
    info: FunctionInfo,
    id: i64,
    graveyard: Graveyard,
}

impl Drop for Func {
    fn drop(&mut self) {
        lock(&self.graveyard).push(self.id);
    }
}

/// Ids of dropped functions whose callbacks are still in the store.
type Graveyard = Arc<Mutex<Vec<i64>>>;

/// A loaded library.
struct Library {
    name: String,
    code: Bytes,
    /// In registration order.
    functions: Vec<Func>,
}

impl Library {
    fn info(&self) -> LibraryInfo {
        let mut functions: Vec<FunctionInfo> =
            self.functions.iter().map(|f| f.info.clone()).collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        LibraryInfo {
            name: self.name.clone(),
            engine: ENGINE_NAME,
            functions,
            code: self.code.clone(),
        }
    }

    /// Bookkeeping bytes as the reference counts them for
    /// `used_memory_functions` (measured: 72 per library with its name,
    /// 88 per function with its name, the allocations of the code and the
    /// descriptions, the function table's growth).
    fn memory(&self) -> usize {
        let funcs: usize = self
            .functions
            .iter()
            .map(|f| 88 + f.info.description.as_ref().map_or(0, |d| sds_size(d.len())))
            .sum();
        // Past 4 functions the table grows; the reference still holds the
        // old half while it rehashes.
        let buckets = self.functions.len().next_power_of_two().max(4);
        let table = if buckets > 4 {
            8 * (buckets - 4) + 4 * buckets
        } else {
            0
        };
        72 + sds_size(self.code.len()) + funcs + table
    }
}

/// What the allocator takes for an `sds` string of `len` bytes (header,
/// terminator, jemalloc size class).
fn sds_size(len: usize) -> usize {
    let header = match len {
        0..=31 => 1,
        32..=255 => 3,
        256..=65535 => 5,
        _ => 9,
    };
    size_class(len + header + 1)
}

/// jemalloc's size class for `n` bytes: 8, multiples of 16 up to 128, then
/// four classes per doubling.
fn size_class(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let k = usize::BITS - 1 - (n - 1).leading_zeros();
    let spacing = 1usize << (k - 2);
    n.div_ceil(spacing) * spacing
}

/// What `redis.register_function` works with.
#[derive(Default)]
struct Registrations {
    /// Functions of the library being loaded (`None` outside a load).
    funcs: Option<Vec<Func>>,
    /// The id the next callback gets in the store.
    next_id: i64,
}

type Pending = Arc<Mutex<Registrations>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// `lua_isstring` + `lua_tostring`: strings and numbers.
fn string_of(lua: &Lua, v: &Value) -> mlua::Result<Option<Vec<u8>>> {
    Ok(match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => {
            lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
        }
        _ => None,
    })
}

fn reg_error(text: &str) -> mlua::Error {
    raise_table(format!("ERR {text}"))
}

/// The arguments of one `redis.register_function` call.
struct Registration {
    name: Vec<u8>,
    callback: Function,
    description: Option<Vec<u8>>,
    flags: ScriptFlags,
}

fn parse_flags(t: &Table) -> mlua::Result<ScriptFlags> {
    let mut flags = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    for i in 1.. {
        let v: Value = t.raw_get(i)?;
        let name = match v {
            Value::Nil => break,
            Value::String(s) => s.as_bytes().to_vec(),
            _ => return Err(reg_error("unknown flag given")),
        };
        match name.as_slice() {
            b"no-writes" => flags.no_writes = true,
            b"allow-oom" => flags.allow_oom = true,
            b"allow-stale" => flags.allow_stale = true,
            b"no-cluster" => flags.no_cluster = true,
            b"allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
            _ => return Err(reg_error("unknown flag given")),
        }
    }
    Ok(flags)
}

fn parse_named(lua: &Lua, t: &Table) -> mlua::Result<Registration> {
    let mut name = None;
    let mut callback = None;
    let mut description = None;
    let mut flags = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let Some(key) = string_of(lua, &k)? else {
            return Err(reg_error(
                "named argument key given to redis.register_function is not a string",
            ));
        };
        match key.as_slice() {
            b"function_name" => match string_of(lua, &v)? {
                Some(s) => name = Some(s),
                None => {
                    return Err(reg_error(
                        "function_name argument given to redis.register_function must be a string",
                    ))
                }
            },
            b"description" => match string_of(lua, &v)? {
                Some(s) => description = Some(s),
                None => {
                    return Err(reg_error(
                        "description argument given to redis.register_function must be a string",
                    ))
                }
            },
            b"callback" => match v {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(reg_error(
                        "callback argument given to redis.register_function must be a function",
                    ))
                }
            },
            b"flags" => match v {
                Value::Table(ft) => flags = parse_flags(&ft)?,
                _ => return Err(reg_error(
                    "flags argument to redis.register_function must be a table representing function flags",
                )),
            },
            _ => {
                return Err(reg_error(
                    "unknown argument given to redis.register_function",
                ))
            }
        }
    }
    let Some(name) = name else {
        return Err(reg_error(
            "redis.register_function must get a function name argument",
        ));
    };
    let Some(callback) = callback else {
        return Err(reg_error(
            "redis.register_function must get a callback argument",
        ));
    };
    Ok(Registration {
        name,
        callback,
        description,
        flags,
    })
}

fn parse_registration(lua: &Lua, args: &[Value]) -> mlua::Result<Registration> {
    match args {
        [Value::Table(t)] => parse_named(lua, t),
        [_] => Err(reg_error(
            "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
        )),
        [name, callback] => {
            let Some(name) = string_of(lua, name)? else {
                return Err(reg_error(
                    "first argument to redis.register_function must be a string",
                ));
            };
            let Value::Function(callback) = callback else {
                return Err(reg_error(
                    "second argument to redis.register_function must be a function",
                ));
            };
            Ok(Registration {
                name,
                callback: callback.clone(),
                description: None,
                flags: ScriptFlags {
                    shebang: true,
                    ..ScriptFlags::default()
                },
            })
        }
        _ => Err(reg_error(
            "wrong number of arguments to redis.register_function",
        )),
    }
}

/// `redis.register_function`, bound to the engine's pending registrations;
/// callbacks go to the store table `B.store` (registry slot
/// [`STORE_KEY`]).
fn register_function(
    lua: &Lua,
    pending: &Pending,
    graveyard: &Graveyard,
) -> mlua::Result<Function> {
    let pending = Arc::clone(pending);
    let graveyard = Arc::clone(graveyard);
    lua.create_function(move |lua, args: Variadic<Value>| {
        let mut guard = lock(&pending);
        let regs = &mut *guard;
        let Some(funcs) = regs.funcs.as_mut() else {
            return Err(reg_error(
                "redis.register_function can only be called on FUNCTION LOAD command",
            ));
        };
        let reg = parse_registration(lua, &args)?;
        if !valid_name(&reg.name) {
            return Err(raise_table(NAME_RULE));
        }
        // Checked: ASCII letters, digits and '_' only.
        let name = String::from_utf8_lossy(&reg.name).into_owned();
        if funcs
            .iter()
            .any(|f| f.info.name.eq_ignore_ascii_case(&name))
        {
            return Err(reg_error("Function already exists in the library"));
        }
        let store: Table = lua.named_registry_value(STORE_KEY)?;
        regs.next_id += 1;
        let id = regs.next_id;
        store.raw_set(id, reg.callback)?;
        funcs.push(Func {
            info: FunctionInfo {
                name,
                library: String::new(),
                description: reg.description.map(Bytes::from),
                flags: reg.flags,
            },
            id,
            graveyard: Arc::clone(&graveyard),
        });
        Ok(())
    })
}

/// Registry slot of the store table (callbacks by id).
const STORE_KEY: &str = "redis_scripting_store";

/// The Lua state of the engine.
struct State {
    lua: Lua,
    /// The environment of library chunks (load-time or run-time globals).
    fenv: Table,
    /// `run(nil, f)`: runs a chunk under the error handler.
    run: Function,
    /// The prelude's error handler, which callbacks run under.
    handler: Function,
    /// `loading(on)`: switches `fenv` between the two sets of globals.
    loading: Function,
    /// The callbacks by id (also `B.store` and the registry's
    /// [`STORE_KEY`]).
    store: Table,
    /// The prelude's bridge table `B`.
    bridge: Table,
}

fn new_state(
    shared: &Arc<Shared>,
    pending: &Pending,
    graveyard: &Graveyard,
) -> mlua::Result<State> {
    let (lua, bridge, store) = base_state(shared, CHUNK)?;
    lua.set_named_registry_value(STORE_KEY, &store)?;
    let b = bridge.clone();
    bridge.raw_set("functions", true)?;
    bridge.raw_set(
        "register_function",
        register_function(&lua, pending, graveyard)?,
    )?;
    let (fenv, run, handler, loading): (Table, Function, Function, Function) =
        lua.load(PRELUDE).set_name("=redis_lib").call(bridge)?;
    install_tick_hook(&lua, shared);
    Ok(State {
        lua,
        fenv,
        run,
        handler,
        loading,
        store,
        bridge: b,
    })
}

/// Libraries by name plus the index of function names.
#[derive(Default)]
struct Libraries {
    map: BTreeMap<String, Library>,
    /// Lower-cased function name → library name and position in its
    /// `functions`.
    index: HashMap<Box<[u8]>, (String, usize), ShaHash>,
}

impl Libraries {
    /// The first function of `lib` (in registration order) whose name is
    /// taken by a library not in `ignore`.
    fn clash<'a>(&self, lib: &'a Library, ignore: &HashSet<String>) -> Option<&'a str> {
        lib.functions.iter().find_map(|f| {
            let (owner, _) = self
                .index
                .get(f.info.name.to_ascii_lowercase().as_bytes())?;
            (!ignore.contains(owner)).then_some(f.info.name.as_str())
        })
    }

    fn remove(&mut self, name: &str) -> Option<Library> {
        let lib = self.map.remove(name)?;
        for f in &lib.functions {
            self.index
                .remove(f.info.name.to_ascii_lowercase().as_bytes());
        }
        Some(lib)
    }

    fn insert(&mut self, lib: Library) {
        for (i, f) in lib.functions.iter().enumerate() {
            self.index.insert(
                f.info
                    .name
                    .to_ascii_lowercase()
                    .into_bytes()
                    .into_boxed_slice(),
                (lib.name.clone(), i),
            );
        }
        self.map.insert(lib.name.clone(), lib);
    }

    fn find(&self, name: &[u8]) -> Option<&Func> {
        // Registered names pass `valid_name` (ASCII): nothing else can
        // match. Short names are lower-cased without an allocation.
        if !valid_name(name) {
            return None;
        }
        let mut buf = [0u8; 64];
        let owned;
        let key: &[u8] = match buf.get_mut(..name.len()) {
            Some(dst) => {
                dst.copy_from_slice(name);
                dst.make_ascii_lowercase();
                dst
            }
            None => {
                owned = name.to_ascii_lowercase();
                &owned
            }
        };
        let (lib, i) = self.index.get(key)?;
        self.map.get(lib)?.functions.get(*i)
    }
}

/// A function found by [`FunctionEngine::find`]: what `FCALL` checks
/// (its flags) and what [`FunctionEngine::call_found`] runs, borrowed.
#[derive(Clone, Copy)]
pub struct FoundFunction<'a> {
    func: &'a Func,
}

impl std::fmt::Debug for FoundFunction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoundFunction")
            .field("info", &self.func.info)
            .finish()
    }
}

impl<'a> FoundFunction<'a> {
    /// The function as `FUNCTION LIST` shows it.
    pub fn info(&self) -> &'a FunctionInfo {
        &self.func.info
    }
}

/// The function engine of one server: libraries, their functions and the
/// Lua state they live in.
pub struct FunctionEngine {
    state: State,
    libs: Libraries,
    shared: Arc<Shared>,
    pending: Pending,
    graveyard: Graveyard,
    load_log: Vec<(LogLevel, String)>,
    load_timeout: Duration,
}

impl std::fmt::Debug for FunctionEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionEngine")
            .field("libraries", &self.libs.map.len())
            .field("functions", &self.libs.index.len())
            .finish()
    }
}

impl FunctionEngine {
    /// An engine without libraries, with a Lua state of its own.
    pub fn new() -> Result<FunctionEngine, Frame> {
        let shared = Arc::new(Shared::new());
        let pending: Pending = Arc::default();
        let graveyard: Graveyard = Arc::default();
        let state = new_state(&shared, &pending, &graveyard).map_err(internal)?;
        Ok(FunctionEngine {
            state,
            libs: Libraries::default(),
            shared,
            pending,
            graveyard,
            load_log: Vec::new(),
            load_timeout: LOAD_TIMEOUT,
        })
    }

    /// `FUNCTION LOAD [REPLACE] code`: the library's name, or the error
    /// reply (`ERR Library 'x' already exists`, `ERR Function f already
    /// exists`, metadata, compile and load errors). A failed load changes
    /// nothing.
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, Frame> {
        let result = self.load_library(code, replace);
        self.sweep();
        result
    }

    fn load_library(&mut self, code: &[u8], replace: bool) -> Result<String, Frame> {
        let meta = parse_metadata(code).map_err(err_frame)?;
        if !replace && self.libs.map.contains_key(&meta.name) {
            return Err(err_frame(format!(
                "ERR Library '{}' already exists",
                meta.name
            )));
        }
        let lib = self.build(code, &meta)?;
        let mut ignore = HashSet::new();
        ignore.insert(lib.name.clone());
        if let Some(f) = self.libs.clash(&lib, &ignore) {
            return Err(err_frame(format!("ERR Function {f} already exists")));
        }
        self.libs.remove(&lib.name);
        let name = lib.name.clone();
        self.libs.insert(lib);
        Ok(name)
    }

    /// Compiles and runs a library's code, collecting its functions.
    fn build(&mut self, code: &[u8], meta: &Metadata) -> Result<Library, Frame> {
        let st = &self.state;
        let body = code.get(meta.code_start..).unwrap_or_default();
        let chunk = st
            .lua
            .load(body)
            .set_name(CHUNK)
            .set_environment(st.fenv.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                err_frame(format!("ERR Error compiling function: {msg}"))
            })?;
        lock(&self.pending).funcs = Some(Vec::new());
        let mut host = LoadHost {
            deadline: Instant::now() + self.load_timeout,
            logs: Vec::new(),
        };
        let result = st.loading.call::<()>(true).and_then(|()| {
            with_host(&st.lua, &self.shared, &mut host, || {
                st.run.call::<(bool, Value)>((Value::Nil, chunk))
            })
        });
        let restored = st.loading.call::<()>(false);
        let funcs = lock(&self.pending).funcs.take().unwrap_or_default();
        self.load_log.extend(host.logs);
        restored.map_err(internal)?;
        match result.map_err(internal)? {
            (true, _) => {}
            (false, err) => return Err(load_error(&err)),
        }
        if funcs.is_empty() {
            return Err(err_frame("ERR No functions registered"));
        }
        let functions = funcs
            .into_iter()
            .map(|mut f| {
                f.info.library = meta.name.clone();
                f
            })
            .collect();
        Ok(Library {
            name: meta.name.clone(),
            code: Bytes::copy_from_slice(code),
            functions,
        })
    }

    /// `FUNCTION DELETE name` (`ERR Library not found`).
    pub fn delete(&mut self, library: &[u8]) -> Result<(), Frame> {
        let name = String::from_utf8_lossy(library);
        let removed = self.libs.remove(&name);
        let found = removed.is_some();
        drop(removed);
        self.sweep();
        match found {
            true => Ok(()),
            false => Err(err_frame("ERR Library not found")),
        }
    }

    /// `FUNCTION FLUSH`: every library goes.
    pub fn flush(&mut self) -> Result<(), Frame> {
        self.libs = Libraries::default();
        // A fresh store: the old one keeps the size it grew to.
        lock(&self.graveyard).clear();
        let st = &mut self.state;
        let store = st.lua.create_table().map_err(internal)?;
        st.bridge.raw_set("store", &store).map_err(internal)?;
        st.lua
            .set_named_registry_value(STORE_KEY, &store)
            .map_err(internal)?;
        st.store = store;
        st.lua.gc_collect().map_err(internal)?;
        Ok(())
    }

    /// Clears the store slots of the functions dropped since the last
    /// sweep (their libraries were replaced, deleted, flushed or failed to
    /// load), so their callbacks can be collected.
    fn sweep(&self) {
        let dead = std::mem::take(&mut *lock(&self.graveyard));
        for id in dead {
            // Only a memory error could fail; the slot then stays (a leak,
            // not a wrong answer: ids are never reused).
            let _ = self.state.store.raw_set(id, Value::Nil);
        }
    }

    /// The libraries for `FUNCTION LIST`, sorted by name (the reference's
    /// order is its hash tables', different in every run).
    pub fn libraries(&self) -> Vec<LibraryInfo> {
        self.libs.map.values().map(Library::info).collect()
    }

    /// The function `FCALL` would run (names are compared without case).
    pub fn function(&self, name: &[u8]) -> Option<FunctionInfo> {
        self.libs.find(name).map(|f| f.info.clone())
    }

    /// The flags of the function `FCALL` would run, without a copy of its
    /// description (the dispatcher's check of every `FCALL`).
    pub fn function_flags(&self, name: &[u8]) -> Option<ScriptFlags> {
        self.libs.find(name).map(|f| f.info.flags)
    }

    /// The function `FCALL` would run, for the engine to check its flags
    /// and then [`FunctionEngine::call_found`] it with one lookup.
    pub fn find(&self, name: &[u8]) -> Option<FoundFunction<'_>> {
        self.libs.find(name).map(|func| FoundFunction { func })
    }

    /// `FCALL`/`FCALL_RO` once the engine has checked the function's flags:
    /// runs it with `keys` and `args` as its two arguments. The reply, or
    /// the error reply (`ERR Function not found`, or the error that ended
    /// it: `<err> script: <name>, on @user_function:<line>.`).
    pub fn call(
        &mut self,
        host: &mut dyn Host,
        name: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Frame {
        match self.find(name) {
            Some(found) => self.call_found(host, found, keys, args),
            None => Frame::error("ERR Function not found"),
        }
    }

    /// Runs a function [`FunctionEngine::find`] found on this engine
    /// (`FCALL` without a second lookup): as [`FunctionEngine::call`].
    pub fn call_found(
        &self,
        host: &mut dyn Host,
        found: FoundFunction<'_>,
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Frame {
        let f = found.func;
        self.shared.set_resp(Protocol::Resp2);
        self.shared.set_repl(3);
        let st = &self.state;
        let result = with_host(&st.lua, &self.shared, host, || {
            run_protected(
                &st.lua,
                &st.handler,
                &st.store,
                f.id,
                Lists::Arguments,
                keys,
                args,
            )
        });
        let counted = match &result {
            Ok(Ran::Scalar(Scalar::Error { counted, .. })) => *counted,
            Ok(Ran::Value(_, v)) => crate::convert::error_counted(v),
            _ => false,
        };
        self.shared
            .error_counted
            .store(counted, std::sync::atomic::Ordering::Relaxed);
        match result {
            Ok(Ran::Scalar(value)) => scalar_to_frame(value, self.shared.resp()),
            Ok(Ran::Value(true, value)) => lua_to_frame(&value, self.shared.resp()),
            Ok(Ran::Value(false, err)) => script_error(&err, &f.info.name),
            Err(e) => internal(e),
        }
    }

    /// Whether the last call's error reply was counted in the server's
    /// error statistics already (by the command that failed in it).
    pub fn last_error_counted(&self) -> bool {
        self.shared
            .error_counted
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The libraries' code, sorted by library name (`FUNCTION DUMP`, RDB,
    /// AOF rewrite).
    pub fn codes(&self) -> Vec<Bytes> {
        self.libs.map.values().map(|l| l.code.clone()).collect()
    }

    /// `FUNCTION RESTORE` / RDB loading: loads all of `codes`, then merges
    /// them with `policy`; on any error nothing changes. Errors of one
    /// library are those of `FUNCTION LOAD` (two libraries of the payload
    /// with one name: `ERR Library 'x' already exists`); merging: `ERR
    /// Library x already exists` (append), `ERR Function f already exists`.
    pub fn restore(&mut self, codes: &[Bytes], policy: RestorePolicy) -> Result<(), Frame> {
        let result = self.restore_libraries(codes, policy);
        self.sweep();
        result
    }

    fn restore_libraries(&mut self, codes: &[Bytes], policy: RestorePolicy) -> Result<(), Frame> {
        let mut incoming = Libraries::default();
        let mut order = Vec::with_capacity(codes.len());
        let none = HashSet::new();
        for code in codes {
            let meta = parse_metadata(code).map_err(err_frame)?;
            if incoming.map.contains_key(&meta.name) {
                return Err(err_frame(format!(
                    "ERR Library '{}' already exists",
                    meta.name
                )));
            }
            let lib = self.build(code, &meta)?;
            if let Some(f) = incoming.clash(&lib, &none) {
                return Err(err_frame(format!("ERR Function {f} already exists")));
            }
            order.push(lib.name.clone());
            incoming.insert(lib);
        }
        if policy == RestorePolicy::Flush {
            self.libs = incoming;
            return Ok(());
        }
        let mut replaced = HashSet::new();
        for name in &order {
            if self.libs.map.contains_key(name) {
                if policy == RestorePolicy::Append {
                    return Err(err_frame(format!("ERR Library {name} already exists")));
                }
                replaced.insert(name.clone());
            }
        }
        for name in &order {
            if let Some(lib) = incoming.map.get(name) {
                if let Some(f) = self.libs.clash(lib, &replaced) {
                    return Err(err_frame(format!("ERR Function {f} already exists")));
                }
            }
        }
        for name in &replaced {
            self.libs.remove(name);
        }
        for name in &order {
            if let Some(lib) = incoming.remove(name) {
                self.libs.insert(lib);
            }
        }
        Ok(())
    }

    /// `(functions, libraries)` (`FUNCTION STATS`, `INFO`).
    pub fn counts(&self) -> (usize, usize) {
        (self.libs.index.len(), self.libs.map.len())
    }

    /// Memory of the engine's Lua state (`used_memory_vm_functions`).
    pub fn used_memory(&self) -> usize {
        self.state.lua.used_memory()
    }

    /// Approximate bookkeeping bytes of the libraries
    /// (`used_memory_functions`).
    pub fn libraries_memory(&self) -> usize {
        200 + self.libs.map.values().map(Library::memory).sum::<usize>()
    }

    /// The lines `redis.log` wrote while libraries loaded (load time has no
    /// [`Host`]); the engine should write them to the server log.
    pub fn take_load_log(&mut self) -> Vec<(LogLevel, String)> {
        std::mem::take(&mut self.load_log)
    }

    /// The handle of the `math.random` generator (see
    /// [`FunctionEngine::set_rand_source`]).
    pub fn rand_source(&self) -> RandSource {
        self.shared.rand_source()
    }

    /// Draws `math.random` from `src` from now on: give it the
    /// interpreter's ([`crate::Interpreter::rand_source`]) so that `EVAL`
    /// and `FCALL` share one sequence, as upstream.
    pub fn set_rand_source(&mut self, src: RandSource) {
        self.shared.set_rand_source(src);
    }

    /// Changes the load-time limit ([`LOAD_TIMEOUT`] by default).
    pub fn set_load_timeout(&mut self, timeout: Duration) {
        self.load_timeout = timeout;
    }
}

/// The host while a library loads: `redis.log` lines are kept, the tick
/// ends the run after the deadline. The rest of the `redis` library is out
/// of reach of load-time code.
struct LoadHost {
    deadline: Instant,
    logs: Vec<(LogLevel, String)>,
}

impl Host for LoadHost {
    fn call(&mut self, _: Vec<Bytes>, _: &CallContext) -> Frame {
        Frame::error("ERR redis library called outside of a script")
    }

    fn acl_check_cmd(&mut self, _: &[Bytes]) -> Option<bool> {
        None
    }

    fn log(&mut self, level: LogLevel, msg: &str) {
        self.logs.push((level, msg.to_string()));
    }

    fn tick(&mut self) -> Option<Vec<u8>> {
        (Instant::now() >= self.deadline).then(|| b"ERR FUNCTION LOAD timeout".to_vec())
    }
}

/// `ERR Error registering functions: <err>` for the error that ended a
/// library's load.
fn load_error(err: &Value) -> Frame {
    let msg = match err {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.as_bytes().to_vec(),
            _ => b"ERR unknown error".to_vec(),
        },
        _ => b"ERR unknown error".to_vec(),
    };
    let mut line = b"ERR Error registering functions: ".to_vec();
    line.extend_from_slice(&msg);
    err_frame(line)
}

#[cfg(test)]
#[path = "functions_tests.rs"]
mod tests;
