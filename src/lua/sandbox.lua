-- respire's Lua sandbox, run once when an interpreter is made (chunk
-- `@respire`). Redis 7.0's rules: scripts see a read-only global table
-- and read-only libraries, reading a global that does not exist is an
-- error, and an error raised anywhere becomes a table with `err`,
-- `source` and `line` (the script's line, not the library's).
--
-- The host has set: `__respire` (a table of its Rust functions: call,
-- pcall, sha1hex, log, setresp, set_repl, acl_check, random, randomseed,
-- register_function) and the libraries (cjson, cmsgpack, bit, struct).
-- This chunk returns the objects Rust keeps: the protected environment,
-- the error handler, the function that makes read-only proxies, and the
-- loader of library code (FUNCTION LOAD).

local host = __respire
__respire = nil
local dbg = debug
debug = nil

local G = _G
local rawset, rawget, setmetatable, getmetatable = rawset, rawget, setmetatable, getmetatable
local type, tostring, error, select, unpack, next = type, tostring, error, select, unpack, next
local pcall, xpcall, setfenv, loadstring, load = pcall, xpcall, setfenv, loadstring, load

-- Read-only proxies: reads go to the real table, writes fail.
local protected = setmetatable({}, { __mode = 'k' })
local function readonly_error()
  error('Attempt to modify a readonly table', 2)
end
-- From a function the script called (rawset, setmetatable): no position,
-- as Redis's C check gives none.
local function readonly_call_error()
  error('Attempt to modify a readonly table', 0)
end
-- A proxy whose own metatable stays hidden.
local function freeze(t)
  local proxy = {}
  protected[proxy] = t
  setmetatable(proxy, { __index = t, __newindex = readonly_error, __metatable = false })
  return proxy
end
-- getmetatable of a proxy answers a read-only table whose `__index` is
-- the proxy (as Redis's read-only globals answer theirs).
local function readonly(t, index)
  local proxy = {}
  protected[proxy] = t
  setmetatable(proxy, {
    __index = index or t,
    __newindex = readonly_error,
    __metatable = freeze({ __index = proxy }),
  })
  return proxy
end

-- The redis table: Rust's functions, wrapped so that an error reply of
-- redis.call is raised as a Lua error (a table with `err`).
-- redis.call and the other Rust functions raise an error table by
-- leaving it with `take_error` and raising a marker (see convert.rs).
local redis = {}
local take_error = host.take_error
local function error_value(err)
  if type(err) == 'userdata' then
    local t = take_error()
    if t then return t end
    local text = tostring(err):gsub('^runtime error: ', ''):gsub('\nstack traceback:.*$', '')
    return { err = 'ERR ' .. text }
  end
  return err
end
redis.call = host.call
redis.pcall = host.pcall
redis.sha1hex = host.sha1hex
redis.error_reply = host.error_reply
redis.status_reply = host.status_reply
redis.log = host.log
redis.LOG_DEBUG = 0
redis.LOG_VERBOSE = 1
redis.LOG_NOTICE = 2
redis.LOG_WARNING = 3
redis.setresp = host.setresp
redis.set_repl = host.set_repl
redis.replicate_commands = function() return true end
redis.REPL_NONE = 0
redis.REPL_AOF = 1
redis.REPL_SLAVE = 2
redis.REPL_REPLICA = 2
redis.REPL_ALL = 3
redis.acl_check_cmd = host.acl_check
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REDIS_VERSION = host.version
redis.REDIS_VERSION_NUM = host.version_num
local register_function = host.register_function

-- math.random and math.randomseed: Redis's deterministic generator.
math.random = host.random
math.randomseed = host.randomseed

-- pcall as Redis has it: an error table with `err` comes back as its
-- text.
local function pack(...) return { n = select('#', ...), ... } end
-- A killed script's error is raised again past every pcall, xpcall and
-- coroutine that would catch it (Redis raises it on every line).
local killed = host.killed
local function redis_pcall(f, ...)
  local r = pack(pcall(f, ...))
  if not r[1] then
    if killed() then error(r[2], 0) end
    local err = error_value(r[2])
    if type(err) == 'table' and type(err.err) == 'string' then
      return false, err.err
    end
  end
  return unpack(r, 1, r.n)
end

-- The protected environment every script runs in.
local env
local function missing_global(_, name)
  local v = rawget(G, name)
  if v == nil then
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end
  return v
end

-- rawset and setmetatable refuse the proxies; chunks made by a script
-- run in its environment.
local function safe_rawset(t, k, v)
  if protected[t] then readonly_call_error() end
  return rawset(t, k, v)
end
local function safe_setmetatable(t, mt)
  if protected[t] then readonly_call_error() end
  return setmetatable(t, mt)
end
-- Only source text loads (Redis's Lua refuses precompiled chunks, whose
-- bytecode Lua 5.1 does not check).
local function binary(s)
  return type(s) == 'string' and s:byte(1) == 27
end
local binary_error = [[[string "?"]:1: unexpected symbol near 'char(27)']]
local function safe_loadstring(s, name)
  if binary(s) then return nil, binary_error end
  local f, e = loadstring(s, name)
  if f then setfenv(f, env) end
  return f, e
end
local function safe_load(fn, name)
  if type(fn) ~= 'function' then return load(fn, name) end
  local parts = {}
  while true do
    local piece = fn()
    if piece == nil or piece == '' then break end
    if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  return safe_loadstring(table.concat(parts), name or '=(load)')
end

G.rawset = safe_rawset
G.setmetatable = safe_setmetatable
G.loadstring = safe_loadstring
G.load = safe_load
G.pcall = redis_pcall
G.xpcall = function(f, h)
  local r = pack(xpcall(f, h))
  if not r[1] and killed() then error(r[2], 0) end
  return unpack(r, 1, r.n)
end
do
  local co = rawget(G, 'coroutine')
  local resume = co.resume
  co.resume = function(...)
    local r = pack(resume(...))
    if not r[1] and killed() then error(r[2], 0) end
    return unpack(r, 1, r.n)
  end
end
G.print = nil
G.dofile = nil
G.loadfile = nil
G.module = nil
G.require = nil
G.redis = readonly(redis)
for _, lib in ipairs({ 'string', 'table', 'math', 'cjson', 'cmsgpack', 'bit', 'struct', 'coroutine' }) do
  if rawget(G, lib) ~= nil then G[lib] = readonly(rawget(G, lib)) end
end
env = readonly(G, missing_global)
G._G = env
-- Strings' methods come from the read-only string table, and their
-- metatable cannot be changed either.
do
  local smt = getmetatable('')
  smt.__index = G.string
  smt.__metatable = freeze({ __index = G.string })
end
-- New globals on the real table fail too (a chunk that escaped the
-- proxy).
setmetatable(G, { __newindex = readonly_error, __index = missing_global, __metatable = false })

-- The error handler: whatever was raised becomes a table with `err`,
-- and the position of the script's own code that raised it.
local function handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '@respire') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  err = error_value(err)
  if type(err) ~= 'table' then
    err = { err = 'ERR ' .. tostring(err) }
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

-- Runs f(...) under the handler: true and the results, or false and the
-- error table.
local function run(f, ...)
  local args = pack(...)
  return xpcall(function() return f(unpack(args, 1, args.n)) end, handler)
end

-- A library's code (FUNCTION LOAD) runs in an environment of its own
-- over the scripts' one, where `redis` is, while the library loads,
-- register_function with the logging and version fields, and, when its
-- functions run later, the whole API.
-- While the code loads, `redis` is the library API alone and no other
-- global exists (Redis's library load environment); when its functions
-- run, they see what scripts see.
local loading = false
local load_api = {
  register_function = register_function,
  log = redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = redis.REDIS_VERSION,
  REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
local function nonexistent(name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 3)
end
-- The load-time `redis` (a library may keep it): its API, whose
-- register_function then refuses, and nothing else.
local lib_redis = readonly({}, function(_, k)
  local v = load_api[k]
  if v == nil and loading then nonexistent(k) end
  return v
end)
local lib_env = readonly({}, function(_, k)
  if k == 'redis' then
    if loading then return lib_redis end
    return G.redis
  end
  local v = not loading and rawget(G, k)
  if v == nil or v == false then nonexistent(k) end
  return v
end)

local function load_library(code)
  if binary(code) then return false, binary_error end
  local f, e = loadstring(code, '@user_function')
  if not f then return false, e end
  setfenv(f, lib_env)
  loading = true
  local r = pack(run(f))
  loading = false
  return unpack(r, 1, r.n)
end

return env, run, load_library
