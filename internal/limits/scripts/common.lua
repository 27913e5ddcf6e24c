-- Helpers shared by every Pylon limits script (prepended by redis.go).
-- All numbers are integers below 2^53, exact in Lua's float64 numbers. Money
-- amounts are never computed on here: they are compared as numbers but
-- written with HINCRBY from the caller's decimal strings, so the stored sums
-- are exact int64 picodollars.
if redis.replicate_commands then pcall(redis.replicate_commands) end

local MAXS = 9007199254740992 -- 2^53

-- The time in ms: the server's clock (one clock for every node), unless a
-- test passes its own.
local function now_ms(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function ceildiv(a, b)
  if a <= 0 then return 0 end
  return math.ceil(a / b)
end

local function ttl_at_least(k, ms)
  if redis.call('PTTL', k) < ms then redis.call('PEXPIRE', k, ms) end
end

-- GCRA state: a debt in ms*units drained at m per ms (see eval.go).
local function rate_load(k, now, m)
  local st = redis.call('HMGET', k, 'a', 'd')
  local at = tonumber(st[1]) or now
  local debt = tonumber(st[2]) or 0
  if now > at then
    if m > 0 then
      local el = now - at
      if el >= ceildiv(debt, m) then debt = 0 else debt = debt - el * m end
    end
    at = now
  end
  return at, debt
end

local function rate_store(k, at, debt, m)
  redis.call('HSET', k, 'a', at, 'd', debt)
  local reset = 0
  if m > 0 then reset = ceildiv(debt, m) end
  redis.call('PEXPIRE', k, reset + 1000)
end

-- Calendar periods in UTC: 1 hour, 2 day, 3 month. Returns the period index
-- and its end in ms. Months use Howard Hinnant's civil-date algorithms.
local function period(code, now)
  if code == 1 then local i = math.floor(now / 3600000); return i, (i + 1) * 3600000 end
  if code == 2 then local i = math.floor(now / 86400000); return i, (i + 1) * 86400000 end
  local z = math.floor(now / 86400000) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  local ny, nm = y, m + 1
  if nm > 12 then ny, nm = y + 1, 1 end
  if nm <= 2 then ny = ny - 1 end
  local era2 = math.floor(ny / 400)
  local yoe2 = ny - era2 * 400
  local doy2 = math.floor((153 * ((nm + 9) % 12) + 2) / 5)
  local doe2 = yoe2 * 365 + math.floor(yoe2 / 4) - math.floor(yoe2 / 100) + doy2
  return y * 12 + m - 1, (era2 * 146097 + doe2 - 719468) * 86400000
end

-- Drops up to 100 expired holds of a budget (h: hash, x: expiry zset).
local function budget_purge(h, x, now)
  local ids = redis.call('ZRANGEBYSCORE', x, '-inf', now, 'LIMIT', 0, 100)
  for _, id in ipairs(ids) do
    local v = redis.call('HGET', h, 'h:' .. id)
    if v then
      redis.call('HINCRBY', h, 'held', '-' .. v)
      redis.call('HDEL', h, 'h:' .. id)
    end
  end
  if #ids > 0 then redis.call('ZREM', x, unpack(ids)) end
end

-- Returns settled spend in period idx (0 after a rollover) and the holds.
local function budget_load(h, idx)
  local st = redis.call('HMGET', h, 'p', 'used', 'held')
  local used = 0
  if tonumber(st[1]) == idx then used = tonumber(st[2]) or 0 end
  return used, tonumber(st[3]) or 0, tonumber(st[1]) ~= idx
end

-- A new period resets settled spend; holds carry over.
local function budget_rollover(h, idx)
  if tonumber(redis.call('HGET', h, 'p')) ~= idx then
    redis.call('HSET', h, 'p', idx, 'used', 0)
  end
end
