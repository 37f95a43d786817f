import { script } from "./redis-scripts.ts";

/**
 * The quota across replicas, as one Lua script (Valkey/Redis run it atomically). A caller's keys:
 * KEYS[1] a sorted set of what it holds, scored by when each entry expires (`r:<token>` a request being
 * dispatched, `s:<sessionId>` an admitted session, until it must have ended); KEYS[2] a hash of each entry's
 * minimum kW plus their running sum (`#sum`), so a check costs O(log n) whatever the caller holds.
 * KEYS[3] is the quotas' epoch: a random value written when the store first holds quotas. A store that
 * forgot (flushed, restarted empty, failed over to an empty replica) has none, or another: a replica that
 * saw an older one, or the one that makes it, is answered 'reset' and counts nothing until it has written
 * back what the substations hold (`seed`). Time is the store's own (TIME): replicas' clocks may differ, expiry must not.
 *
 * ARGV[1] is the operation:
 * - reserve member kw ttlMs maxSessions maxKw knownEpoch newEpoch key: counts the request if it fits (maxKw
 *   '' = no power share). Answers {verdict, sessions, kw, epoch, firstExpiryMs}; verdict 'ok',
 *   'active_sessions', 'grid_share', 'reset' (the epoch is new, or knownEpoch is not the store's: nothing
 *   counted), 'replay' (the key's session is held: nothing counted) or 'joined' (the key's request is being
 *   dispatched: its reservation, `member`, is shared).
 * - admit reservation session kw untilMs key: the reservation becomes the session (found again by its key).
 * - drop member: a reservation given back, or a session that ended.
 * - seed (session kw untilMs key)...: sessions written back into a store that forgot them (kept if present).
 * - list n: the n sessions that end first (to ask their substations whether they already have).
 */
const QUOTA_SCRIPT = `
local at, kw, epochKey = KEYS[1], KEYS[2], KEYS[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]
local EPOCH_TTL_MS = 7 * 24 * 3600 * 1000

local function remove(member)
  -- A session's idempotency key goes with it (k: key -> session, K: session -> key).
  local key = redis.call('HGET', kw, 'K:' .. member)
  if key then redis.call('HDEL', kw, 'k:' .. key, 'K:' .. member) end
  local w = redis.call('HGET', kw, member)
  if w then
    redis.call('HINCRBYFLOAT', kw, '#sum', -tonumber(w))
    redis.call('HDEL', kw, member)
  end
  redis.call('ZREM', at, member)
end

local function add(member, w, untilMs)
  if untilMs <= now or redis.call('ZSCORE', at, member) then return end
  redis.call('ZADD', at, untilMs, member)
  redis.call('HSET', kw, member, w)
  redis.call('HINCRBYFLOAT', kw, '#sum', w)
end

-- Both keys live as long as their last entry (and a minute): nothing is written without a TTL.
local function settle()
  if redis.call('ZCARD', at) == 0 then
    redis.call('DEL', at, kw)
    return
  end
  local last = redis.call('ZRANGE', at, -1, -1, 'WITHSCORES')
  local ttl = math.max(1, tonumber(last[2]) - now) + 60000
  redis.call('PEXPIRE', at, ttl)
  redis.call('PEXPIRE', kw, ttl)
end

for _, m in ipairs(redis.call('ZRANGEBYSCORE', at, '-inf', now)) do remove(m) end

if op == 'reserve' then
  local epoch = redis.call('GET', epochKey)
  local created = not epoch
  if created then epoch = ARGV[8] end
  -- Used: it stays (a week after its last use; then a rebuild, which costs nothing but a listing).
  redis.call('SET', epochKey, epoch, 'PX', EPOCH_TTL_MS)
  if created or (ARGV[7] ~= '' and ARGV[7] ~= epoch) then
    settle()
    return {'reset', 0, '0', epoch, '0'}
  end
  -- The same request again (its idempotency key): already a session, or being dispatched. Not counted twice.
  local key = ARGV[9]
  if key ~= '' then
    local held = redis.call('HGET', kw, 'k:' .. key)
    if held and redis.call('ZSCORE', at, held) then
      settle()
      return {'replay', 0, '0', epoch, '0'}
    end
    if redis.call('ZSCORE', at, ARGV[2]) then
      settle()
      return {'joined', 0, '0', epoch, '0'}
    end
  end
  local w = tonumber(ARGV[3])
  local n = redis.call('ZCARD', at)
  local sum = n == 0 and 0 or (tonumber(redis.call('HGET', kw, '#sum')) or 0)
  local first = redis.call('ZRANGE', at, 0, 0, 'WITHSCORES')
  local firstMs = first[2] or 0
  local verdict = 'ok'
  if n + 1 > tonumber(ARGV[5]) then
    verdict = 'active_sessions'
  elseif ARGV[6] ~= '' and sum + w > tonumber(ARGV[6]) + 1e-9 then
    verdict = 'grid_share'
  else
    add(ARGV[2], w, now + tonumber(ARGV[4]))
    n = n + 1
    sum = sum + w
  end
  settle()
  return {verdict, n, tostring(sum), epoch, tostring(firstMs)}
elseif op == 'admit' then
  remove(ARGV[2])
  add(ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]))
  if ARGV[6] ~= '' and redis.call('ZSCORE', at, ARGV[3]) then
    redis.call('HSET', kw, 'k:' .. ARGV[6], ARGV[3], 'K:' .. ARGV[3], ARGV[6])
  end
  settle()
  return {'ok'}
elseif op == 'drop' then
  remove(ARGV[2])
  settle()
  return {'ok'}
elseif op == 'seed' then
  for i = 2, #ARGV, 4 do
    add(ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]))
    if ARGV[i + 3] ~= '' and redis.call('ZSCORE', at, ARGV[i]) then
      redis.call('HSET', kw, 'k:' .. ARGV[i + 3], ARGV[i], 'K:' .. ARGV[i], ARGV[i + 3])
    end
  end
  settle()
  return {'ok'}
elseif op == 'list' then
  local out = {}
  for _, m in ipairs(redis.call('ZRANGE', at, 0, -1)) do
    if string.sub(m, 1, 2) == 's:' and #out < tonumber(ARGV[2]) then out[#out + 1] = m end
  end
  return out
end
return redis.error_reply('unknown quota operation')
`;

/** The script as the link runs it (EVALSHA, loaded again if the store lost it). */
export const QUOTA = script(QUOTA_SCRIPT);
