-- Append: adds messages at the end, creating the session if needed.
-- ARGV: ttl_ms, id, expected version (0 = any), first version (if new),
--       count, tokens, users, then count JSON messages, then count weights.
-- Returns {1, meta} or {-1} (version conflict).
local now = now_ms()
local ttl = tonumber(ARGV[1])
local expected = tonumber(ARGV[3])
local ver = tonumber(redis.call('HGET', KEYS[1], 'v'))
if expected ~= 0 and ver ~= expected then return {-1} end
if not ver then
  local v0 = tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], 'c', now, 'h', v0, 't', 0, 'n', 0, 'k', 0, 'st', '', 'sn', 0, 'sk', 0)
  ver = v0 - 1
end
local n = tonumber(ARGV[5])
-- RPUSH in chunks: unpack has a stack limit.
local i = 1
while i <= n do
  local j = math.min(i + 499, n)
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 7 + i, 7 + j))
  redis.call('RPUSH', KEYS[3], unpack(ARGV, 7 + n + i, 7 + n + j))
  i = j + 1
end
redis.call('HINCRBY', KEYS[1], 'n', n)
redis.call('HINCRBY', KEYS[1], 'k', ARGV[6])
redis.call('HINCRBY', KEYS[1], 't', ARGV[7])
redis.call('HSET', KEYS[1], 'u', now, 'a', now, 'v', ver + 1)
touch(now, ttl, ARGV[2])
return {1, meta()}
