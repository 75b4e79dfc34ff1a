//! The crate's only unsafe code, kept small:
//!
//! - [`HostSlot`]: where the library functions find the [`Host`] of the run
//!   in progress. A run lends its `&mut dyn Host` to the slot for its
//!   duration ([`HostSlot::lend`]); a library function borrows it back for
//!   one host operation ([`HostSlot::with`]). This replaces a scoped Lua
//!   function created for every run.
//! - [`c_like`]: a C function in front of a Rust callback that takes any
//!   number of arguments. mlua's callbacks check the Lua stack before they
//!   touch it, which fails once the caller's frame holds about 8000 values
//!   (`redis.call('lpush', 'l', unpack(t))` with 7999 elements, which the
//!   reference accepts); past [`PACK_OVER`] arguments the C function packs
//!   them into a table and the callback gets `(table, n)` instead. It stays
//!   a C function, so a tail call (`return redis.call(...)`) keeps the
//!   script's frame on the stack for error positions.

#![allow(unsafe_code)]

use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use bytes::Bytes;
use mlua::{ffi, Function, Lua, MultiValue, Table, Value};

use crate::host::Host;

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

/// Pushes a new array of the strings `items`.
///
/// # Safety
/// `state` must have two free stack slots. It may raise a Lua memory error
/// (`longjmp`): the caller's frame must not hold values with destructors.
unsafe fn push_strings(state: *mut ffi::lua_State, items: &[Bytes]) {
    // SAFETY (whole function): the caller guarantees the two slots used
    // (the table, one string at a time); lengths and indexes fit (checked
    // by `run_protected` before).
    unsafe {
        ffi::lua_createtable(state, items.len() as c_int, 0);
        let mut i: c_int = 0;
        while let Some(item) = items.get(i as usize) {
            let bytes: &[u8] = if item.is_empty() { b"" } else { item };
            ffi::lua_pushlstring_(state, bytes.as_ptr().cast(), bytes.len());
            i += 1;
            ffi::lua_rawseti_(state, -2, i);
        }
    }
}

/// How [`run_protected`] hands `keys` and `args` over.
pub(crate) enum Lists<'a> {
    /// As the globals `KEYS` and `ARGV` of this table (`EVAL`).
    Globals(&'a Table),
    /// As the second and third arguments (`FCALL`).
    Arguments,
}

/// `f(id)` (`Lists::Globals`) or `f(id, keys, args)` (`Lists::Arguments`),
/// where `f` is one of the prelude's runners, which catch the errors of
/// what they run and answer `(ok, value)`. The arrays of strings are built
/// with the Lua API directly: this is the per-run cost of every script.
pub(crate) fn run_protected(
    lua: &Lua,
    f: &Function,
    id: i64,
    lists: Lists<'_>,
    keys: &[Bytes],
    args: &[Bytes],
) -> mlua::Result<(bool, Value)> {
    let limit = c_int::MAX as usize;
    if keys.len() >= limit || args.len() >= limit {
        return Err(mlua::Error::runtime("too many arguments"));
    }
    match lists {
        // SAFETY: `exec_raw` runs the closure as a C function (in protected
        // mode: Lua errors unwind to `exec_raw`) with its arguments, `t`,
        // `f` and `id`, at 1, 2, 3 and at least LUA_MINSTACK free slots;
        // the closure holds only references (nothing to drop if a memory
        // error unwinds it), uses at most three slots beyond its arguments,
        // and leaves exactly the two results of `f` on the stack.
        Lists::Globals(t) => unsafe {
            lua.exec_raw::<(bool, Value)>((t, f, id), |state| {
                ffi::lua_pushlstring_(state, b"KEYS".as_ptr().cast(), 4);
                push_strings(state, keys);
                ffi::lua_rawset(state, 1);
                ffi::lua_pushlstring_(state, b"ARGV".as_ptr().cast(), 4);
                push_strings(state, args);
                ffi::lua_rawset(state, 1);
                ffi::lua_call(state, 1, 2);
                ffi::lua_remove(state, 1);
            })
        },
        // SAFETY: as above, with `f` and `id` at 1 and 2; the two arrays
        // are pushed as further arguments of `f`.
        Lists::Arguments => unsafe {
            lua.exec_raw::<(bool, Value)>((f, id), |state| {
                push_strings(state, keys);
                push_strings(state, args);
                ffi::lua_call(state, 3, 2);
            })
        },
    }
}

#[cfg(test)]
#[path = "raw_tests.rs"]
mod tests;
