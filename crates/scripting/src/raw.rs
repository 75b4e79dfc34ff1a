//! The crate's unsafe code, with [`crate::ldb_raw`] (every item that needs it says so with
//! `#[allow(unsafe_code)]`, every block with a `SAFETY` comment):
//!
//! - [`HostSlot`]: where the library functions find the [`Host`] of the run
//!   in progress. A run lends its `&mut dyn Host` to the slot for its
//!   duration ([`HostSlot::lend`]); a library function borrows it back for
//!   one host operation ([`HostSlot::with`]). This replaces a scoped Lua
//!   function created for every run.
//! - [`command_function`]: `redis.call` and `redis.pcall` as C functions on
//!   the Lua API: arguments read from the stack, the reply pushed onto it
//!   (no mlua values, no intermediate tables), errors raised by the C
//!   function itself once the Rust part has returned.
//! - [`run_protected`]: one run of a script or function under the error
//!   handler, `KEYS`/`ARGV` filled in (and reused) with the Lua API.
//! - [`c_like`]: a C function in front of a Rust callback that takes any
//!   number of arguments. mlua's callbacks check the Lua stack before they
//!   touch it, which fails once the caller's frame holds about 8000 values
//!   (`redis.log(0, unpack(t))` with 7999 elements, which the reference
//!   accepts); past [`PACK_OVER`] arguments the C function packs them into
//!   a table and the callback gets `(table, n)` instead. It stays a C
//!   function, so a tail call (`return redis.sha1hex(...)`) keeps the
//!   script's frame on the stack for error positions.
//!
//! Lua 5.1 raises errors with `longjmp`, which must never cross a Rust
//! frame holding a value with a destructor: the functions here keep owned
//! values out of the frames that call into the Lua API, and raise errors
//! only from C-ABI frames that hold nothing.

use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{ffi, Function, Lua, MultiValue, Table, Value};
use redis_resp::{Frame, Protocol};

use crate::host::{CallContext, Host};
use crate::redislib::{Shared, OUTSIDE};

/// The `&mut dyn Host` a run lends to the library functions.
#[derive(Debug, Default)]
pub(crate) struct HostSlot {
    /// Null, or a `*mut &mut dyn Host` pointing into the frame of
    /// [`HostSlot::lend`], which is still running.
    ptr: AtomicPtr<()>,
}

/// Puts the slot back as it was when [`HostSlot::lend`] or
/// [`HostSlot::with`] started, also when the body panics.
struct Restore<'a> {
    slot: &'a AtomicPtr<()>,
    prev: *mut (),
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.slot.store(self.prev, Ordering::Release);
    }
}

impl HostSlot {
    /// Runs `body` with `host` reachable through [`HostSlot::with`].
    pub(crate) fn lend<R>(&self, host: &mut dyn Host, body: impl FnOnce() -> R) -> R {
        let mut host = host;
        let p = ptr::addr_of_mut!(host).cast::<()>();
        let prev = self.ptr.swap(p, Ordering::AcqRel);
        let _restore = Restore {
            slot: &self.ptr,
            prev,
        };
        body()
    }

    /// Runs `f` with the lent host, or answers `None` when no run is in
    /// progress (or the host is already borrowed by an outer `with`).
    #[allow(unsafe_code)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut dyn Host) -> R) -> Option<R> {
        // Taken out while `f` runs: a nested `with` sees an empty slot
        // instead of a second `&mut` to the same host.
        let p = self.ptr.swap(ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            return None;
        }
        let _restore = Restore {
            slot: &self.ptr,
            prev: p,
        };
        // SAFETY: a non-null pointer in the slot was stored by `lend` and
        // points at its local `host: &mut dyn Host`; `lend` is still
        // running (its guard nulls or restores the slot before that local
        // goes out of scope), so the pointee is alive and the borrow it
        // holds is valid. The slot was swapped to null above, so no other
        // `with` can produce a second reference while this one is in use;
        // `lend`'s own frame does not touch `host` while `body` runs.
        let host: &mut &mut dyn Host = unsafe { &mut *p.cast::<&mut dyn Host>() };
        Some(f(&mut **host))
    }
}

/// How many arguments a [`c_like`] function takes on the stack before they
/// are packed into a table (mlua's callbacks need stack room proportional
/// to the arguments; a packed call needs two slots).
pub(crate) const PACK_OVER: c_int = 32;

/// The arguments a [`c_like`] callback receives.
pub(crate) enum Args {
    /// As called.
    List(MultiValue),
    /// Packed by the C function: `t[1..=n]`.
    Packed(Table, usize),
}

impl Args {
    pub(crate) fn len(&self) -> usize {
        match self {
            Args::List(v) => v.len(),
            Args::Packed(_, n) => *n,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i` (0-based); `nil` past the end.
    pub(crate) fn get(&self, i: usize) -> mlua::Result<Value> {
        match self {
            Args::List(v) => Ok(v.get(i).cloned().unwrap_or(Value::Nil)),
            Args::Packed(_, n) if i >= *n => Ok(Value::Nil),
            Args::Packed(t, _) => t.raw_get(i + 1),
        }
    }
}

/// The C function in front of a `c_like` callback: upvalue 1 takes the
/// arguments as they are, upvalue 2 takes `(table, n)`.
///
/// It holds no Rust value with a destructor: Lua errors (a memory error of
/// `lua_createtable`, any error of the callbacks) unwind through it with
/// `longjmp`.
#[allow(unsafe_code)]
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    // SAFETY (whole function): `state` is the running thread, which Lua
    // hands to a C function with its arguments at 1..=n and at least
    // LUA_MINSTACK free slots above them; this function pushes at most two
    // values beyond its arguments (table and callback, or callback and
    // count after the arguments went into the table). The upvalues were set
    // by `c_like` and are functions. `lua_call` leaves the callback's
    // results on the stack, and all of them are returned.
    unsafe {
        let n = ffi::lua_gettop(state);
        if n <= PACK_OVER {
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
            ffi::lua_insert(state, 1);
            ffi::lua_call(state, n, ffi::LUA_MULTRET);
            return ffi::lua_gettop(state);
        }
        ffi::lua_createtable(state, n, 0);
        ffi::lua_insert(state, 1);
        // The arguments are now at 2..=n+1: pop them into t[n], ..., t[1].
        let mut i = n;
        while i >= 1 {
            ffi::lua_rawseti_(state, 1, i);
            i -= 1;
        }
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(2));
        ffi::lua_insert(state, 1);
        ffi::lua_pushinteger(state, ffi::lua_Integer::from(n));
        ffi::lua_call(state, 2, ffi::LUA_MULTRET);
        ffi::lua_gettop(state)
    }
}

/// A Lua function that calls `f` with its arguments, whatever their number
/// (see the module documentation). `f` sees the stack of a C function
/// called by the script: level 0 of `inspect_stack` is `f`, level 1 the C
/// function in front of it, the script's frame is further up.
#[allow(unsafe_code)]
pub(crate) fn c_like<F, R>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, Args) -> mlua::Result<R> + Clone + Send + 'static,
    R: mlua::IntoLuaMulti,
{
    let g = f.clone();
    let direct = lua.create_function(move |lua, args: MultiValue| f(lua, Args::List(args)))?;
    let packed =
        lua.create_function(move |lua, (t, n): (Table, usize)| g(lua, Args::Packed(t, n)))?;
    // SAFETY: the closure only calls `lua_pushcclosure`, which pops the two
    // functions `exec_raw` pushed (its arguments, on top of the stack) and
    // pushes the closure, the one value `exec_raw` hands back.
    unsafe {
        lua.exec_raw::<Function>((direct, packed), |state| {
            ffi::lua_pushcclosure(state, trampoline, 2);
        })
    }
}

/// `lua_pushlstring` of `bytes`.
///
/// # Safety
/// `state` must have a free stack slot. It may raise a Lua memory error
/// (see [`run_protected`] and [`command_function`] for why none happens):
/// the caller's frame must not hold values with destructors.
#[allow(unsafe_code)]
unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    let bytes: &[u8] = if bytes.is_empty() { b"" } else { bytes };
    // SAFETY: a free slot (the caller's guarantee); the pointer and length
    // describe `bytes`, which Lua copies.
    unsafe { ffi::lua_pushlstring_(state, bytes.as_ptr().cast(), bytes.len()) }
}

/// The string at `idx` (which must be a Lua string: no conversion, so no
/// allocation and no error), borrowed from the Lua state.
///
/// # Safety
/// `idx` must be a valid index holding a string; the slice must not be
/// used after the value leaves the stack.
#[allow(unsafe_code)]
unsafe fn string_at<'a>(state: *mut ffi::lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    // SAFETY: `idx` holds a string (the caller's guarantee), for which
    // `lua_tolstring` hands back its own buffer of `len` bytes, alive as
    // long as the value stays on the stack.
    unsafe {
        let p = ffi::lua_tolstring(state, idx, &mut len);
        if p.is_null() || len == 0 {
            return &[];
        }
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    }
}

/// Pushes a new array of the strings `items`.
///
/// # Safety
/// `state` must have two free stack slots. It may raise a Lua memory error
/// (`longjmp`): the caller's frame must not hold values with destructors.
#[allow(unsafe_code)]
unsafe fn push_strings(state: *mut ffi::lua_State, items: &[Bytes]) {
    // SAFETY (whole function): the caller guarantees the two slots used
    // (the table, one string at a time); lengths and indexes fit (checked
    // by `run_protected` before).
    unsafe {
        ffi::lua_createtable(state, items.len() as c_int, 0);
        fill_strings(state, items);
    }
}

/// `t[1..=n] = items` for the table on top of the stack.
///
/// # Safety
/// As [`push_strings`], with the table on top and one free slot.
#[allow(unsafe_code)]
unsafe fn fill_strings(state: *mut ffi::lua_State, items: &[Bytes]) {
    // SAFETY: one slot for a string at a time, popped by `lua_rawseti`;
    // the table stays at -2 while the string is pushed.
    unsafe {
        let mut i: c_int = 0;
        while let Some(item) = items.get(i as usize) {
            push_bytes(state, item);
            i += 1;
            ffi::lua_rawseti_(state, -2, i);
        }
    }
}

/// Longest `KEYS`/`ARGV` reused between runs: longer ones are made anew
/// (a table keeps its array part, which should not stay large).
const REUSE_MAX: usize = 64;

/// Sets the global `name` (`KEYS` or `ARGV`) of the globals table at
/// `genv` to an array of `items`. The table of the previous run is reused
/// when the script left it as it was made (no metatable, nothing but the
/// array that was filled in): it is cleared and filled again. Scripts run
/// by `EVAL` cannot keep a reference to it past their run (the globals and
/// library tables are read-only, chunks have no upvalues, `getfenv` and
/// `debug` are gone), and anything a script adds to it makes it be
/// replaced, so a run cannot tell a reused table from a new one.
///
/// # Safety
/// `genv` must be a positive index holding a table, and three stack slots
/// free. As [`push_strings`] for errors.
#[allow(unsafe_code)]
unsafe fn set_list(state: *mut ffi::lua_State, genv: c_int, name: &[u8], items: &[Bytes]) {
    // SAFETY (whole function): at most three slots are used beyond the
    // starting top (table, key or nil, value), and every path leaves the
    // stack as it found it. `lua_next` and `lua_objlen` run on a value
    // checked to be a table.
    unsafe {
        push_bytes(state, name);
        ffi::lua_rawget_(state, genv);
        if items.len() <= REUSE_MAX && ffi::lua_type(state, -1) == ffi::LUA_TTABLE {
            let clean = if ffi::lua_getmetatable(state, -1) != 0 {
                ffi::lua_pop(state, 1);
                false
            } else {
                let n = ffi::lua_objlen(state, -1);
                if n > REUSE_MAX {
                    false
                } else {
                    for i in 1..=n as c_int {
                        ffi::lua_pushnil(state);
                        ffi::lua_rawseti_(state, -2, i);
                    }
                    ffi::lua_pushnil(state);
                    if ffi::lua_next(state, -2) != 0 {
                        ffi::lua_pop(state, 2);
                        false
                    } else {
                        true
                    }
                }
            };
            if clean {
                fill_strings(state, items);
                ffi::lua_pop(state, 1);
                return;
            }
        }
        ffi::lua_pop(state, 1);
        push_bytes(state, name);
        push_strings(state, items);
        ffi::lua_rawset(state, genv);
    }
}

/// How [`run_protected`] hands `keys` and `args` over.
pub(crate) enum Lists<'a> {
    /// As the globals `KEYS` and `ARGV` of this table (`EVAL`).
    Globals(&'a Table),
    /// As the two arguments of the function (`FCALL`).
    Arguments,
}

/// Pushes `store[id]`, then calls it under `handler` (at stack index 1,
/// the prelude's error handler) as `xpcall` would, with `nargs` arguments
/// already pushed after it; leaves exactly `ok` and the first result (or
/// the handled error) on the stack at 1 and 2.
///
/// # Safety
/// The stack must hold the handler at 1, the function and its `nargs`
/// arguments on top, nothing else beyond index 3, and have a free slot.
#[allow(unsafe_code)]
unsafe fn call_and_collect(state: *mut ffi::lua_State, nargs: c_int) {
    // SAFETY: `lua_pcall` pops the function and its arguments and pushes
    // one value (result or error); the boolean takes the free slot; the two
    // `lua_replace` move them to 1 and 2 (both exist: the handler and the
    // store table are there), `lua_settop` drops the rest.
    unsafe {
        let status = ffi::lua_pcall(state, nargs, 1, 1);
        ffi::lua_pushboolean(state, c_int::from(status == 0));
        ffi::lua_replace(state, 1);
        ffi::lua_replace(state, 2);
        ffi::lua_settop(state, 2);
    }
}

/// What a run answered, when it is one of the common cases read straight
/// from the stack (no mlua value made).
#[derive(Debug, PartialEq)]
pub(crate) enum Scalar {
    Nil,
    Boolean(bool),
    Number(ffi::lua_Number),
    /// A string.
    Bulk(Bytes),
    /// A table whose `ok` field is a string (and `err` is not).
    Status(Bytes),
    /// A table whose `err` field is a string; `counted` when it carries
    /// `ignore_error_stats_update = true` (see
    /// [`crate::convert::error_counted`]).
    Error {
        text: Bytes,
        counted: bool,
    },
}

/// How a run ended.
pub(crate) enum Ran {
    /// Returned a value read without mlua.
    Scalar(Scalar),
    /// Returned (`true`) or failed with (`false`) this value.
    Value(bool, Value),
}

/// The string field `key` of the table at `idx`, copied.
///
/// # Safety
/// `idx` must be a positive index holding a table, with two free slots.
/// Pushing `key` may allocate (see [`run_protected`] on errors).
#[allow(unsafe_code)]
unsafe fn string_field(state: *mut ffi::lua_State, idx: c_int, key: &[u8]) -> Option<Bytes> {
    // SAFETY: the key and then the field take one slot, popped before
    // returning; `string_at` reads the field while it is on the stack.
    unsafe {
        push_bytes(state, key);
        ffi::lua_rawget_(state, idx);
        let text = (ffi::lua_type(state, -1) == ffi::LUA_TSTRING)
            .then(|| Bytes::copy_from_slice(string_at(state, -1)));
        ffi::lua_pop(state, 1);
        text
    }
}

/// The value at 2 as a [`Scalar`] when it is one: anything but a table,
/// or a table with an `err` or `ok` string.
///
/// # Safety
/// Index 2 must exist, with two free slots above the top.
#[allow(unsafe_code)]
unsafe fn scalar_at(state: *mut ffi::lua_State) -> Option<Scalar> {
    // SAFETY: reads of index 2 (type tests, `lua_tonumber`, `lua_toboolean`,
    // `string_at` of a string) and `string_field` on it when a table.
    unsafe {
        Some(match ffi::lua_type(state, 2) {
            ffi::LUA_TNUMBER => Scalar::Number(ffi::lua_tonumber(state, 2)),
            ffi::LUA_TSTRING => Scalar::Bulk(Bytes::copy_from_slice(string_at(state, 2))),
            ffi::LUA_TBOOLEAN => Scalar::Boolean(ffi::lua_toboolean(state, 2) != 0),
            ffi::LUA_TTABLE => {
                if let Some(text) = string_field(state, 2, b"err") {
                    push_bytes(state, b"ignore_error_stats_update");
                    ffi::lua_rawget_(state, 2);
                    let counted = ffi::lua_type(state, -1) == ffi::LUA_TBOOLEAN
                        && ffi::lua_toboolean(state, -1) != 0;
                    ffi::lua_pop(state, 1);
                    Scalar::Error { text, counted }
                } else {
                    Scalar::Status(string_field(state, 2, b"ok")?)
                }
            }
            // nil, and what a reply cannot hold (functions, threads,
            // userdata) become a null reply.
            _ => Scalar::Nil,
        })
    }
}

/// After [`call_and_collect`]: a successful run's value as a [`Scalar`]
/// in `out`, taken off the stack, when it is one.
///
/// # Safety
/// `ok` at 1 and the value at 2 must be the frame's only values, with two
/// free slots.
#[allow(unsafe_code)]
unsafe fn take_scalar(state: *mut ffi::lua_State, out: &mut Option<Scalar>) {
    // SAFETY: as the caller's; `scalar_at` leaves the stack as it was, and
    // the scalar is stored after the last Lua call that may allocate.
    unsafe {
        if ffi::lua_toboolean(state, 1) != 0 {
            if let Some(s) = scalar_at(state) {
                *out = Some(s);
                ffi::lua_settop(state, 0);
            }
        }
    }
}

/// Runs `store[id]` under `handler` (the prelude's error handler, as
/// `xpcall(f, handler)`), with the first value it returned or the handled
/// error. `Lists::Globals(g)` sets `g.KEYS` and `g.ARGV` and calls `f()`;
/// `Lists::Arguments` calls `f(keys, args)`. Done with the Lua API
/// directly, in the one protected call `exec_raw` makes: this is the
/// per-run cost of every script. A value that succeeded and is a string,
/// number, boolean, nil or status/error table comes back as a [`Scalar`].
///
/// Errors of the Lua API here can only be memory errors, and those only
/// under a memory limit, which this crate never sets (mlua's allocator
/// aborts on a real allocation failure rather than answer `NULL`); should
/// one happen, it unwinds to `exec_raw` through closures that hold
/// references only (the scalar is written out after the last call that
/// may allocate).
#[allow(unsafe_code)]
pub(crate) fn run_protected(
    lua: &Lua,
    handler: &Function,
    store: &Table,
    id: i64,
    lists: Lists<'_>,
    keys: &[Bytes],
    args: &[Bytes],
) -> mlua::Result<Ran> {
    let limit = c_int::MAX as usize;
    if keys.len() >= limit || args.len() >= limit {
        return Err(mlua::Error::runtime("too many arguments"));
    }
    let id = id as ffi::lua_Number;
    let mut scalar: Option<Scalar> = None;
    let out = &mut scalar;
    let (ok, value) = match lists {
        // SAFETY: `exec_raw` runs the closure as a C function (in protected
        // mode: Lua errors unwind to `exec_raw`) with its arguments,
        // `handler`, `store` and `g`, at 1, 2, 3 and at least LUA_MINSTACK
        // free slots; the closure holds only references and numbers
        // (nothing to drop if an error unwinds it), pushes the function
        // (one slot, `store` is a table), `set_list` uses three more and
        // leaves the stack as it was, and `call_and_collect` leaves exactly
        // the two results, which `take_scalar` may take.
        Lists::Globals(g) => unsafe {
            lua.exec_raw::<(Option<bool>, Value)>((handler, store, g), |state| {
                ffi::lua_pushnumber(state, id);
                ffi::lua_rawget_(state, 2);
                set_list(state, 3, b"KEYS", keys);
                set_list(state, 3, b"ARGV", args);
                call_and_collect(state, 0);
                take_scalar(state, out);
            })?
        },
        // SAFETY: as above, with `handler` and `store` at 1 and 2; the
        // function and the two arrays take three slots (`push_strings`
        // needs one more above its table).
        Lists::Arguments => unsafe {
            lua.exec_raw::<(Option<bool>, Value)>((handler, store), |state| {
                ffi::lua_pushnumber(state, id);
                ffi::lua_rawget_(state, 2);
                push_strings(state, keys);
                push_strings(state, args);
                call_and_collect(state, 2);
                take_scalar(state, out);
            })?
        },
    };
    Ok(match (scalar, ok) {
        (Some(s), _) => Ran::Scalar(s),
        (None, ok) => Ran::Value(ok.unwrap_or(false), value),
    })
}

/// `redis.call`'s and `redis.pcall`'s errors that are not a command's.
const NO_ARGS: &[u8] = b"ERR Please specify at least one argument for this redis lib call";
const NOT_STRING: &[u8] = b"ERR Lua redis lib command arguments must be strings or integers";
/// Nesting of a reply deeper than this is refused.
const MAX_DEPTH: usize = 1000;
const TOO_DEEP: &[u8] = b"ERR reached lua stack limit";

/// What `redis.call` got for the script.
enum Reply {
    /// The command's reply (an error reply included).
    Frame(Frame),
    /// An error of the library itself, handed over as `{err=text}`.
    Library(&'static [u8]),
    /// No run lends a host: raised as `{err=text}` even by `pcall`.
    Outside,
}

/// What the C function does once the Rust part is done: return the values
/// on top of the stack, or raise the one on top.
enum Outcome {
    Return(c_int),
    Raise,
}

/// `redis.call` (upvalue 2 false) or `redis.pcall` (true): a C function
/// reading its arguments from the stack and pushing the reply onto it. Upvalue 1
/// is the [`Shared`] state as a light userdata.
///
/// Lua errors are `longjmp`s, which must not cross a Rust frame holding a
/// value with a destructor: the Rust part ([`command_body`]) returns an
/// [`Outcome`] and this function, which holds nothing, raises the error
/// after it. Inside it, the only owned value alive while the Lua API may
/// allocate is the reply, kept in a `ManuallyDrop` (leaked rather than
/// dropped if a memory error ever unwound it).
#[allow(unsafe_code)]
unsafe extern "C-unwind" fn command_entry(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: the upvalues were set by `command_function`: upvalue 1 is a
    // pointer to the `Shared` that the state's app data keeps alive as long
    // as the state exists (an `Arc` in `SharedKeep`), upvalue 2 a boolean.
    // The frame holds only a reference and a boolean when `lua_error`
    // unwinds it.
    unsafe {
        let shared = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1))
            .cast::<Shared>()
            .cast_const();
        let pcall = ffi::lua_toboolean(state, ffi::lua_upvalueindex(2)) != 0;
        let Some(shared) = shared.as_ref() else {
            return 0;
        };
        match command_body(state, shared, pcall) {
            Outcome::Return(n) => n,
            Outcome::Raise => ffi::lua_error(state),
        }
    }
}

/// The Rust part of [`command_entry`].
///
/// # Safety
/// `state` is the thread running the C function, its arguments at
/// `1..=gettop` and LUA_MINSTACK free slots above them.
#[allow(unsafe_code)]
unsafe fn command_body(state: *mut ffi::lua_State, shared: &Shared, pcall: bool) -> Outcome {
    let resp = shared.resp();
    // SAFETY: as the caller's; `dispatch` only reads the stack.
    let reply = ManuallyDrop::new(unsafe { dispatch(state, shared, pcall, resp) });
    // SAFETY: the pushes get the free slots of the C function (and check
    // for more when nesting); `reply` is not dropped if they unwind.
    let outcome = unsafe { push_outcome(state, &reply, pcall, resp) };
    drop(ManuallyDrop::into_inner(reply));
    outcome
}

/// Reads the command line from the stack and runs it through the host.
///
/// # Safety
/// As [`command_body`]. No Lua function called here can raise an error
/// (type tests, `lua_tolstring` of strings, `lua_tonumber`), so the
/// vector it fills is never unwound.
#[allow(unsafe_code)]
unsafe fn dispatch(
    state: *mut ffi::lua_State,
    shared: &Shared,
    pcall: bool,
    resp: Protocol,
) -> Reply {
    // SAFETY: indexes 1..=n are the arguments.
    let n = unsafe { ffi::lua_gettop(state) };
    if n <= 0 {
        return Reply::Library(NO_ARGS);
    }
    let mut argv = Vec::with_capacity(n as usize);
    for i in 1..=n {
        // SAFETY: `i` is an argument's index; `string_at` is only used on
        // a string, and its slice is copied while the value is on the
        // stack.
        unsafe {
            match ffi::lua_type(state, i) {
                ffi::LUA_TSTRING => argv.push(Bytes::copy_from_slice(string_at(state, i))),
                // As upstream: `%.17g` of the number (not Lua's `%.14g`).
                ffi::LUA_TNUMBER => argv.push(Bytes::from(redis_resp::format_double(
                    ffi::lua_tonumber(state, i),
                ))),
                _ => return Reply::Library(NOT_STRING),
            }
        }
    }
    let ctx = CallContext {
        resp,
        repl: shared.repl(),
        pcall,
    };
    // A debugging session that is stepping logs the command and reply.
    let logged = crate::ldb::with(|l| {
        if l.step {
            l.log_command(&argv);
        }
        l.step
    }) == Some(true);
    match shared.host.with(|h| h.call(argv, &ctx)) {
        Some(frame) => {
            if logged {
                crate::ldb::with(|l| l.log_reply(&frame, resp));
            }
            Reply::Frame(frame)
        }
        None => Reply::Outside,
    }
}

/// Pushes what `redis.call`/`redis.pcall` hands back or raises.
///
/// # Safety
/// As [`command_body`]; may raise memory errors (see there).
#[allow(unsafe_code)]
unsafe fn push_outcome(
    state: *mut ffi::lua_State,
    reply: &Reply,
    pcall: bool,
    resp: Protocol,
) -> Outcome {
    let handed = |pcall: bool| {
        if pcall {
            Outcome::Return(1)
        } else {
            Outcome::Raise
        }
    };
    // SAFETY: each push uses at most five of the free slots, and
    // `push_frame` checks the stack before it nests.
    unsafe {
        match reply {
            Reply::Outside => {
                push_err(state, OUTSIDE.as_bytes(), false);
                Outcome::Raise
            }
            Reply::Library(text) => {
                push_err(state, text, false);
                handed(pcall)
            }
            // A command's error reply: the server counted it already, so
            // the table says so in case the script returns it.
            Reply::Frame(Frame::Error(e)) => {
                push_err(state, e, true);
                handed(pcall)
            }
            Reply::Frame(frame) => {
                if push_frame(state, frame, resp, 0) {
                    Outcome::Return(1)
                } else {
                    push_err(state, TOO_DEEP, false);
                    Outcome::Raise
                }
            }
        }
    }
}

/// Pushes `{err=text}`, with `ignore_error_stats_update=true` when
/// `counted`.
///
/// # Safety
/// Three free slots; memory errors as [`push_bytes`].
#[allow(unsafe_code)]
unsafe fn push_err(state: *mut ffi::lua_State, text: &[u8], counted: bool) {
    // SAFETY: table, key and value at most.
    unsafe {
        ffi::lua_createtable(state, 0, if counted { 2 } else { 1 });
        push_bytes(state, b"err");
        push_bytes(state, text);
        ffi::lua_rawset(state, -3);
        if counted {
            push_bytes(state, b"ignore_error_stats_update");
            ffi::lua_pushboolean(state, 1);
            ffi::lua_rawset(state, -3);
        }
    }
}

/// Pushes `{key=text}`.
///
/// # Safety
/// Three free slots; memory errors as [`push_bytes`].
#[allow(unsafe_code)]
unsafe fn push_wrapped(state: *mut ffi::lua_State, key: &[u8], text: &[u8]) {
    // SAFETY: table, key and value.
    unsafe {
        ffi::lua_createtable(state, 0, 1);
        push_bytes(state, key);
        push_bytes(state, text);
        ffi::lua_rawset(state, -3);
    }
}

/// Pushes a command's reply as `redis.call` hands it to a script speaking
/// `resp` (see [`crate::convert`]); for a RESP2 script the frame is read
/// as `Frame::downgrade` would make it (without building the downgraded
/// frame). Answers `false`, with some values left on the stack, when the
/// reply nests deeper than the stack allows.
///
/// # Safety
/// Five free slots; memory errors as [`push_bytes`].
#[allow(unsafe_code)]
unsafe fn push_frame(
    state: *mut ffi::lua_State,
    frame: &Frame,
    resp: Protocol,
    depth: usize,
) -> bool {
    let resp2 = resp == Protocol::Resp2;
    // SAFETY (whole function): five slots are there (the caller's
    // guarantee); containers check for five more before they push an
    // element (`lua_checkstack`), and every container is at -2 or -3 when
    // its element or key and value are set.
    unsafe {
        match frame {
            Frame::Simple(s) => push_wrapped(state, b"ok", s),
            Frame::Error(e) => push_wrapped(state, b"err", e),
            Frame::Integer(i) => ffi::lua_pushnumber(state, *i as ffi::lua_Number),
            Frame::Bulk(b) => push_bytes(state, b),
            Frame::Null | Frame::NullArray => {
                if resp2 {
                    ffi::lua_pushboolean(state, 0);
                } else {
                    ffi::lua_pushnil(state);
                }
            }
            Frame::Double(d) if resp2 => {
                push_bytes(state, redis_resp::format_double(*d).as_bytes())
            }
            Frame::Double(d) => {
                ffi::lua_createtable(state, 0, 1);
                push_bytes(state, b"double");
                ffi::lua_pushnumber(state, *d);
                ffi::lua_rawset(state, -3);
            }
            Frame::Boolean(b) if resp2 => ffi::lua_pushnumber(state, if *b { 1.0 } else { 0.0 }),
            Frame::Boolean(b) => ffi::lua_pushboolean(state, c_int::from(*b)),
            Frame::BigNumber(n) if resp2 => push_bytes(state, n),
            Frame::BigNumber(n) => push_wrapped(state, b"big_number", n),
            Frame::Verbatim { text, .. } if resp2 => push_bytes(state, text),
            Frame::Verbatim { format, text } => {
                ffi::lua_createtable(state, 0, 1);
                push_bytes(state, b"verbatim_string");
                ffi::lua_createtable(state, 0, 2);
                push_bytes(state, b"format");
                push_bytes(state, format);
                ffi::lua_rawset(state, -3);
                push_bytes(state, b"string");
                push_bytes(state, text);
                ffi::lua_rawset(state, -3);
                ffi::lua_rawset(state, -3);
            }
            Frame::Array(items) | Frame::Push(items) => {
                return push_array(state, items, resp, depth);
            }
            Frame::Set(items) if resp2 => return push_array(state, items, resp, depth),
            Frame::Set(items) => {
                if depth >= MAX_DEPTH || ffi::lua_checkstack(state, 8) == 0 {
                    return false;
                }
                ffi::lua_createtable(state, 0, 1);
                push_bytes(state, b"set");
                ffi::lua_createtable(state, 0, c_int::try_from(items.len()).unwrap_or(0));
                for item in items {
                    if !push_frame(state, item, resp, depth + 1) {
                        return false;
                    }
                    if ffi::lua_type(state, -1) == ffi::LUA_TNIL {
                        ffi::lua_pop(state, 1);
                        continue;
                    }
                    ffi::lua_pushboolean(state, 1);
                    ffi::lua_rawset(state, -3);
                }
                ffi::lua_rawset(state, -3);
            }
            Frame::Map(pairs) | Frame::Attribute(pairs) if resp2 => {
                if depth >= MAX_DEPTH || ffi::lua_checkstack(state, 6) == 0 {
                    return false;
                }
                let n = pairs.len().saturating_mul(2);
                ffi::lua_createtable(state, c_int::try_from(n).unwrap_or(0), 0);
                let mut i: c_int = 0;
                for (k, v) in pairs {
                    for item in [k, v] {
                        if !push_frame(state, item, resp, depth + 1) {
                            return false;
                        }
                        i = i.saturating_add(1);
                        ffi::lua_rawseti_(state, -2, i);
                    }
                }
            }
            Frame::Map(pairs) => {
                if depth >= MAX_DEPTH || ffi::lua_checkstack(state, 10) == 0 {
                    return false;
                }
                ffi::lua_createtable(state, 0, 1);
                push_bytes(state, b"map");
                ffi::lua_createtable(state, 0, c_int::try_from(pairs.len()).unwrap_or(0));
                for (k, v) in pairs {
                    if !push_frame(state, k, resp, depth + 1) {
                        return false;
                    }
                    if ffi::lua_type(state, -1) == ffi::LUA_TNIL {
                        ffi::lua_pop(state, 1);
                        continue;
                    }
                    if !push_frame(state, v, resp, depth + 1) {
                        return false;
                    }
                    ffi::lua_rawset(state, -3);
                }
                ffi::lua_rawset(state, -3);
            }
            Frame::Attribute(_) => ffi::lua_pushnil(state),
        }
    }
    true
}

/// Pushes the array of `items` (attributes left out).
///
/// # Safety
/// As [`push_frame`].
#[allow(unsafe_code)]
unsafe fn push_array(
    state: *mut ffi::lua_State,
    items: &[Frame],
    resp: Protocol,
    depth: usize,
) -> bool {
    // SAFETY: the table and one element at a time, with room for the
    // element's own pushes checked first.
    unsafe {
        if depth >= MAX_DEPTH || ffi::lua_checkstack(state, 6) == 0 {
            return false;
        }
        ffi::lua_createtable(state, c_int::try_from(items.len()).unwrap_or(0), 0);
        let mut i: c_int = 0;
        for item in items {
            if matches!(item, Frame::Attribute(_)) {
                continue;
            }
            if !push_frame(state, item, resp, depth + 1) {
                return false;
            }
            i = i.saturating_add(1);
            ffi::lua_rawseti_(state, -2, i);
        }
    }
    true
}

/// Keeps the [`Shared`] state that [`command_function`]'s closures point at
/// alive as long as the Lua state (as its app data).
struct SharedKeep(Arc<Shared>);

/// `redis.call` (`pcall` false) or `redis.pcall` for the Lua state `lua`,
/// bound to `shared` (its host, protocol and replication flags).
///
/// A C function: it reads the arguments from the stack (so any number of
/// them is fine) and keeps the script's frame on the stack for error
/// positions, as upstream's. Its Lua API calls can only fail with memory
/// errors, which need a memory limit this crate never sets.
#[allow(unsafe_code)]
pub(crate) fn command_function(
    lua: &Lua,
    shared: &Arc<Shared>,
    pcall: bool,
) -> mlua::Result<Function> {
    if lua.app_data_ref::<SharedKeep>().is_none() {
        lua.set_app_data(SharedKeep(Arc::clone(shared)));
    }
    let keep = lua
        .app_data_ref::<SharedKeep>()
        .map(|k| Arc::as_ptr(&k.0))
        .ok_or_else(|| mlua::Error::runtime("no shared state"))?;
    if !ptr::eq(keep, Arc::as_ptr(shared)) {
        return Err(mlua::Error::runtime("one shared state per Lua state"));
    }
    let p = keep.cast_mut().cast::<std::ffi::c_void>();
    // SAFETY: the closure pushes two upvalues and replaces them with the
    // C closure (`lua_pushcclosure` pops them), the one value `exec_raw`
    // hands back; `exec_raw` guarantees the slots.
    unsafe {
        lua.exec_raw::<Function>((), |state| {
            ffi::lua_pushlightuserdata(state, p);
            ffi::lua_pushboolean(state, c_int::from(pcall));
            ffi::lua_pushcclosure(state, command_entry, 2);
        })
    }
}

#[cfg(test)]
#[path = "raw_tests.rs"]
mod tests;
