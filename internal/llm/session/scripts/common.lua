-- Helpers shared by the Pylon session scripts (prepended by redis.go).
-- KEYS of a session script: 1 meta (HASH), 2 messages (LIST of JSON),
-- 3 weights (LIST, one per message: tokens*2 + 1 if a user message),
-- 4 the scope's index (ZSET id -> last access ms). All four carry the scope
-- as their hash tag: one Cluster slot, so each script is atomic.
if redis.replicate_commands then pcall(redis.replicate_commands) end

-- The server's clock in ms: one clock for every node.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Restarts the idle TTL of the session's keys and moves it to the front of
-- the index; drops index entries whose session has expired (an entry's
-- score is the last access, and every access restarts the TTL).
local function touch(now, ttl, id)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('ZADD', KEYS[4], now, id)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - ttl))
  if redis.call('PTTL', KEYS[4]) < ttl then redis.call('PEXPIRE', KEYS[4], ttl) end
end

-- The metadata in the order redis.go reads it.
local function meta()
  return redis.call('HMGET', KEYS[1], 'c', 'u', 'a', 'v', 't', 'n', 'k', 'st', 'sn', 'sk')
end
