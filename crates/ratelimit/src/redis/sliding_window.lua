-- Sliding-window counter, one atomic check (same rule as the in-memory `SlidingWindow`).
-- KEYS[1]  the window: a hash {i = index of the current window (now / w), c = its count,
--          p = the count of window i - 1}.
-- ARGV[1]  w: the window, in microseconds.
-- ARGV[2]  limit: permits per window.
-- ARGV[3]  n: permits asked (1 ≤ n ≤ limit).
-- ARGV[4]  k: weight scale (≥ 1), so that limit × (w / k) stays below 2^50.
-- ARGV[5]  ws: w / k (rounded down), the window in weight units.
-- ARGV[6]  expiry margin, in milliseconds.
-- Returns 0 when the permits are granted (and recorded), else the wait in microseconds (≥ 1).
--
-- Grant rule, exact in integers: previous · rs + (current + n) · ws ≤ limit · ws, where rs/ws
-- is the share of the previous window still inside the sliding window, rounded up (so never
-- more permissive than (w − elapsed) / w; exact when k = 1). Every product stays below 2^53.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local w = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local k = tonumber(ARGV[4])
local ws = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])

local index = math.floor(now / w)
local start = index * w
local elapsed = now - start
local state = redis.call('HMGET', KEYS[1], 'i', 'c', 'p')
local stored = tonumber(state[1])
local count = tonumber(state[2]) or 0
local before = tonumber(state[3]) or 0
local previous, current = 0, 0
if stored == index then
  previous, current = before, count
elseif stored == index - 1 then
  previous = count
elseif stored ~= nil and stored > index then
  -- Redis's clock stepped back: act at the start of the stored window (the strictest reading).
  index, start, elapsed = stored, stored * w, 0
  previous, current = before, count
end

local rs = math.min(ws, math.ceil((w - elapsed) / k))
local used = current + n
if previous * rs + used * ws <= limit * ws then
  redis.call('HSET', KEYS[1], 'i', string.format('%.0f', index), 'c', used, 'p', previous)
  -- The counts matter until the end of the next window, where this one stops weighing.
  redis.call('PEXPIRE', KEYS[1], math.ceil((start + 2 * w - now) / 1000) + margin)
  return 0
end

-- Refused: write nothing. The earliest time n could pass if nobody else asks:
local at
if used <= limit and previous > 0 then
  -- Later in this window, once the previous window's weight has decayed: rs ≤ slack.
  -- The refusal means slack < rs ≤ ws, so start + w − slack · k lies after now.
  local slack = math.floor((limit - used) * ws / previous)
  at = start + w - slack * k
elseif current > 0 then
  -- In the next window, where this window's count becomes the previous one.
  local slack = math.floor((limit - n) * ws / current)
  if slack >= ws then
    at = start + w
  else
    at = start + 2 * w - slack * k
  end
else
  -- Unreachable for n ≤ limit (such a check is granted); be safe: the next window.
  at = start + w
end
return at - now
