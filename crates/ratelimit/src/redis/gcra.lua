-- GCRA token bucket, one atomic check (same rule as the in-memory `Gcra`).
-- KEYS[1]  the bucket: a string holding the theoretical arrival time (TAT), in microseconds
--          of Redis's clock.
-- ARGV[1]  window: emission interval × burst, in microseconds.
-- ARGV[2]  cost: emission interval × n, in microseconds (≤ window).
-- ARGV[3]  expiry margin, in milliseconds.
-- Returns 0 when the permits are granted (and recorded), else the wait in microseconds (≥ 1).
-- All values are integers below 2^53, so Lua's doubles hold them exactly; they are written
-- with '%.0f' because tostring() would print 14 significant digits.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])

local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new_tat = tat + cost
if new_tat > now + window then
  -- Refused: write nothing; the earliest grant is new_tat - window.
  return new_tat - window - now
end
-- The key matters until its TAT has passed: after that a missing key means the same thing.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
  'PX', math.ceil((new_tat - now) / 1000) + margin)
return 0
