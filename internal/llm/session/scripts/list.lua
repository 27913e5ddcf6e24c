-- List: the scope's index, most recently accessed first, after dropping
-- the entries of expired sessions. KEYS: 1 the index.
-- ARGV: ttl_ms, cursor score ('' for the first page), count.
-- Returns [id, score, ...]: from the cursor's score down, count entries plus
-- every entry at the cursor's score (the caller drops those at or before
-- the cursor's id).
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])))
local count = tonumber(ARGV[3])
if ARGV[2] == '' then
  return redis.call('ZREVRANGE', KEYS[1], 0, count - 1, 'WITHSCORES')
end
local ties = redis.call('ZCOUNT', KEYS[1], ARGV[2], ARGV[2])
return redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], '-inf', 'WITHSCORES', 'LIMIT', 0, count + ties)
