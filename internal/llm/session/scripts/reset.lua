-- Reset: empties the session, keeps it.
-- ARGV: ttl_ms, id. Returns {0} (not found) or {1, meta}.
local ver = tonumber(redis.call('HGET', KEYS[1], 'v'))
if not ver then return {0} end
local now = now_ms()
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 't', 0, 'n', 0, 'k', 0, 'st', '', 'sn', 0, 'sk', 0,
  'u', now, 'a', now, 'v', ver + 1, 'h', ver + 1)
touch(now, tonumber(ARGV[1]), ARGV[2])
return {1, meta()}
