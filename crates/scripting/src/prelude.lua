-- The sandbox and the Lua half of the `redis` library, run once per
-- interpreter with the chunk name "=redis_lib" (frames of this chunk are
-- skipped when an error is located in the user's script).
-- Called with the bridge table B (Rust primitives); returns the proxy that
-- scripts see as their globals and the error handler scripts run under.
-- With B.functions set it builds the state of the function engine instead
-- (FUNCTION LOAD / FCALL): no KEYS/ARGV, no error handler global, a
-- smaller `redis` table, and it returns the environment of library chunks,
-- the function that runs a chunk, the error handler and the switch
-- between the load-time and the run-time globals.
local B = ...
local functions = B.functions
local G = _G
local type, error, select, tostring, tonumber = type, error, select, tostring, tonumber
local raw_rawset, raw_rawget, raw_next = rawset, rawget, next
local raw_setmetatable, raw_getmetatable = setmetatable, getmetatable
local raw_pcall, raw_xpcall = pcall, xpcall
local raw_loadstring, raw_load, setfenv = loadstring, load, setfenv
local find, sub = string.find, string.sub

local RO = "Attempt to modify a readonly table"
-- proxy -> the table it stands for
local backing = raw_setmetatable({}, {__mode = "k"})
local function deny() error(RO, 2) end

-- What getmetatable shows of a protected metatable: a read-only table
-- with its __index only (upstream's metatables have no __newindex: the
-- tables are read-only by a flag), or `index` in its place.
local function hide(mt, index)
  local shown = {__index = index or mt.__index}
  local view = {}
  backing[view] = shown
  raw_setmetatable(view, {__index = shown, __newindex = deny, __metatable = view})
  mt.__metatable = view
end

local function protect(t)
  local p = {}
  backing[p] = t
  local mt = {__index = t, __newindex = deny}
  hide(mt)
  raw_setmetatable(p, mt)
  return p
end

-- Base functions that would see through (or break) the proxies: Rust
-- functions (see baselib.rs) that hand over to the helpers below.
G.rawset = B.g_rawset
G.rawget = B.g_rawget
G.next = B.g_next
G.pairs = B.g_pairs
G.setmetatable = B.g_setmetatable

-- 7.0's pcall hands back the message of an error table ({err=...}).
local function pcall_result(ok, ...)
  if not ok then
    local e = ...
    if type(e) == "userdata" then e = B.decode(e) end
    if type(e) == "table" and raw_rawget(e, "err") ~= nil then e = raw_rawget(e, "err") end
    return false, e
  end
  return ok, ...
end
local function lua_pcall(...) return pcall_result(raw_pcall(...)) end
G.pcall = B.g_pcall
-- Handlers given to xpcall see the values upstream raises.
local function lua_xpcall(f, h)
  return raw_xpcall(f, function(e)
    if type(e) == "userdata" then e = B.decode(e) end
    return h(e)
  end)
end
G.xpcall = B.g_xpcall

-- math.random / math.randomseed on the server's rand48 generator.
math.random = B.random
math.randomseed = B.randomseed

-- The redis library.
local redis = {}
redis.call = B.call
redis.pcall = B.pcall
redis.acl_check_cmd = B.acl
local function error_text(e)
  if sub(e, 1, 1) == "-" then e = sub(e, 2) end
  if not find(e, " ", 1, true) then e = "ERR " .. e end
  return e
end
redis.error_reply = function(...)
  local e = ...
  if select("#", ...) ~= 1 or type(e) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {err = error_text(e)}
end
redis.status_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {ok = s}
end
redis.sha1hex = B.sha1hex
redis.log = B.log
redis.setresp = B.setresp
redis.set_repl = B.set_repl
if not functions then
  redis.replicate_commands = function() return true end
  redis.breakpoint = B.breakpoint
  redis.debug = B.debug
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = B.version
redis.REDIS_VERSION_NUM = B.version_num

-- The error handler: error tables keep their message, anything else
-- becomes "ERR <text>"; both learn where in the user's script it happened.
local function handler(e)
  if type(e) == "userdata" then e = B.decode(e) end
  if type(e) ~= "table" or backing[e] then e = {err = "ERR " .. tostring(e)} end
  -- A number is a message too (as lua_tostring sees it).
  local msg = raw_rawget(e, "err")
  if type(msg) == "number" then raw_rawset(e, "err", tostring(msg)) end
  local src, line = B.where()
  if src then
    raw_rawset(e, "source", src)
    raw_rawset(e, "line", line)
  end
  return e
end
if not functions then G.__redis__err__handler = handler end

-- Only what 7.0 leaves to scripts.
local keep = {
  assert = true, collectgarbage = true, coroutine = true, error = true, gcinfo = true,
  getmetatable = true, ipairs = true, load = true, loadstring = true, math = true,
  next = true, pairs = true, pcall = true, rawequal = true, rawget = true, rawset = true,
  select = true, setmetatable = true, string = true, table = true, tonumber = true,
  tostring = true, type = true, unpack = true, xpcall = true, _VERSION = true,
  __redis__err__handler = not functions,
}
local names = {}
for k in raw_next, G do names[#names + 1] = k end
for _, k in ipairs(names) do
  if not keep[k] then raw_rawset(G, k, nil) end
end
raw_rawset(G, "redis", redis)
raw_rawset(G, "bit", B.bit)
raw_rawset(G, "struct", B.struct)
raw_rawset(G, "cjson", B.cjson)
raw_rawset(G, "cmsgpack", B.cmsgpack)
-- Library tables have no visible metatable, as upstream's read-only ones.
local libs = {}
for _, lib in ipairs({"bit", "cjson", "cmsgpack", "coroutine", "math", "string", "struct", "table", "redis"}) do
  local p = protect(raw_rawget(G, lib))
  libs[p] = true
  raw_rawset(G, lib, p)
end
G.getmetatable = B.g_getmetatable
-- Strings index the protected string library; their metatable is read-only.
local smt = raw_getmetatable("")
smt.__index = raw_rawget(G, "string")
hide(smt)

-- Globals: reading a missing one is an error, writing any is. Reads go
-- from the proxy to G through __index tables (no Lua call for a global
-- that exists); G's own __index raises the error, with the position of
-- the code that read (level 2: the VM calls it from that code's frame).
-- Both metatables show `global_index`, a function doing the same.
local function missing_global(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local function global_index(_, k)
  local v = raw_rawget(G, k)
  if v == nil then
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end
  return v
end
local g_mt = {__index = missing_global}
hide(g_mt, global_index)
raw_setmetatable(G, g_mt)
local env = {}
backing[env] = G
local genv_mt = {__index = G, __newindex = deny}
hide(genv_mt, global_index)
raw_setmetatable(env, genv_mt)
raw_rawset(G, "_G", env)

-- Chunks compiled by scripts see the same read-only globals.
local function with_env(f, ...)
  if f then setfenv(f, env) end
  return f, ...
end
G.loadstring = B.g_loadstring
G.load = B.g_load

B.g_init({
  backing = backing, libs = libs, getmetatable = raw_getmetatable, next = raw_next,
  pcall = lua_pcall, xpcall = lua_xpcall,
  loadstring = function(...) return with_env(raw_loadstring(...)) end,
  load = function(...) return with_env(raw_load(...)) end,
})

-- Scripts and function callbacks are run by the Rust side (raw.rs), which
-- calls them from B.store under `handler` with the Lua API. `run` is for
-- the rest (library chunks at load time). Only the first value is kept.
local function run(id, f)
  local ok, v = raw_xpcall(f or B.store[id], handler)
  return ok, v
end
if not functions then return env, handler end

-- The function engine. Library chunks and every closure they create have
-- `fenv` as their environment; its lookups go to the load-time globals
-- while FUNCTION LOAD runs the chunk, and to the run-time globals (those of
-- EVAL) otherwise, so callbacks see the full API when they are called.
local function missing(k)
  return "Script attempted to access nonexistent global variable '" .. tostring(k) .. "'"
end
-- The `redis` table seen at load time: only what registers and logs.
local api = {
  register_function = B.register_function, log = B.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = B.version, REDIS_VERSION_NUM = B.version_num,
}
local function strict(t)
  local p = {}
  backing[p] = t
  local mt = {
    __index = function(_, k)
      local v = raw_rawget(t, k)
      if v == nil then error(missing(k), 2) end
      return v
    end,
    __newindex = deny,
  }
  hide(mt)
  raw_setmetatable(p, mt)
  return p, mt
end
local _, load_mt = strict({redis = (strict(api))})
local load_index = load_mt.__index
local run_index = genv_mt.__index
local fenv = {}
backing[fenv] = G
local fenv_mt = {__index = run_index, __newindex = deny}
hide(fenv_mt, global_index)
raw_setmetatable(fenv, fenv_mt)
local function loading(on)
  raw_rawset(fenv_mt, "__index", on and load_index or run_index)
end
return fenv, run, handler, loading
