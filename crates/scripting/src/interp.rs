//! The interpreter: one Lua 5.1 state with 7.0's sandbox and `redis`
//! library, the script cache (`EVAL`/`EVALSHA`/`SCRIPT LOAD|EXISTS|FLUSH`)
//! and the running of a script against a [`Host`].

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use redis_common::sha1::sha1_hex;
use redis_resp::{Frame, Protocol};

use crate::convert::{error_counted, lua_to_frame, one_line, scalar_to_frame};
use crate::host::{Host, TICK_INSTRUCTIONS};
use crate::rand48::{Rand48, RandSource};
use crate::raw::{run_protected, Lists, Ran, Scalar};
use crate::redislib::{self, raise_table, Shared};
use crate::shebang::{self, ScriptFlags};

/// The version scripts see as `redis.REDIS_VERSION`.
pub const REDIS_VERSION: &str = "7.0.15";
/// `redis.REDIS_VERSION_NUM`: `0x00MMmmpp`.
pub const REDIS_VERSION_NUM: i64 = 0x0007_000f;

pub(crate) const PRELUDE: &str = include_str!("prelude.lua");
/// Runs between two garbage-collection steps.
const GC_PERIOD: u32 = 50;
/// The size of such a step: the smallest (one basic step of the
/// incremental collector). A step of 50 KB, as upstream asks for, costs
/// several percent of small scripts' time with our larger base state,
/// while one basic step per 50 runs keeps `used_memory_lua` as flat.
const GC_STEP_KB: i32 = 0;
const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
/// Bookkeeping per cached script besides its body and id (the map entry,
/// the slot of the compiled function).
const SCRIPT_OVERHEAD: usize = 64;

/// A script id as the cache keys it: 40 lower-case hex digits.
type Sha = [u8; 40];

/// `sha` as a cache key (ids are compared without case, as upstream);
/// `None` when it cannot be one (not 40 bytes long).
fn sha_key(sha: &[u8]) -> Option<Sha> {
    let mut key: Sha = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// Hashes script ids for the cache: they are SHA-1 digests already, so a
/// few multiply-rotate rounds over their words (keyed per process, from
/// the standard library's random keys) spread them as well as SipHash
/// does, at a fraction of its cost on the `EVALSHA` path. Also used for
/// the function index and by the engine for its own per-call sets of
/// script ids and function names (short keys chosen by the server's
/// administrators, not by clients).
#[derive(Clone, Debug)]
pub struct ShaHash {
    k0: u64,
    k1: u64,
}

impl Default for ShaHash {
    fn default() -> ShaHash {
        ShaHash::new()
    }
}

impl ShaHash {
    /// A hasher keyed from the standard library's per-process keys.
    pub fn new() -> ShaHash {
        let s = RandomState::new();
        ShaHash {
            k0: s.hash_one(0x5eed_u64),
            k1: s.hash_one(0xc0ffee_u64) | 1,
        }
    }
}

impl BuildHasher for ShaHash {
    type Hasher = ShaHasher;

    fn build_hasher(&self) -> ShaHasher {
        ShaHasher {
            h: self.k0,
            k: self.k1,
        }
    }
}

/// The hasher of [`ShaHash`].
#[derive(Debug)]
pub struct ShaHasher {
    h: u64,
    k: u64,
}

impl ShaHasher {
    fn mix(&mut self, word: u64) {
        self.h = (self.h ^ word ^ self.k)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            if let Some(dst) = w.get_mut(..rest.len()) {
                dst.copy_from_slice(rest);
            }
            self.mix(u64::from_le_bytes(w));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        let h = self.h ^ (self.h >> 32);
        h.wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 29)
    }
}

/// One cached script. The compiled function lives in the Lua state, in the
/// store table under `id` (one mlua handle per script would exhaust
/// mlua's reference stack after about 8000 scripts).
struct Script {
    body: Bytes,
    flags: ScriptFlags,
    id: i64,
}

/// The Lua state and everything tied to it.
struct State {
    lua: Lua,
    genv: Table,
    /// The prelude's error handler, which scripts run under.
    handler: Function,
    env: Table,
    /// The compiled scripts by id.
    store: Table,
}

/// A cached script found by [`Interpreter::find`]: its id and flags, and
/// what [`Interpreter::run`] needs to run it.
#[derive(Clone, Copy)]
pub struct FoundScript<'a> {
    key: &'a Sha,
    script: &'a Script,
}

impl std::fmt::Debug for FoundScript<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoundScript")
            .field("sha", &String::from_utf8_lossy(self.key))
            .finish()
    }
}

impl<'a> FoundScript<'a> {
    /// The script's shebang flags.
    pub fn flags(&self) -> ScriptFlags {
        self.script.flags
    }

    /// The script's id: 40 lower-case hex digits.
    pub fn sha(&self) -> &'a [u8; 40] {
        self.key
    }
}

/// Lua scripting for one server: create once, call from the engine.
pub struct Interpreter {
    state: State,
    scripts: HashMap<Sha, Script, ShaHash>,
    next_id: i64,
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
/// tick hook. The bridge's `store` table (returned too) is where the
/// prelude's runners find functions given by id.
pub(crate) fn base_state(
    shared: &Arc<Shared>,
    chunk: &'static str,
) -> mlua::Result<(Lua, Table, Table)> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    let bridge = redislib::bridge(&lua, shared, chunk)?;
    bridge.raw_set("version", REDIS_VERSION)?;
    bridge.raw_set("version_num", REDIS_VERSION_NUM)?;
    let store = lua.create_table()?;
    bridge.raw_set("store", &store)?;
    Ok((lua, bridge, store))
}

fn new_state(shared: &Arc<Shared>) -> mlua::Result<State> {
    let (lua, bridge, store) = base_state(shared, "@user_script")?;
    let genv = lua.globals();
    let (env, handler): (Table, Function) =
        lua.load(PRELUDE).set_name("=redis_lib").call(bridge)?;
    install_tick_hook(&lua, shared);
    Ok(State {
        lua,
        genv,
        handler,
        env,
        store,
    })
}

/// The periodic hook: asks the host of the run whether the script may go
/// on. Outside a run there is no host and the hook does nothing.
pub(crate) fn install_tick_hook(lua: &Lua, shared: &Arc<Shared>) {
    let sh = Arc::clone(shared);
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(TICK_INSTRUCTIONS),
        move |lua, _| {
            let Some(Some(text)) = sh.host.with(|h| h.tick()) else {
                return Ok(VmState::Continue);
            };
            sh.killed.store(true, Ordering::Relaxed);
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

/// Runs `body` with `host` lent to the library functions and the tick hook
/// (see [`crate::raw::HostSlot`]); after a kill the tick hook is put back.
pub(crate) fn with_host<R>(
    lua: &Lua,
    shared: &Arc<Shared>,
    host: &mut dyn Host,
    body: impl FnOnce() -> R,
) -> R {
    let result = shared.host.lend(host, body);
    if shared.killed.swap(false, Ordering::Relaxed) {
        install_tick_hook(lua, shared);
    }
    // As upstream: an incremental collection step every GC_PERIOD runs, so
    // the garbage of many small scripts does not pile up between the
    // collector's own steps.
    if shared.runs.fetch_add(1, Ordering::Relaxed) + 1 >= GC_PERIOD {
        shared.runs.store(0, Ordering::Relaxed);
        // A failing step (an error in a __gc metamethod) is not the
        // script's error; the next step retries.
        let _ = lua.gc_step_kbytes(GC_STEP_KB);
    }
    result
}

impl Interpreter {
    /// A fresh interpreter with an empty script cache.
    pub fn new() -> Result<Interpreter, Frame> {
        let shared = Arc::new(Shared::new());
        let state = new_state(&shared).map_err(internal)?;
        Ok(Interpreter {
            state,
            scripts: HashMap::with_hasher(ShaHash::new()),
            next_id: 1,
            shared,
        })
    }

    /// `SCRIPT LOAD` (and the first half of `EVAL`): parses the shebang,
    /// compiles the body and caches it under its SHA-1, which is returned.
    /// A body already cached is not compiled again. The error is the reply.
    pub fn load(&mut self, body: &[u8]) -> Result<String, Frame> {
        let sha = sha1_hex(body);
        let key = sha_key(sha.as_bytes()).ok_or_else(|| Frame::error(NOSCRIPT))?;
        if self.scripts.contains_key(&key) {
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
        let id = self.next_id;
        self.state.store.raw_set(id, func).map_err(internal)?;
        self.next_id += 1;
        self.scripts.insert(
            key,
            Script {
                body: Bytes::copy_from_slice(body),
                flags: parsed.flags,
                id,
            },
        );
        Ok(sha)
    }

    /// `SCRIPT EXISTS` for one id (case-insensitive, as upstream).
    pub fn exists(&self, sha: &[u8]) -> bool {
        sha_key(sha).is_some_and(|k| self.scripts.contains_key(&k))
    }

    /// The flags and body of a cached script (the engine checks the flags
    /// before running it: `no-writes`, `allow-oom`, …).
    pub fn script(&self, sha: &[u8]) -> Option<(ScriptFlags, Bytes)> {
        let s = self.scripts.get(&sha_key(sha)?)?;
        Some((s.flags, s.body.clone()))
    }

    /// The flags of a cached script (no copy of its body: the hot path of
    /// `EVALSHA`).
    pub fn script_flags(&self, sha: &[u8]) -> Option<ScriptFlags> {
        self.scripts.get(&sha_key(sha)?).map(|s| s.flags)
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
        self.next_id = 1;
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
            Ok(sha) => self.evalsha(host, sha.as_bytes(), keys, args),
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
        match self.find(sha) {
            Some(found) => self.run(host, found, keys, args),
            None => Frame::error(NOSCRIPT),
        }
    }

    /// A cached script by id (case-insensitive), for the engine to check
    /// its flags and then [`Interpreter::run`] it with one cache lookup.
    pub fn find(&self, sha: &[u8]) -> Option<FoundScript<'_>> {
        let (key, script) = self.scripts.get_key_value(&sha_key(sha)?)?;
        Some(FoundScript { key, script })
    }

    /// Runs a script [`Interpreter::find`] found (`EVALSHA` without a
    /// second lookup): the reply, or the error that ended it.
    pub fn run(
        &self,
        host: &mut dyn Host,
        found: FoundScript<'_>,
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Frame {
        let key = found.key;
        self.shared.set_resp(Protocol::Resp2);
        self.shared.set_repl(3);
        let result = self.run_script(host, found.script.id, keys, args);
        let counted = match &result {
            Ok(Ran::Scalar(Scalar::Error { counted, .. })) => *counted,
            Ok(Ran::Value(_, v)) => error_counted(v),
            _ => false,
        };
        self.shared.error_counted.store(counted, Ordering::Relaxed);
        match result {
            Ok(Ran::Scalar(value)) => scalar_to_frame(value, self.shared.resp()),
            Ok(Ran::Value(true, value)) => lua_to_frame(&value, self.shared.resp()),
            // The key is lower-case hex.
            Ok(Ran::Value(false, err)) => script_error(&err, &String::from_utf8_lossy(key)),
            Err(e) => internal(e),
        }
    }

    /// `SCRIPT DEBUG SYNC`: starts a Lua debugger session (LDB) on this
    /// thread for the script `body` about to be run with `EVAL`. The
    /// script stops at its first line; the console goes through
    /// [`Host::ldb_send`] and [`Host::ldb_poll`] of the run's host. A
    /// stop is forced after `timeout_ms` without one (0: 5 seconds).
    /// Pair with [`Interpreter::debug_end`].
    pub fn debug_begin(&mut self, body: &[u8], timeout_ms: u64) -> Result<(), Frame> {
        crate::ldb::begin(&self.shared, body, timeout_ms);
        crate::ldb_raw::install_hook(&self.state.lua).map_err(internal)
    }

    /// Ends the debugger session: the usual hook is back, and the
    /// session's last console lines (with `<endsession>`) are returned,
    /// encoded, for the client; the script's reply goes after them.
    pub fn debug_end(&mut self) -> Vec<u8> {
        install_tick_hook(&self.state.lua, &self.shared);
        crate::ldb::end()
    }

    /// Whether the last run's error reply was counted in the server's
    /// error statistics already (by the command that failed in it).
    pub fn last_error_counted(&self) -> bool {
        self.shared.error_counted.load(Ordering::Relaxed)
    }

    fn run_script(
        &self,
        host: &mut dyn Host,
        id: i64,
        keys: &[Bytes],
        args: &[Bytes],
    ) -> mlua::Result<Ran> {
        let st = &self.state;
        with_host(&st.lua, &self.shared, host, || {
            run_protected(
                &st.lua,
                &st.handler,
                &st.store,
                id,
                Lists::Globals(&st.genv),
                keys,
                args,
            )
        })
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
