-- The quota store's one script: every operation on a request's limits runs here, atomically,
-- with Redis `TIME` as the clock (no client clock skew). Times are microseconds: Lua numbers are
-- doubles, exact up to 2^53, and nanoseconds since 1970 would not fit.
--
-- ARGV[1] is the operation; entry i (1-based) uses KEYS[i] and the six ARGV fields from
-- 2 + 6 * (i - 1): a kind and five numbers (unused ones are 0).
--
-- reserve: checks every entry in order, then writes all of them, or none.
--   's' sliding window: take, limit, bucket_us, ttl_ms   (a hash: bucket index -> count)
--   'g' GCRA:           take, unit_us, burst, ttl_ms     (a string: the TAT in microseconds)
--   'c' concurrency:    max, ttl_ms                      (a counter; the TTL is a safety net)
--   'x' per-request limit the client found exceeded: always denies, holds no state
--   returns {1, now_us, bucket index of each entry (0 unless sliding)}
--        or {0, entry that denied, retry_after_us or -1 when it never fits}
-- settle: gives back `less` and adds `more`, per entry.
--   's': bucket_taken, less, more, bucket_us, ttl_ms
--   'g': less, more, unit_us, ttl_ms
--   'c': frees one slot
-- used: what each entry counts now.
--   's': bucket_us   'g': unit_us
-- enqueue: KEYS[1], ARGV[2] = max (-1: none), ARGV[3] = ttl_ms; returns 1 or 0 (full)
-- dequeue: KEYS[1]

local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local SUB = 8
local SLOTS = SUB + 1

local function int(n)
  return string.format('%d', n)
end

local function field(e, k)
  return ARGV[2 + 6 * (e - 1) + k]
end

local function num(e, k)
  return tonumber(field(e, k))
end

-- Loads a sliding window: the counts still inside the window, and the fields that left it.
local function load_sliding(key, index)
  local s = { counts = {}, delta = {}, stale = {} }
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    local b = tonumber(flat[i])
    if b > index - SLOTS then
      s.counts[b] = tonumber(flat[i + 1])
    else
      s.stale[#s.stale + 1] = flat[i]
    end
  end
  return s
end

local function sum(counts)
  local used = 0
  for _, n in pairs(counts) do
    used = used + n
  end
  return used
end

local function ttl_after(ttl_ms, tat)
  -- A TAT further ahead than the window (a burst above the amount) must outlive it.
  return math.max(ttl_ms, math.ceil((tat - now) / 1000) + 1)
end

if op == 'reserve' then
  local n = #KEYS
  -- State per key, loaded once: a subject listed twice is checked against its own takes.
  local state = {}
  local indexes = {}
  for e = 1, n do
    local kind = field(e, 0)
    local key = KEYS[e]
    local verdict = true
    local retry = -1
    indexes[e] = 0
    if kind == 's' then
      local take, limit, bucket = num(e, 1), num(e, 2), num(e, 3)
      local index = math.floor(now / bucket)
      indexes[e] = index
      local s = state[key] or load_sliding(key, index)
      state[key] = s
      if take > limit then
        verdict = false
      else
        local used = sum(s.counts)
        if used + take <= limit then
          s.counts[index] = (s.counts[index] or 0) + take
          s.delta[index] = (s.delta[index] or 0) + take
        else
          verdict = false
          -- Walk from the oldest bucket: bucket b leaves when the newest index reaches b + SLOTS.
          local left = used
          for age = 0, SUB do
            local b = index - SUB + age
            left = left - (s.counts[b] or 0)
            if left + take <= limit then
              retry = (b + SLOTS) * bucket - now
              break
            end
          end
        end
      end
    elseif kind == 'g' then
      local take, unit, burst = num(e, 1), num(e, 2), num(e, 3)
      local g = state[key] or { tat = tonumber(redis.call('GET', key) or '0') }
      state[key] = g
      if take > burst then
        verdict = false
      else
        local after = math.max(g.tat, now) + take * unit
        local allowed = now + burst * unit
        if after <= allowed then
          g.tat = after
          g.dirty = true
        else
          verdict = false
          retry = after - allowed
        end
      end
    elseif kind == 'c' then
      local max = num(e, 1)
      local c = state[key] or { n = tonumber(redis.call('GET', key) or '0'), delta = 0 }
      state[key] = c
      if c.n >= max then
        verdict = false
      else
        c.n = c.n + 1
        c.delta = c.delta + 1
      end
    else
      verdict = false
    end
    if not verdict then
      return { 0, e, math.ceil(retry) }
    end
  end
  -- Every entry fits: write them all. A key listed twice is written once, with its last ttl.
  local written = {}
  for e = 1, n do
    local key = KEYS[e]
    local kind = field(e, 0)
    if not written[key] then
      written[key] = true
      local s = state[key]
      if kind == 's' then
        if #s.stale > 0 then
          redis.call('HDEL', key, unpack(s.stale))
        end
        for b, d in pairs(s.delta) do
          redis.call('HINCRBY', key, int(b), int(d))
        end
        redis.call('PEXPIRE', key, field(e, 4))
      elseif kind == 'g' and s.dirty then
        redis.call('SET', key, string.format('%.3f', s.tat), 'PX', ttl_after(num(e, 4), s.tat))
      elseif kind == 'c' then
        redis.call('INCRBY', key, s.delta)
        redis.call('PEXPIRE', key, field(e, 2))
      end
    end
  end
  local reply = { 1, now }
  for e = 1, n do
    reply[#reply + 1] = indexes[e]
  end
  return reply
elseif op == 'settle' then
  for e = 1, #KEYS do
    local kind = field(e, 0)
    local key = KEYS[e]
    if kind == 's' then
      local taken, less, more, bucket = num(e, 1), num(e, 2), num(e, 3), num(e, 4)
      local index = math.floor(now / bucket)
      -- Only a bucket still counted holds what was taken: an older one has left the window.
      if less > 0 and taken > index - SLOTS then
        local have = tonumber(redis.call('HGET', key, field(e, 1)) or '0')
        local back = math.min(have, less)
        if back > 0 then
          redis.call('HINCRBY', key, field(e, 1), int(-back))
        end
      end
      if more > 0 then
        redis.call('HINCRBY', key, int(index), int(more))
        redis.call('PEXPIRE', key, field(e, 5))
      end
    elseif kind == 'g' then
      local less, more, unit = num(e, 1), num(e, 2), num(e, 3)
      local tat = tonumber(redis.call('GET', key) or '0')
      -- Never move the arrival time before now: idle time is not credit.
      tat = math.max(tat - less * unit, now)
      if more > 0 then
        tat = tat + more * unit
      end
      redis.call('SET', key, string.format('%.3f', tat), 'PX', ttl_after(num(e, 4), tat))
    elseif kind == 'c' then
      if tonumber(redis.call('GET', key) or '0') > 0 then
        redis.call('DECR', key)
      end
    end
  end
  return { 1 }
elseif op == 'used' then
  local reply = {}
  for e = 1, #KEYS do
    local kind = field(e, 0)
    local key = KEYS[e]
    local used = 0
    if kind == 's' then
      local index = math.floor(now / num(e, 1))
      used = sum(load_sliding(key, index).counts)
    elseif kind == 'g' then
      local tat = tonumber(redis.call('GET', key) or '0')
      used = math.max(0, math.ceil((tat - now) / num(e, 1)))
    end
    reply[e] = used
  end
  return reply
elseif op == 'enqueue' then
  local max = tonumber(ARGV[2])
  local queued = tonumber(redis.call('GET', KEYS[1]) or '0')
  if max >= 0 and queued >= max then
    return 0
  end
  redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
elseif op == 'dequeue' then
  if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
    redis.call('DECR', KEYS[1])
  end
  return 1
end
return redis.error_reply('ugc quota script: unknown operation ' .. tostring(op))
