//! The interpreter: one Lua 5.1 state with 7.0's sandbox and `redis`
//! library, the script cache (`EVAL`/`EVALSHA`/`SCRIPT LOAD|EXISTS|FLUSH`)
//! and the running of a script against a [`Host`].

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use mlua::{
    Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic, VmState,
};
use redis_common::log::LogLevel;
use redis_common::sha1::sha1_hex;
use redis_resp::{Frame, Protocol};

use crate::convert::{frame_to_lua, lua_to_frame, one_line};
use crate::host::{CallContext, Host, TICK_INSTRUCTIONS};
use crate::rand48::{Rand48, RandSource};
use crate::redislib::{self, command_args, raise_table, Shared, HOST_KEY};
use crate::shebang::{self, ScriptFlags};

/// The version scripts see as `redis.REDIS_VERSION`.
pub const REDIS_VERSION: &str = "7.0.15";
/// `redis.REDIS_VERSION_NUM`: `0x00MMmmpp`.
pub const REDIS_VERSION_NUM: i64 = 0x0007_000f;

pub(crate) const PRELUDE: &str = include_str!("prelude.lua");
const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
/// Bookkeeping per cached script besides its body and id (the map entry,
/// the compiled function's handle).
const SCRIPT_OVERHEAD: usize = 64;

/// One cached script.
struct Script {
    body: Bytes,
    flags: ScriptFlags,
    func: Function,
}

/// The Lua state and everything tied to it.
struct State {
    lua: Lua,
    genv: Table,
    run: Function,
    env: Table,
}

/// Lua scripting for one server: create once, call from the engine.
pub struct Interpreter {
    state: State,
    scripts: HashMap<String, Script>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpreter")
            .field("scripts", &self.scripts.len())
            .finish()
    }
}

pub(crate) fn internal(e: mlua::Error) -> Frame {
    Frame::Error(one_line(format!("ERR {e}").as_bytes()))
}

/// A Lua state with the standard libraries scripts get and the bridge
/// table the prelude takes; `chunk` is the name user code is compiled
/// under. The caller runs [`PRELUDE`] with the bridge and installs the
/// tick hook.
pub(crate) fn base_state(shared: &Arc<Shared>, chunk: &'static str) -> mlua::Result<(Lua, Table)> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    let bridge = redislib::bridge(&lua, shared, chunk)?;
    bridge.raw_set("version", REDIS_VERSION)?;
    bridge.raw_set("version_num", REDIS_VERSION_NUM)?;
    Ok((lua, bridge))
}

fn new_state(shared: &Arc<Shared>) -> mlua::Result<State> {
    let (lua, bridge) = base_state(shared, "@user_script")?;
    let genv = lua.globals();
    let (env, run): (Table, Function) = lua.load(PRELUDE).set_name("=redis_lib").call(bridge)?;
    install_tick_hook(&lua);
    Ok(State {
        lua,
        genv,
        run,
        env,
    })
}

/// The periodic hook: asks the host (through the per-run host function)
/// whether the script may go on. Outside a run there is no host function
/// and the hook does nothing.
pub(crate) fn install_tick_hook(lua: &Lua) {
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(TICK_INSTRUCTIONS),
        |lua, _| {
            let Value::Function(host) = lua.named_registry_value::<Value>(HOST_KEY)? else {
                return Ok(VmState::Continue);
            };
            let (go_on, err): (bool, Value) = host.call(("tick",))?;
            if go_on {
                return Ok(VmState::Continue);
            }
            let text = match err {
                Value::String(s) => s.as_bytes().to_vec(),
                _ => b"ERR Script killed".to_vec(),
            };
            install_kill_hook(lua, text.clone());
            Err(raise_table(text))
        },
    );
}

/// After a kill: the error again at every instruction of the script's own
/// code (not inside the sandbox's error handler), so a `pcall` that caught
/// it cannot keep the script running. Replaced by the tick hook when the
/// run ends.
fn install_kill_hook(lua: &Lua, text: Vec<u8>) {
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(1),
        move |_, dbg| {
            if dbg.source().source.as_deref() == Some("=redis_lib") {
                return Ok(VmState::Continue);
            }
            Err(raise_table(text.clone()))
        },
    );
}

/// Runs `body` with `handler` as the per-run host function (what the
/// library functions and the tick hook reach through [`HOST_KEY`]); the
/// host function is gone and the tick hook back in place afterwards.
pub(crate) fn with_host_fn<R>(
    lua: &Lua,
    mut handler: impl FnMut(&Lua, &str, Variadic<Value>) -> mlua::Result<(bool, Value)>,
    body: impl FnOnce() -> mlua::Result<R>,
) -> mlua::Result<R> {
    let result = lua.scope(|scope| {
        let f = scope.create_function_mut(|lua, (op, args): (mlua::String, Variadic<Value>)| {
            let op = op.to_str()?.to_string();
            handler(lua, &op, args)
        })?;
        lua.set_named_registry_value(HOST_KEY, f)?;
        body()
    });
    let _ = lua.set_named_registry_value(HOST_KEY, Value::Nil);
    // A killed run leaves the kill hook behind.
    install_tick_hook(lua);
    result
}

/// The `(ok, value)` pair the prelude's runner returns.
pub(crate) fn outcome(out: MultiValue) -> (bool, Value) {
    let mut it = out.into_iter();
    let ok = matches!(it.next(), Some(Value::Boolean(true)));
    (ok, it.next().unwrap_or(Value::Nil))
}

fn err_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(msg)?)?;
    Ok(Value::Table(t))
}

/// The per-run host function: `(op, ...)` → `(true, value)`, or
/// `(false, error text)` for the library function to raise.
/// The `(level, message)` the `log` host operation carries.
pub(crate) fn log_args(args: &[Value]) -> (LogLevel, String) {
    let level = match args.first() {
        Some(Value::Number(n)) => *n as i64,
        Some(Value::Integer(n)) => *n,
        _ => 0,
    };
    let level = match level {
        0 => LogLevel::Debug,
        1 => LogLevel::Verbose,
        2 => LogLevel::Notice,
        _ => LogLevel::Warning,
    };
    let msg = match args.get(1) {
        Some(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => String::new(),
    };
    (level, msg)
}

pub(crate) fn host_op(
    lua: &Lua,
    host: &mut dyn Host,
    shared: &Shared,
    op: &str,
    args: Variadic<Value>,
) -> mlua::Result<(bool, Value)> {
    let text = |t: &[u8]| -> mlua::Result<Value> { Ok(Value::String(lua.create_string(t)?)) };
    match op {
        "call" | "pcall" => {
            let pcall = op == "pcall";
            let argv = match command_args(&args) {
                Ok(argv) => argv,
                Err(e) if pcall => return Ok((true, err_table(lua, e.as_bytes())?)),
                Err(e) => return Ok((false, text(e.as_bytes())?)),
            };
            let resp = shared.resp();
            let ctx = CallContext {
                resp,
                repl: shared.repl(),
                pcall,
            };
            match host.call(argv, &ctx) {
                Frame::Error(e) if pcall => Ok((true, err_table(lua, &e)?)),
                Frame::Error(e) => Ok((false, text(&e)?)),
                reply => Ok((true, frame_to_lua(lua, reply, resp)?)),
            }
        }
        "acl" => {
            let argv = match command_args(&args) {
                Ok(argv) => argv,
                Err(e) => return Ok((false, text(e.as_bytes())?)),
            };
            match host.acl_check_cmd(&argv) {
                Some(ok) => Ok((true, Value::Boolean(ok))),
                None => Ok((
                    false,
                    text(b"ERR Invalid command passed to redis.acl_check_cmd()")?,
                )),
            }
        }
        "tick" => match host.tick() {
            None => Ok((true, Value::Nil)),
            Some(e) => Ok((false, text(&e)?)),
        },
        "log" => {
            let (level, msg) = log_args(&args);
            host.log(level, &msg);
            Ok((true, Value::Nil))
        }
        _ => Ok((true, Value::Nil)),
    }
}

impl Interpreter {
    /// A fresh interpreter with an empty script cache.
    pub fn new() -> Result<Interpreter, Frame> {
        let shared = Arc::new(Shared::new());
        let state = new_state(&shared).map_err(internal)?;
        Ok(Interpreter {
            state,
            scripts: HashMap::new(),
            shared,
        })
    }

    /// `SCRIPT LOAD` (and the first half of `EVAL`): parses the shebang,
    /// compiles the body and caches it under its SHA-1, which is returned.
    /// A body already cached is not compiled again. The error is the reply.
    pub fn load(&mut self, body: &[u8]) -> Result<String, Frame> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let parsed = shebang::parse(body).map_err(|e| Frame::Error(Bytes::from(e)))?;
        let code = body.get(parsed.code_start..).unwrap_or_default();
        let func = self
            .state
            .lua
            .load(code)
            .set_name("@user_script")
            .set_environment(self.state.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                Frame::Error(one_line(
                    format!("ERR Error compiling script (new function): {msg}").as_bytes(),
                ))
            })?;
        self.scripts.insert(
            sha.clone(),
            Script {
                body: Bytes::copy_from_slice(body),
                flags: parsed.flags,
                func,
            },
        );
        Ok(sha)
    }

    /// `SCRIPT EXISTS` for one id (case-insensitive, as upstream).
    pub fn exists(&self, sha: &[u8]) -> bool {
        self.scripts
            .contains_key(&String::from_utf8_lossy(sha).to_ascii_lowercase())
    }

    /// The flags and body of a cached script (the engine checks the flags
    /// before running it: `no-writes`, `allow-oom`, …).
    pub fn script(&self, sha: &[u8]) -> Option<(ScriptFlags, Bytes)> {
        self.scripts
            .get(&String::from_utf8_lossy(sha).to_ascii_lowercase())
            .map(|s| (s.flags, s.body.clone()))
    }

    /// Memory of the Lua state in bytes (`INFO`'s `used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.state.lua.used_memory()
    }

    /// Memory of the script cache outside Lua: the bodies and their ids
    /// (`INFO`'s `used_memory_scripts_eval`).
    pub fn scripts_memory(&self) -> usize {
        self.scripts
            .values()
            .map(|s| s.body.len() + 40 + SCRIPT_OVERHEAD)
            .sum()
    }

    /// Number of cached scripts (`INFO`'s `number_of_cached_scripts`).
    pub fn cached_scripts(&self) -> usize {
        self.scripts.len()
    }

    /// `SCRIPT FLUSH`: forgets every script and starts a new Lua state, as
    /// upstream. The `math.random` generator is process-wide and survives.
    pub fn flush(&mut self) -> Result<(), Frame> {
        self.state = new_state(&self.shared).map_err(internal)?;
        self.scripts.clear();
        Ok(())
    }

    /// The `math.random` generator's state (process-wide in upstream).
    pub fn rand_state(&self) -> Rand48 {
        self.shared.rand()
    }

    /// The handle of the `math.random` generator, to share it with the
    /// function engine ([`crate::FunctionEngine::set_rand_source`]): upstream
    /// has one generator for `EVAL` and `FCALL`.
    pub fn rand_source(&self) -> RandSource {
        self.shared.rand_source()
    }

    /// Draws `math.random` from `src` from now on (see
    /// [`Interpreter::rand_source`]).
    pub fn set_rand_source(&mut self, src: RandSource) {
        self.shared.set_rand_source(src);
    }

    /// `EVAL`: loads (or finds) the script, then runs it.
    pub fn eval(
        &mut self,
        host: &mut dyn Host,
        body: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Frame {
        match self.load(body) {
            Ok(sha) => self.run(host, &sha, keys, args),
            Err(e) => e,
        }
    }

    /// `EVALSHA`: runs a cached script or answers `NOSCRIPT`.
    pub fn evalsha(
        &mut self,
        host: &mut dyn Host,
        sha: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Frame {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        if sha.len() != 40 || !self.scripts.contains_key(&sha) {
            return Frame::error(NOSCRIPT);
        }
        self.run(host, &sha, keys, args)
    }

    fn run(&mut self, host: &mut dyn Host, sha: &str, keys: &[Bytes], args: &[Bytes]) -> Frame {
        let Some(script) = self.scripts.get(sha) else {
            return Frame::error(NOSCRIPT);
        };
        let func = script.func.clone();
        self.shared.set_resp(Protocol::Resp2);
        self.shared.set_repl(3);
        match self.run_function(host, &func, keys, args) {
            Ok((true, value)) => lua_to_frame(&value, self.shared.resp()),
            Ok((false, err)) => script_error(&err, sha),
            Err(e) => internal(e),
        }
    }

    fn run_function(
        &mut self,
        host: &mut dyn Host,
        func: &Function,
        keys: &[Bytes],
        args: &[Bytes],
    ) -> mlua::Result<(bool, Value)> {
        let st = &self.state;
        let lua = &st.lua;
        let list = |items: &[Bytes]| -> mlua::Result<Table> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(item)?)?;
            }
            Ok(t)
        };
        st.genv.raw_set("KEYS", list(keys)?)?;
        st.genv.raw_set("ARGV", list(args)?)?;
        let shared = Arc::clone(&self.shared);
        with_host_fn(
            lua,
            |lua, op, args| host_op(lua, host, &shared, op, args),
            || Ok(outcome(st.run.call(func.clone())?)),
        )
    }
}

/// The reply for an error that ended a script:
/// `<err> script: <sha>, on @user_script:<line>.` (for functions the name
/// of the function and `@user_function`).
pub(crate) fn script_error(err: &Value, sha: &str) -> Frame {
    let Value::Table(t) = err else {
        return Frame::error(format!("ERR unknown error script: {sha}"));
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        _ => b"ERR unknown error".to_vec(),
    };
    let mut line = msg;
    line.extend_from_slice(format!(" script: {sha}").as_bytes());
    if let (Ok(Value::String(src)), Ok(l)) =
        (t.raw_get::<Value>("source"), t.raw_get::<i64>("line"))
    {
        line.extend_from_slice(b", on ");
        line.extend_from_slice(&src.as_bytes());
        line.extend_from_slice(format!(":{l}.").as_bytes());
    }
    Frame::Error(one_line(&line))
}
