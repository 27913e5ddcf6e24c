-- Peek at one limit. KEYS: its keys. ARGV: now, kind, max, param.
-- Returns {used, held, remaining, reset ms}.
local now = now_ms(ARGV[1])
local kind, m, param = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if kind == 'q' or kind == 't' then
  local _, debt = rate_load(KEYS[1], now, m)
  local reset = 0
  if m > 0 then reset = ceildiv(debt, m) end
  return {ceildiv(debt, param), 0, math.floor(math.max(m * param - debt, 0) / param), reset}
elseif kind == 'b' then
  local idx, pend = period(param, now)
  budget_purge(KEYS[1], KEYS[2], now)
  local used, held = budget_load(KEYS[1], idx)
  -- The stored decimal strings, exact even for money above 2^53 picodollars.
  local st = redis.call('HMGET', KEYS[1], 'p', 'used', 'held')
  local used_s = '0'
  if tonumber(st[1]) == idx and st[2] then used_s = st[2] end
  return {used_s, st[3] or '0', math.max(m - used - held, 0), pend - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZCARD', KEYS[1])
return {live, 0, math.max(m - live, 0), 0}
