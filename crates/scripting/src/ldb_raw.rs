//! The Lua debugger's side that works on the Lua stack (unsafe, like
//! [`crate::raw`], with the same rules: `#[allow(unsafe_code)]` per item, a
//! `SAFETY` comment per block, errors raised only from C-ABI frames that
//! hold nothing with a destructor):
//!
//! - the line/count hook of a debugging session: stops on `step`, on
//!   breakpoints, after `redis.breakpoint()` and after a long run without
//!   a stop (upstream's "timeout reached, infinite loop?"), then runs the
//!   console's read-eval loop;
//! - the console commands that read Lua values: `print`, `trace`, `eval`,
//!   and `redis` (a command run through the host and logged);
//! - `redis.debug()` and `redis.breakpoint()` as C functions;
//! - values shown as upstream's console shows them (`{1; 2}`,
//!   `{["k"]=v}`, `"function@0x..."`, numbers as `%g`).

use std::ffi::CStr;
use std::os::raw::c_int;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{ffi, Function, Lua};

use crate::host::{CallContext, LdbInput, TICK_INSTRUCTIONS};
use crate::ldb::{self, fmt_g, parse_command, repr, Parsed, MAX_DEPTH, MAX_INPUT};

/// How long one wait for the client's input lasts before the host serves
/// other work.
const POLL: Duration = Duration::from_millis(10);

/// Installs the debugger's hook on `lua` (in place of the tick hook; the
/// caller puts that back when the session ends).
#[allow(unsafe_code)]
pub(crate) fn install_hook(lua: &Lua) -> mlua::Result<()> {
    // SAFETY: `exec_raw` hands the main state; setting its hook touches no
    // stack slot.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            ffi::lua_sethook(
                state,
                Some(hook),
                ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT,
                TICK_INSTRUCTIONS as c_int,
            );
        })
    }
}

/// What a hook or console step ends with.
enum Outcome {
    Continue,
    /// Raise the error message on top of the stack.
    Raise,
}

/// The hook: the Rust part decides, this frame (holding nothing) raises.
#[allow(unsafe_code)]
unsafe extern "C-unwind" fn hook(state: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    // SAFETY: Lua calls the hook with the running thread and its debug
    // record; `hook_body` leaves an error message on top when it answers
    // `Raise`.
    unsafe {
        if let Outcome::Raise = hook_body(state, ar) {
            ffi::lua_error(state);
        }
    }
}

/// Pushes `text` as the error message.
///
/// # Safety
/// One free stack slot.
#[allow(unsafe_code)]
unsafe fn push_message(state: *mut ffi::lua_State, text: &[u8]) -> Outcome {
    // SAFETY: one slot, the caller's guarantee.
    unsafe {
        ffi::lua_pushlstring(state, text.as_ptr().cast(), text.len());
    }
    Outcome::Raise
}

/// Whether the debug record is about the user's script.
fn in_user_script(ar: &ffi::lua_Debug) -> bool {
    // SAFETY-free: `short_src` is a NUL-terminated array filled by
    // `lua_getinfo`.
    let bytes: Vec<u8> = ar
        .short_src
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    bytes.windows(11).any(|w| w == b"user_script")
}

/// Sends the session's pending logs to the client.
fn send_logs() {
    let Some((bytes, shared)) = ldb::with(|l| (l.take_logs(), std::sync::Arc::clone(&l.shared)))
    else {
        return;
    };
    shared.host.with(|h| h.ldb_send(&bytes));
}

/// # Safety
/// As [`hook`].
#[allow(unsafe_code)]
unsafe fn hook_body(state: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) -> Outcome {
    // SAFETY: `ar` is the record Lua passed to the hook.
    let ar = unsafe {
        ffi::lua_getinfo(state, c"Sl".as_ptr(), ar);
        &*ar
    };
    let count_event = ar.event == ffi::LUA_HOOKCOUNT;
    if count_event {
        // Work handed over by other connections, and SCRIPT KILL or a
        // shutdown, are looked at while the script runs too.
        let Some(shared) = ldb::with(|l| std::sync::Arc::clone(&l.shared)) else {
            return Outcome::Continue;
        };
        match shared.host.with(|h| h.ldb_poll(Duration::ZERO)) {
            Some(LdbInput::Data(d)) => {
                ldb::with(|l| l.input.extend_from_slice(&d));
            }
            Some(LdbInput::Closed) => {
                ldb::with(|l| l.gone = true);
            }
            Some(LdbInput::Stop(e)) => {
                // SAFETY: the hook has LUA_MINSTACK slots.
                return unsafe { push_message(state, &e) };
            }
            _ => {}
        }
    }
    if !in_user_script(ar) {
        return Outcome::Continue;
    }
    let line = i64::from(ar.currentline);
    let decision = ldb::with(|l| {
        l.current_line = line;
        if l.gone {
            return None;
        }
        let bp = l.is_breakpoint(line) || l.luabp;
        let mut timeout = false;
        if count_event && !l.step && !bp {
            if l.since.elapsed() < Duration::from_millis(l.timeout_ms) {
                return None;
            }
            timeout = true;
        }
        if !(l.step || bp || timeout) {
            return None;
        }
        let reason = if bp {
            if l.luabp {
                "redis.breakpoint() called"
            } else {
                "break point"
            }
        } else if timeout {
            "timeout reached, infinite loop?"
        } else {
            "step over"
        };
        l.step = false;
        l.luabp = false;
        l.log_stop(reason);
        Some(timeout)
    });
    let Some(Some(timeout)) = decision else {
        return Outcome::Continue;
    };
    send_logs();
    // SAFETY: as the hook's.
    let outcome = unsafe { repl(state) };
    ldb::with(|l| l.since = Instant::now());
    match outcome {
        Repl::Resume => Outcome::Continue,
        Repl::Raise => Outcome::Raise,
        Repl::Gone if timeout => {
            // SAFETY: as the hook's.
            unsafe {
                push_message(
                    state,
                    b"timeout during Lua debugging with client closing connection",
                )
            }
        }
        Repl::Gone => Outcome::Continue,
    }
}

/// How the console's loop ended.
enum Repl {
    /// `step` or `continue`.
    Resume,
    /// An error to raise is on top of the stack.
    Raise,
    /// The client went away.
    Gone,
}

/// The console: reads commands from the client and runs them until one
/// resumes the script.
///
/// # Safety
/// `state` is the thread the hook runs on, with LUA_MINSTACK free slots.
#[allow(unsafe_code)]
unsafe fn repl(state: *mut ffi::lua_State) -> Repl {
    loop {
        let Some(parsed) = ldb::with(|l| parse_command(&mut l.input)) else {
            return Repl::Resume;
        };
        match parsed {
            Parsed::Command(argv) => {
                // SAFETY: as this function's.
                match unsafe { run_command(state, &argv) } {
                    Step::Resume => return Repl::Resume,
                    Step::Raise => return Repl::Raise,
                    Step::Stay => send_logs(),
                }
            }
            Parsed::Error => {
                // SAFETY: as this function's.
                unsafe { push_message(state, b"protocol error") };
                return Repl::Raise;
            }
            Parsed::Incomplete => {
                let Some(shared) = ldb::with(|l| std::sync::Arc::clone(&l.shared)) else {
                    return Repl::Resume;
                };
                match shared.host.with(|h| h.ldb_poll(POLL)) {
                    Some(LdbInput::Data(d)) => {
                        let over = ldb::with(|l| {
                            l.input.extend_from_slice(&d);
                            if l.input.len() > MAX_INPUT {
                                l.input.clear();
                                true
                            } else {
                                false
                            }
                        });
                        if over == Some(true) {
                            // SAFETY: as this function's.
                            unsafe { push_message(state, b"max client buffer reached") };
                            return Repl::Raise;
                        }
                    }
                    Some(LdbInput::Nothing) => {}
                    Some(LdbInput::Stop(e)) => {
                        // SAFETY: as this function's.
                        unsafe { push_message(state, &e) };
                        return Repl::Raise;
                    }
                    Some(LdbInput::Closed) | None => {
                        // The script runs on without the client.
                        ldb::with(|l| {
                            l.gone = true;
                            l.step = false;
                        });
                        return Repl::Gone;
                    }
                }
            }
        }
    }
}

/// What one console command asks for.
enum Step {
    Stay,
    Resume,
    Raise,
}

/// Runs one console command.
///
/// # Safety
/// As [`repl`].
#[allow(unsafe_code)]
unsafe fn run_command(state: *mut ffi::lua_State, argv: &[Vec<u8>]) -> Step {
    let Some(name) = argv.first() else {
        return Step::Stay;
    };
    let is = |short: &str, long: &str| {
        name.eq_ignore_ascii_case(short.as_bytes()) || name.eq_ignore_ascii_case(long.as_bytes())
    };
    let argc = argv.len();
    let rest = argv.get(1..).unwrap_or_default();
    if is("h", "help") {
        ldb::with(|l| l.help());
    } else if is("s", "step") || is("n", "next") {
        ldb::with(|l| l.step = true);
        return Step::Resume;
    } else if is("c", "continue") {
        return Step::Resume;
    } else if is("t", "trace") {
        // SAFETY: as this function's.
        unsafe { trace(state) };
    } else if is("m", "maxlen") && argc <= 2 {
        ldb::with(|l| l.maxlen_command(rest.first().map(Vec::as_slice)));
    } else if is("b", "break") {
        ldb::with(|l| l.break_command(rest));
    } else if is("e", "eval") {
        // SAFETY: as this function's.
        unsafe { eval(state, &rest.join(&b' ')) };
    } else if is("a", "abort") {
        // SAFETY: as this function's.
        unsafe { push_message(state, b"script aborted for user request") };
        return Step::Raise;
    } else if is("l", "list") && argc <= 3 {
        ldb::with(|l| l.list_command(rest));
    } else if is("w", "whole") {
        ldb::with(|l| l.list(1, 1_000_000));
    } else if is("p", "print") && argc <= 2 {
        // SAFETY: as this function's.
        unsafe {
            match rest.first() {
                Some(var) => print_var(state, var),
                None => print_all(state),
            }
        }
    } else if is("r", "redis") && argc > 1 {
        redis_command(rest);
    } else {
        ldb::with(|l| {
            l.log(
                b"<error> Unknown Redis Lua debugger command or wrong number of arguments."
                    .to_vec(),
            )
        });
    }
    Step::Stay
}

/// `redis <cmd> ...`: the command runs as the script's own `redis.call`
/// would (through the host) and is logged with its reply.
fn redis_command(args: &[Vec<u8>]) {
    let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let Some(shared) = ldb::with(|l| {
        l.log_command(&argv);
        std::sync::Arc::clone(&l.shared)
    }) else {
        return;
    };
    let resp = shared.resp();
    let ctx = CallContext {
        resp,
        repl: shared.repl(),
        pcall: true,
    };
    if let Some(frame) = shared.host.with(|h| h.call(argv, &ctx)) {
        ldb::with(|l| l.log_reply(&frame, resp));
    }
}

/// A debug record for stack level `level`, if there is one.
///
/// # Safety
/// `state` is a running thread.
#[allow(unsafe_code)]
unsafe fn stack_level(state: *mut ffi::lua_State, level: c_int) -> Option<ffi::lua_Debug> {
    // SAFETY: every field of the record is an integer, a pointer or a
    // character array, for which all-zero is a valid value; `lua_getstack`
    // fills it in.
    unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        (ffi::lua_getstack(state, level, &mut ar) != 0).then_some(ar)
    }
}

/// `print`: every local variable of the current function.
///
/// # Safety
/// As [`repl`].
#[allow(unsafe_code)]
unsafe fn print_all(state: *mut ffi::lua_State) {
    // SAFETY: level 0 is the function the hook stopped in;
    // `lua_getlocal` pushes the value it names, popped after use.
    let lines = unsafe {
        let mut lines = Vec::new();
        if let Some(ar) = stack_level(state, 0) {
            let mut i = 1;
            loop {
                let name = ffi::lua_getlocal(state, &ar, i);
                if name.is_null() {
                    break;
                }
                let name = CStr::from_ptr(name).to_bytes().to_vec();
                if !name.starts_with(b"(") {
                    let mut line = b"<value> ".to_vec();
                    line.extend_from_slice(&name);
                    line.extend_from_slice(b" = ");
                    value(state, -1, 0, &mut line);
                    lines.push(line);
                }
                ffi::lua_settop(state, -2);
                i += 1;
            }
        }
        lines
    };
    ldb::with(|l| {
        if lines.is_empty() {
            l.log(b"No local variables in the current context.".to_vec());
        }
        for line in lines {
            l.log_max(line);
        }
    });
}

/// `print <var>`: a local of the current function or its callers, or the
/// globals `KEYS` and `ARGV`.
///
/// # Safety
/// As [`repl`].
#[allow(unsafe_code)]
unsafe fn print_var(state: *mut ffi::lua_State, var: &[u8]) {
    // SAFETY: as `print_all`, over every level; the global is read with a
    // NUL-terminated literal name and popped.
    let found = unsafe {
        let mut found = None;
        let mut level = 0;
        'levels: while let Some(ar) = stack_level(state, level) {
            let mut i = 1;
            loop {
                let name = ffi::lua_getlocal(state, &ar, i);
                if name.is_null() {
                    break;
                }
                if CStr::from_ptr(name).to_bytes() == var {
                    let mut line = b"<value> ".to_vec();
                    value(state, -1, 0, &mut line);
                    ffi::lua_settop(state, -2);
                    found = Some(line);
                    break 'levels;
                }
                ffi::lua_settop(state, -2);
                i += 1;
            }
            level += 1;
        }
        if found.is_none() && (var == b"KEYS" || var == b"ARGV") {
            let name = if var == b"KEYS" { c"KEYS" } else { c"ARGV" };
            ffi::lua_getglobal_(state, name.as_ptr());
            let mut line = b"<value> ".to_vec();
            value(state, -1, 0, &mut line);
            ffi::lua_settop(state, -2);
            found = Some(line);
        }
        found
    };
    ldb::with(|l| match found {
        Some(line) => l.log_max(line),
        None => l.log(b"No such variable.".to_vec()),
    });
}

/// `trace`: the script's frames, innermost first.
///
/// # Safety
/// As [`repl`].
#[allow(unsafe_code)]
unsafe fn trace(state: *mut ffi::lua_State) {
    // SAFETY: `lua_getinfo` fills records `lua_getstack` returned; `name`
    // is NULL or a NUL-terminated string owned by the state.
    let frames = unsafe {
        let mut frames = Vec::new();
        let mut level = 0;
        while let Some(mut ar) = stack_level(state, level) {
            ffi::lua_getinfo(state, c"Snl".as_ptr(), &mut ar);
            if in_user_script(&ar) {
                let name = if ar.name.is_null() {
                    "top level".to_string()
                } else {
                    CStr::from_ptr(ar.name).to_string_lossy().into_owned()
                };
                let word = if level == 0 { "In" } else { "From" };
                frames.push((format!("{word} {name}:"), i64::from(ar.currentline)));
            }
            level += 1;
        }
        frames
    };
    ldb::with(|l| {
        if frames.is_empty() {
            l.log(b"<error> Can't retrieve Lua stack.".to_vec());
        }
        for (head, line) in frames {
            l.log(head.into_bytes());
            l.log_source_line(line);
        }
    });
}

/// `eval <code>`: compiled as `return <code>` (or as is when that does not
/// compile) in the script's environment, run in protected mode; its first
/// result or its error is logged.
///
/// # Safety
/// As [`repl`].
#[allow(unsafe_code)]
unsafe fn eval(state: *mut ffi::lua_State, code: &[u8]) {
    let mut with_return = b"return ".to_vec();
    with_return.extend_from_slice(code);
    // SAFETY: the chunk, the running function and its environment take
    // three slots (LUA_MINSTACK are there); everything pushed is popped
    // before returning (`lua_settop` to the entry top).
    let line = unsafe {
        let top = ffi::lua_gettop(state);
        let name = c"@ldb_eval".as_ptr();
        let mut rc =
            ffi::luaL_loadbuffer(state, with_return.as_ptr().cast(), with_return.len(), name);
        if rc != 0 {
            ffi::lua_settop(state, top);
            rc = ffi::luaL_loadbuffer(state, code.as_ptr().cast(), code.len(), name);
        }
        let line = if rc != 0 {
            let mut line = b"<error> ".to_vec();
            message(state, -1, &mut line);
            line
        } else {
            // The script's environment (its sandboxed globals).
            if let Some(mut ar) = stack_level(state, 0) {
                ffi::lua_getinfo(state, c"f".as_ptr(), &mut ar);
                ffi::lua_getfenv(state, -1);
                ffi::lua_setfenv(state, -3);
                ffi::lua_settop(state, -2);
            }
            if ffi::lua_pcall(state, 0, 1, 0) != 0 {
                let mut line = b"<error> ".to_vec();
                message(state, -1, &mut line);
                line
            } else {
                let mut line = b"<retval> ".to_vec();
                value(state, -1, 0, &mut line);
                line
            }
        };
        ffi::lua_settop(state, top);
        line
    };
    ldb::with(|l| {
        if line.starts_with(b"<error>") {
            l.log(line);
        } else {
            l.log_max(line);
        }
    });
}

/// An error value as text: a string as is, an error table's `err`.
///
/// # Safety
/// `idx` is a valid index; two free slots.
#[allow(unsafe_code)]
unsafe fn message(state: *mut ffi::lua_State, idx: c_int, out: &mut Vec<u8>) {
    // SAFETY: type tests and raw reads of a valid index; the field read
    // pushes one value, popped.
    unsafe {
        let idx = absolute(state, idx);
        match ffi::lua_type(state, idx) {
            ffi::LUA_TSTRING | ffi::LUA_TNUMBER => out.extend_from_slice(string(state, idx)),
            ffi::LUA_TTABLE => {
                ffi::lua_pushlstring(state, c"err".as_ptr(), 3);
                ffi::lua_rawget(state, idx);
                if ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
                    out.extend_from_slice(string(state, -1));
                } else {
                    value(state, idx, 0, out);
                }
                ffi::lua_settop(state, -2);
            }
            _ => value(state, idx, 0, out),
        }
    }
}

/// `idx` as an index that stays valid while values are pushed.
///
/// # Safety
/// `idx` is a valid index.
#[allow(unsafe_code)]
unsafe fn absolute(state: *mut ffi::lua_State, idx: c_int) -> c_int {
    if idx < 0 && idx > ffi::LUA_REGISTRYINDEX {
        // SAFETY: reading the top.
        unsafe { ffi::lua_gettop(state) + idx + 1 }
    } else {
        idx
    }
}

/// The bytes of the string (or number, converted in place) at `idx`.
///
/// # Safety
/// The value at `idx` is a string or a number; the slice is used while it
/// stays on the stack.
#[allow(unsafe_code)]
unsafe fn string<'a>(state: *mut ffi::lua_State, idx: c_int) -> &'a [u8] {
    // SAFETY: `lua_tolstring` of a string or number returns its bytes.
    unsafe {
        let mut len = 0usize;
        let p = ffi::lua_tolstring(state, idx, &mut len);
        if p.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    }
}

/// Appends the value at `idx` as the console shows it.
///
/// # Safety
/// `idx` is a valid index; tables are walked with `lua_next` (three slots,
/// checked per level).
#[allow(unsafe_code)]
pub(crate) unsafe fn value(
    state: *mut ffi::lua_State,
    idx: c_int,
    depth: usize,
    out: &mut Vec<u8>,
) {
    // SAFETY: as the function's contract; every push is popped before the
    // next key is read, and `lua_next` runs on the table at its absolute
    // index with the previous key on top.
    unsafe {
        let idx = absolute(state, idx);
        match ffi::lua_type(state, idx) {
            ffi::LUA_TSTRING => repr(out, string(state, idx)),
            ffi::LUA_TBOOLEAN => out.extend_from_slice(if ffi::lua_toboolean(state, idx) != 0 {
                b"true"
            } else {
                b"false"
            }),
            ffi::LUA_TNUMBER => {
                out.extend_from_slice(fmt_g(ffi::lua_tonumber(state, idx)).as_bytes())
            }
            ffi::LUA_TNIL => out.extend_from_slice(b"nil"),
            ffi::LUA_TTABLE => {
                if depth >= MAX_DEPTH || ffi::lua_checkstack(state, 3) == 0 {
                    out.extend_from_slice(b"<max recursion level reached! Nested table?>");
                    return;
                }
                // Written both ways, as a list and with keys; which one is
                // shown depends on whether the keys were 1, 2, 3, ...
                let mut as_list = Vec::new();
                let mut as_map = Vec::new();
                let mut is_list = true;
                let mut expected = 1.0;
                ffi::lua_pushnil(state);
                while ffi::lua_next(state, idx) != 0 {
                    if is_list
                        && (ffi::lua_type(state, -2) != ffi::LUA_TNUMBER
                            || ffi::lua_tonumber(state, -2) != expected)
                    {
                        is_list = false;
                    }
                    if !as_list.is_empty() {
                        as_list.extend_from_slice(b"; ");
                        as_map.extend_from_slice(b"; ");
                    }
                    value(state, -1, depth + 1, &mut as_list);
                    as_map.push(b'[');
                    // A copy of the key: converting a number key in place
                    // would confuse `lua_next`.
                    ffi::lua_pushvalue(state, -2);
                    value(state, -1, depth + 1, &mut as_map);
                    ffi::lua_settop(state, -2);
                    as_map.extend_from_slice(b"]=");
                    value(state, -1, depth + 1, &mut as_map);
                    ffi::lua_settop(state, -2);
                    expected += 1.0;
                }
                out.push(b'{');
                out.extend_from_slice(if is_list { &as_list } else { &as_map });
                out.push(b'}');
            }
            t => {
                let kind = match t {
                    ffi::LUA_TFUNCTION => "function",
                    ffi::LUA_TUSERDATA => "userdata",
                    ffi::LUA_TTHREAD => "thread",
                    ffi::LUA_TLIGHTUSERDATA => "light-userdata",
                    _ => {
                        out.extend_from_slice(b"\"<unknown-lua-type>\"");
                        return;
                    }
                };
                let p = ffi::lua_topointer(state, idx);
                out.extend_from_slice(format!("\"{kind}@{p:p}\"").as_bytes());
            }
        }
    }
}

/// `redis.debug(...)`: its arguments as a `<debug>` line of the console
/// (nothing outside a debugging session).
#[allow(unsafe_code)]
unsafe extern "C-unwind" fn debug_entry(state: *mut ffi::lua_State) -> c_int {
    if !ldb::active() {
        return 0;
    }
    // SAFETY: the arguments are at 1..=n; `value` pops what it pushes.
    let line = unsafe {
        let n = ffi::lua_gettop(state);
        let current = ldb::with(|l| l.current_line).unwrap_or(0);
        let mut line = format!("<debug> line {current}: ").into_bytes();
        for i in 1..=n {
            if i > 1 {
                line.extend_from_slice(b", ");
            }
            value(state, i, 0, &mut line);
        }
        line
    };
    ldb::with(|l| l.log(line));
    0
}

/// `redis.breakpoint()`: stops at the next line like a breakpoint and
/// answers true in a debugging session, false outside one.
#[allow(unsafe_code)]
unsafe extern "C-unwind" fn breakpoint_entry(state: *mut ffi::lua_State) -> c_int {
    let on = ldb::with(|l| l.luabp = true).is_some();
    // SAFETY: a C function has LUA_MINSTACK slots.
    unsafe { ffi::lua_pushboolean(state, c_int::from(on)) };
    1
}

/// `redis.debug` (`breakpoint` false) or `redis.breakpoint` as Lua
/// functions.
#[allow(unsafe_code)]
pub(crate) fn debug_function(lua: &Lua, breakpoint: bool) -> mlua::Result<Function> {
    let f: ffi::lua_CFunction = if breakpoint {
        breakpoint_entry
    } else {
        debug_entry
    };
    // SAFETY: pushes one C function, the value `exec_raw` hands back.
    unsafe { lua.exec_raw::<Function>((), |state| ffi::lua_pushcfunction(state, f)) }
}
