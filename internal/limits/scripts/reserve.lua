-- Reserve: check every limit, then take from all or from none.
-- KEYS[1] the reservation record, then per limit its keys: one for rates
-- and concurrency, two for budgets (hash, hold-expiry zset).
-- ARGV: now ('' = TIME), id, ttl ms, idempotency ms, tokens, cost, n,
-- record (1/0), then per limit: kind (q t c b), max, param, unit (t $).
-- Returns {admitted, then per limit: allowed (1, 0, -1 too large),
-- remaining, reset ms, retry ms}.
local now = now_ms(ARGV[1])
local id, ttl, idem = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local tok_s, cost_s = ARGV[5], ARGV[6]
local n = tonumber(ARGV[7])
local out, plan = {1}, {}
local ki = 2
for i = 1, n do
  local a = 8 + (i - 1) * 4
  local kind, m, param, unit = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), ARGV[a + 4]
  local ok, rem, reset, retry = 0, 0, 0, 0
  local p = {kind = kind, k = KEYS[ki], m = m, param = param}
  if kind == 'q' or kind == 't' then
    local c = 1
    if kind == 't' then c = tonumber(tok_s) end
    local at, debt = rate_load(p.k, now, m)
    local cap = m * param
    local nd = debt
    if c > m then
      ok = -1
    elseif debt + c * param <= cap then
      ok, nd = 1, debt + c * param
    else
      retry = ceildiv(debt + c * param - cap, m)
    end
    rem = math.floor(math.max(cap - nd, 0) / param)
    if m > 0 then reset = ceildiv(nd, m) end
    p.at, p.debt = at, nd
    ki = ki + 1
  elseif kind == 'b' then
    p.x = KEYS[ki + 1]
    local c_s = tok_s
    if unit == '$' then c_s = cost_s end
    local c = tonumber(c_s)
    local idx, pend = period(param, now)
    budget_purge(p.k, p.x, now)
    local used, held = budget_load(p.k, idx)
    reset = pend - now
    rem = m - used - held
    if c > m then
      ok = -1
    elseif c <= rem then
      ok, rem = 1, rem - c
    elseif c > m - used then
      retry = reset
    else
      retry = math.min(1000, reset)
    end
    p.c, p.c_s, p.idx, p.pend = c, c_s, idx, pend
    ki = ki + 2
  elseif kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', p.k, '-inf', now)
    local live = redis.call('ZCARD', p.k)
    if live < m then
      ok, rem = 1, m - live - 1
    else
      retry = 1000
      local f = redis.call('ZRANGE', p.k, 0, 0, 'WITHSCORES')
      if f[2] then retry = math.min(1000, math.max(tonumber(f[2]) - now, 1)) end
    end
    ki = ki + 1
  end
  if ok ~= 1 then out[1] = 0 end
  plan[i] = p
  out[#out + 1] = ok
  out[#out + 1] = rem
  out[#out + 1] = reset
  out[#out + 1] = retry
end
if out[1] == 0 then return out end
for i = 1, n do
  local p = plan[i]
  if p.kind == 'q' or p.kind == 't' then
    rate_store(p.k, p.at, p.debt, p.m)
  elseif p.kind == 'b' then
    budget_rollover(p.k, p.idx)
    if p.c > 0 then
      redis.call('HSET', p.k, 'h:' .. id, p.c_s)
      redis.call('HINCRBY', p.k, 'held', p.c_s)
      redis.call('ZADD', p.x, now + ttl, id)
      ttl_at_least(p.x, p.pend - now + ttl)
    end
    ttl_at_least(p.k, p.pend - now + ttl)
  elseif p.kind == 'c' then
    redis.call('ZADD', p.k, now + ttl, id)
    ttl_at_least(p.k, ttl)
  end
end
if ARGV[8] == '1' then redis.call('SET', KEYS[1], 'h', 'PX', ttl + idem) end
return out
