-- Renew a held reservation: restart the TTL of its record, holds and leases.
-- KEYS and ARGV (now, id, ttl ms, idempotency ms, n, then per limit: kind)
-- as for reserve. Returns 1 renewed, 0 already finished, -1 unknown.
local now = now_ms(ARGV[1])
local id, ttl, idem = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local st = redis.call('GET', KEYS[1])
if not st then return -1 end
if st ~= 'h' then return 0 end
redis.call('SET', KEYS[1], 'h', 'PX', ttl + idem)
local ki = 2
for i = 1, n do
  local kind = ARGV[5 + i]
  if kind == 'c' then
    local s = tonumber(redis.call('ZSCORE', KEYS[ki], id))
    if s and s > now then
      redis.call('ZADD', KEYS[ki], now + ttl, id)
      ttl_at_least(KEYS[ki], ttl)
    end
  elseif kind == 'b' then
    local s = tonumber(redis.call('ZSCORE', KEYS[ki + 1], id))
    if s and s > now then
      redis.call('ZADD', KEYS[ki + 1], now + ttl, id)
      ttl_at_least(KEYS[ki + 1], ttl)
      ttl_at_least(KEYS[ki], ttl)
    end
    ki = ki + 1
  end
  ki = ki + 1
end
return 1
