/**
 * The Lua scripts the replicas share the dispatch state with (run with EVALSHA: loaded once, reloaded on
 * NOSCRIPT). Every key they write has an expiry. A value no balancer could have written (it does not parse,
 * it has no expiry, its lease is longer than any lease given) is treated as absent and overwritten, and
 * counted by the caller: garbage never makes a store look dead, nor locks a key or vehicle out.
 */

export interface Script {
  text: string;
  sha: string;
}

export const script = (text: string): Script => ({
  text,
  sha: new Bun.CryptoHasher("sha1").update(text).digest("hex"),
});

/** The server's clock in ms: leases are compared on one clock, whatever the replicas' clocks say. */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Reads KEYS[1] as a claim: `c` the claim, or nil (absent or garbage, `bad` = 1). A key of another type (a
 * hash another client wrote) is garbage too, not an error: an error took the replica off the store, at every
 * request for that vehicle (a store-fault probe). SET replaces a key of any type.
 */
const READ = `
local v = redis.pcall('GET', KEYS[1])
local c = nil
local bad = 0
if type(v) == 'table' and v.err then
  bad = 1
elseif v then
  local ok, d = pcall(cjson.decode, v)
  if ok and type(d) == 'table' and (d.at == nil or type(d.at) == 'string')
    and (d.w == nil or type(d.w) == 'number') and (d.hw == nil or type(d.hw) == 'number')
    and ((d.s == 'd' and type(d.at) == 'string') or (d.s == 'p' and type(d.t) == 'string' and type(d.u) == 'number'
      and (d.h == nil or (type(d.h) == 'string' and type(d.hu) == 'number'))))
    and redis.call('PTTL', KEYS[1]) >= 0 then
    c = d
  else
    bad = 1
  end
end
`;

/**
 * Claims KEYS[1] for token ARGV[1] with a lease of ARGV[2] ms, the key living ARGV[3] ms, if the store's epoch
 * (KEYS[2]) is still ARGV[4]. Answers {state, where, bad, msLeft}: `epoch` (the store is not the one this
 * replica knew), `claimed` (new, or taken over from a lease that ran out: where it last tried), `stale` (taken
 * over from a lease that ran out with no place recorded: its TRYING may have been lost with the connection
 * while its start went on, so where its session is, if anywhere, only the substations know), `done` (where it
 * went) or `busy` (another replica holds it for msLeft more).
 * With ARGV[5] = '1' (a vehicle: it may start somewhere else than where it last went), a done claim is taken
 * too, `claimed` with where it went: the dispatch then writes where it starts, or gives the old home back
 * (`h`, until `hu`) if it starts nowhere. Without it (a key: its session is where it went), `done`.
 */
export const CLAIM = script(`${NOW}
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return {'epoch', '', 0, 0} end
${READ}
local lease = tonumber(ARGV[2])
if c == nil then
  redis.call('SET', KEYS[1], cjson.encode({s='p', t=ARGV[1], u=now + lease}), 'PX', ARGV[3])
  return {'claimed', '', bad, 0}
end
if c.s == 'd' then
  if ARGV[5] ~= '1' then return {'done', c.at, bad, 0} end
  local hu = now + redis.call('PTTL', KEYS[1])
  redis.call('SET', KEYS[1], cjson.encode({s='p', t=ARGV[1], u=now + lease, at=c.at, h=c.at, hu=hu, hw=c.w}), 'PX', ARGV[3])
  return {'claimed', c.at, bad, 0}
end
if c.u < now or c.u > now + lease then
  c.t = ARGV[1]
  c.u = now + lease
  redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
  if c.at == nil then return {'stale', '', bad, 0} end
  return {'claimed', c.at, bad, 0}
end
return {'busy', c.at or '', bad, c.u - now}
`);

/**
 * A rebuilt home (rebuild.ts): ARGV[1] written for ARGV[2] ms unless KEYS[1] holds a done claim written since
 * the sessions were read (at ARGV[3], the server's clock: newer than what they say) or a pending one whose
 * lease still runs (its dispatch will finish it). An older done claim is overwritten: a vehicle that started
 * elsewhere while the store was silent kept its old home, and its next request was admitted there, a second
 * session (a store-fault probe). So is a pending claim whose lease ran out: it may have lost its place with a
 * dropped connection. A done claim's `w` is when it was written; one without (written by a replica of an
 * older version, during a rolling upgrade) is kept, as before.
 */
export const REBUILD_HOME = script(`${NOW}${READ}
if c ~= nil and ((c.s == 'd' and (c.w == nil or c.w >= tonumber(ARGV[3]))) or (c.s == 'p' and c.u >= now)) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

/**
 * Hands back ARGV[1]'s claim that it took over stale (no place) when its request started nothing: still
 * pending, with no owner and its lease run out, so the next request takes it over stale at once. Released
 * (FINISH with no place) it was deleted and the retry placed by load; kept with its lease, the retry was
 * refused as busy (a review).
 */
export const UNCLAIM = script(`${READ}
if c == nil or c.s ~= 'p' or c.t ~= ARGV[1] then return 0 end
c.t = ''
c.u = 0
redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
redis.call('PUBLISH', 'evgrid:done:' .. KEYS[1], '1')
return 1
`);

/** Records the substation ARGV[2] about to be asked, if the claim is still ARGV[1]'s. */
export const TRYING = script(`${READ}
if c == nil or c.s ~= 'p' or c.t ~= ARGV[1] then return 0 end
c.at = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
return 1
`);

/**
 * Ends ARGV[1]'s claim: where the session is (ARGV[2], kept ARGV[3] ms), or released (ARGV[2] empty); then
 * wakes whoever waits for it. A home the claim took over (CLAIM's ARGV[5]) is given back for the rest of its
 * time when released, and when ARGV[4] = '1' (the session is one that was there already) and it is there.
 * A claim lost meanwhile (the store forgot) is written again when there is a session: it is the truth.
 */
export const FINISH = script(`${NOW}${READ}
local mine = c ~= nil and c.s == 'p' and c.t == ARGV[1]
if mine or (c == nil and ARGV[2] ~= '') then
  local back = mine and c.h ~= nil and c.hu > now and (ARGV[2] == '' or (ARGV[4] == '1' and ARGV[2] == c.h))
  if back then
    redis.call('SET', KEYS[1], cjson.encode({s='d', at=c.h, w=c.hw}), 'PX', c.hu - now)
  elseif ARGV[2] == '' then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], cjson.encode({s='d', at=ARGV[2], w=now}), 'PX', ARGV[3])
  end
end
redis.call('PUBLISH', 'evgrid:done:' .. KEYS[1], '1')
return mine and 1 or 0
`);

/**
 * The store's epoch KEYS[1]: its value (kept ARGV[2] ms more), or ARGV[1] written now if it had none.
 * Answers {epoch, 1 if written now}. Written again, not only touched: a store that refuses writes (full
 * under noeviction) fails this probe, so it is down, not up a second at a time (a store-fault probe: every
 * new vehicle refused STATE_REBUILDING for as long as it stayed full, its lease restarting at each failure).
 * ARGV[3]: the server's run id (INFO; '' if unknown), kept in KEYS[2]. Another one there means the server
 * restarted (or failed over) since: what it came back with (a snapshot, an AOF, a lagging replica) may be
 * older than the replicas' last writes, its old epoch and rebuilt mark with it, so it gets a new epoch (a
 * store-fault probe: a replica started on a restored store trusted it, and a key's retry made a second
 * session).
 */
export const EPOCH = script(`
local e = redis.pcall('GET', KEYS[1])
if type(e) == 'table' and e.err then e = nil end
if ARGV[3] ~= '' then
  local r = redis.pcall('GET', KEYS[2])
  if type(r) == 'table' and r.err then r = nil end
  if r and r ~= ARGV[3] then e = nil end
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2]) -- kept as long as the epoch
end
if not e then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {ARGV[1], 1}
end
redis.call('SET', KEYS[1], e, 'PX', ARGV[2])
return {e, 0}
`);

/**
 * A waiter's ticket in one round trip: the next number of KEYS[2], its member (ARGV[1], JSON) in the sorted
 * set KEYS[1] under it; both live ARGV[2] ms past the latest entry.
 */
export const ENTER = script(`
local t = redis.call('INCR', KEYS[2])
local m = cjson.decode(ARGV[1])
m.ticket = t
redis.call('ZADD', KEYS[1], t, cjson.encode(m))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return t
`);
