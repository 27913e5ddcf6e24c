-- Load / Stat: reads the session and restarts its TTL.
-- ARGV: ttl_ms, id, '1' to return the messages.
-- Returns {0} (not found), {1, meta} or {1, meta, messages}.
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local now = now_ms()
redis.call('HSET', KEYS[1], 'a', now)
touch(now, tonumber(ARGV[1]), ARGV[2])
if ARGV[3] == '1' then return {1, meta(), redis.call('LRANGE', KEYS[2], 0, -1)} end
return {1, meta()}
