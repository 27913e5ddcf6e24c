-- Delete: erases the session's keys and its index entry.
-- ARGV: id. Returns 1 if the session existed, else 0.
local n = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
return n
