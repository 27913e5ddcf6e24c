-- Settle ('s') or refund ('f') a reservation, once.
-- KEYS as for reserve. ARGV: now, id, op, ttl ms, idempotency ms, estimated
-- tokens, estimated cost, actual tokens, actual cost, n, then per limit:
-- kind, max, param, unit.
-- Returns 1 applied, 0 already finished, -1 unknown (expired) reservation.
local now = now_ms(ARGV[1])
local id, op, ttl, idem = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local est_tok = tonumber(ARGV[6])
local act_tok_s, act_cost_s = ARGV[8], ARGV[9]
local n = tonumber(ARGV[10])
local st = redis.call('GET', KEYS[1])
if not st then return -1 end
if st ~= 'h' then return 0 end
local ki = 2
for i = 1, n do
  local a = 10 + (i - 1) * 4
  local kind, m, param, unit = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), ARGV[a + 4]
  local k = KEYS[ki]
  if kind == 't' then
    local delta = -est_tok
    if op == 's' then delta = tonumber(act_tok_s) - est_tok end
    local at, debt = rate_load(k, now, m)
    if delta >= 0 and delta > math.floor((MAXS - debt) / param) then
      debt = MAXS
    else
      debt = math.max(debt + delta * param, 0)
    end
    rate_store(k, at, debt, m)
  elseif kind == 'c' then
    redis.call('ZREM', k, id)
  elseif kind == 'b' then
    local x = KEYS[ki + 1]
    local idx, pend = period(param, now)
    budget_purge(k, x, now)
    local v = redis.call('HGET', k, 'h:' .. id)
    if v then
      redis.call('HINCRBY', k, 'held', '-' .. v)
      redis.call('HDEL', k, 'h:' .. id)
      redis.call('ZREM', x, id)
    end
    budget_rollover(k, idx)
    local amt = act_tok_s
    if unit == '$' then amt = act_cost_s end
    if op == 's' and amt ~= '0' then redis.call('HINCRBY', k, 'used', amt) end
    ttl_at_least(k, pend - now + ttl)
    ki = ki + 1
  end
  ki = ki + 1
end
redis.call('SET', KEYS[1], op, 'PX', idem)
return 1
