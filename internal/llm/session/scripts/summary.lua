-- SetSummary: replaces the oldest messages with a summary, if only appends
-- happened since the expected version (h is the version at which the oldest
-- messages last changed: creation, reset, summary).
-- ARGV: ttl_ms, id, expected version, replaced count, text, text tokens.
-- Returns {0} (not found), {-1} (conflict), {-2} (replaced out of range)
-- or {1, meta}.
local st = redis.call('HMGET', KEYS[1], 'v', 'h', 'n', 'sn')
local ver = tonumber(st[1])
if not ver then return {0} end
local expected = tonumber(ARGV[3])
if tonumber(st[2]) > expected or expected > ver then return {-1} end
local r = tonumber(ARGV[4])
if r < 0 or r > tonumber(st[3]) then return {-2} end
local tokens, users = 0, 0
if r > 0 then
  for _, x in ipairs(redis.call('LRANGE', KEYS[3], 0, r - 1)) do
    local w = tonumber(x)
    tokens = tokens + math.floor(w / 2)
    users = users + w % 2
  end
  redis.call('LTRIM', KEYS[2], r, -1)
  redis.call('LTRIM', KEYS[3], r, -1)
end
local sk = tonumber(ARGV[6])
local now = now_ms()
-- 0 - x, not -x: Lua writes -0 as "-0", which HINCRBY refuses.
redis.call('HINCRBY', KEYS[1], 'n', 0 - r)
redis.call('HINCRBY', KEYS[1], 't', 0 - users)
redis.call('HINCRBY', KEYS[1], 'k', 0 - tokens)
redis.call('HSET', KEYS[1], 'st', ARGV[5], 'sn', tonumber(st[4]) + r, 'sk', sk,
  'u', now, 'a', now, 'v', ver + 1, 'h', ver + 1)
touch(now, tonumber(ARGV[1]), ARGV[2])
return {1, meta()}
