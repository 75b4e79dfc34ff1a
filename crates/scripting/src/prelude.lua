-- The sandbox and the Lua half of the `redis` library, run once per
-- interpreter with the chunk name "=redis_lib" (frames of this chunk are
-- skipped when an error is located in the user's script).
-- Called with the bridge table B (Rust primitives); returns the proxy that
-- scripts see as their globals and the function that runs one script.
local B = ...
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

local function protect(t)
  local p = {}
  backing[p] = t
  local mt = {__index = t, __newindex = deny}
  local view = {}
  backing[view] = mt
  raw_setmetatable(view, {__index = mt, __newindex = deny, __metatable = view})
  mt.__metatable = view
  raw_setmetatable(p, mt)
  return p
end

-- Base functions that would see through (or break) the proxies.
local function unproxy(t) return backing[t] or t end
G.rawset = function(t, k, v)
  if backing[t] then error(RO, 0) end
  return raw_rawset(t, k, v)
end
G.rawget = function(t, k) return raw_rawget(unproxy(t), k) end
local function next_(t, k) return raw_next(unproxy(t), k) end
G.next = next_
G.pairs = function(t)
  if type(t) ~= "table" then error("bad argument #1 to 'pairs' (table expected, got " .. type(t) .. ")", 2) end
  return next_, t, nil
end
G.setmetatable = function(t, mt)
  if backing[t] then error(RO, 0) end
  return raw_setmetatable(t, mt)
end

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
G.pcall = function(...) return pcall_result(raw_pcall(...)) end
-- Handlers given to xpcall see the values upstream raises.
G.xpcall = function(f, h)
  return raw_xpcall(f, function(e)
    if type(e) == "userdata" then e = B.decode(e) end
    return h(e)
  end)
end

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
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = B.version
redis.REDIS_VERSION_NUM = B.version_num

-- The error handler: error tables keep their message, anything else
-- becomes "ERR <text>"; both learn where in the user's script it happened.
local function handler(e)
  if type(e) == "userdata" then e = B.decode(e) end
  if type(e) ~= "table" or backing[e] then e = {err = "ERR " .. tostring(e)} end
  local src, line = B.where()
  if src then
    raw_rawset(e, "source", src)
    raw_rawset(e, "line", line)
  end
  return e
end
G.__redis__err__handler = handler

-- Only what 7.0 leaves to scripts.
local keep = {
  assert = true, collectgarbage = true, coroutine = true, error = true, gcinfo = true,
  getmetatable = true, ipairs = true, load = true, loadstring = true, math = true,
  next = true, pairs = true, pcall = true, rawequal = true, rawget = true, rawset = true,
  select = true, setmetatable = true, string = true, table = true, tonumber = true,
  tostring = true, type = true, unpack = true, xpcall = true, _VERSION = true,
  __redis__err__handler = true,
}
local names = {}
for k in raw_next, G do names[#names + 1] = k end
for _, k in ipairs(names) do
  if not keep[k] then raw_rawset(G, k, nil) end
end
raw_rawset(G, "redis", redis)
raw_rawset(G, "bit", B.bit)
raw_rawset(G, "struct", B.struct)
-- Library tables have no visible metatable, as upstream's read-only ones.
local libs = {}
for _, lib in ipairs({"bit", "coroutine", "math", "string", "struct", "table", "redis"}) do
  local p = protect(raw_rawget(G, lib))
  libs[p] = true
  raw_rawset(G, lib, p)
end
G.getmetatable = function(...)
  if select("#", ...) == 0 then error("bad argument #1 to 'getmetatable' (value expected)", 2) end
  local t = ...
  if libs[t] then return nil end
  return raw_getmetatable(t)
end
-- Strings index the protected string library; their metatable is read-only.
local smt = raw_getmetatable("")
smt.__index = raw_rawget(G, "string")
local sview = {}
backing[sview] = smt
raw_setmetatable(sview, {__index = smt, __newindex = deny, __metatable = sview})
smt.__metatable = sview

-- Globals: reading a missing one is an error, writing any is.
local env = {}
backing[env] = G
local genv_mt = {
  __index = function(_, k)
    local v = raw_rawget(G, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = deny,
}
local gview = {}
backing[gview] = genv_mt
raw_setmetatable(gview, {__index = genv_mt, __newindex = deny, __metatable = gview})
genv_mt.__metatable = gview
raw_setmetatable(env, genv_mt)
raw_rawset(G, "_G", env)

-- Chunks compiled by scripts see the same read-only globals.
local function with_env(f, ...)
  if f then setfenv(f, env) end
  return f, ...
end
G.loadstring = function(...) return with_env(raw_loadstring(...)) end
G.load = function(...) return with_env(raw_load(...)) end

local function run(f) return raw_xpcall(f, handler) end
return env, run
