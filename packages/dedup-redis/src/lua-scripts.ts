import { createHash } from 'node:crypto';

/**
 * The store's Lua scripts. Each runs atomically in Redis, which is what makes a claim safe
 * across replicas: of two claims of one key, Redis runs one script to the end before the other.
 *
 * Layout: eight keys, all under one prefix (which carries a `{hash tag}`, so that in Redis
 * Cluster they share a slot and the scripts may touch them together): hashes by member (the
 * hashed idempotency key) for state (`i` in flight, `d` done), fingerprint, claim token, encoded
 * outcome and accounted size; two sorted sets of members by expiry time (in flight, done), and
 * the byte counter. Expiry is by the sorted sets, not per-key TTLs, so the counter stays exact:
 * expired members are swept at every claim (100 per set per call) and treated as absent when read.
 * Time is Redis's own (`TIME`), so replicas with skewed clocks agree; that needs Redis 5 or later
 * (effects replication, the default from Redis 7).
 */
/** Suffixes of the store's eight keys, in the order the scripts take them as KEYS[1..8]. */
export const KEY_SUFFIXES = ['state', 'fp', 'tok', 'out', 'sz', 'inflight', 'done', 'bytes'];

const PRELUDE = `
local STATE, FP, TOK, OUT, SZ, INFLIGHT, DONE, BYTES =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function unaccount(member)
  local size = redis.call('HGET', SZ, member)
  if size then
    redis.call('DECRBY', BYTES, size)
    redis.call('HDEL', SZ, member)
  end
end

local function forget(member)
  unaccount(member)
  redis.call('HDEL', STATE, member)
  redis.call('HDEL', FP, member)
  redis.call('HDEL', TOK, member)
  redis.call('HDEL', OUT, member)
  redis.call('ZREM', INFLIGHT, member)
  redis.call('ZREM', DONE, member)
end

local function sweep(now)
  for _, zset in ipairs({INFLIGHT, DONE}) do
    local expired = redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, 100)
    for _, member in ipairs(expired) do forget(member) end
  end
end

-- The member's state if it is there and not expired; an expired one is forgotten.
local function live_state(member, now)
  local state = redis.call('HGET', STATE, member)
  if not state then return nil end
  local zset = DONE
  if state == 'i' then zset = INFLIGHT end
  local expires = tonumber(redis.call('ZSCORE', zset, member) or '0')
  if expires <= now then
    forget(member)
    return nil
  end
  return state
end

-- Evicts the oldest done entries until one more entry of 'need' bytes fits.
local function make_room(need, max_entries, max_bytes)
  while true do
    local entries = redis.call('ZCARD', INFLIGHT) + redis.call('ZCARD', DONE)
    local bytes = tonumber(redis.call('GET', BYTES) or '0')
    if entries + 1 <= max_entries and bytes + need <= max_bytes then return true end
    local oldest = redis.call('ZRANGE', DONE, 0, 0)
    if #oldest == 0 then return false end
    forget(oldest[1])
  end
end
`;

/** ARGV: member, fingerprint, token, inFlightTtlMs, maxEntries, maxBytes, reserveBytes. */
const CLAIM = `${PRELUDE}
local member, fp = ARGV[1], ARGV[2]
local now = now_ms()
sweep(now)
local state = live_state(member, now)
if state then
  if redis.call('HGET', FP, member) ~= fp then return {'mismatch'} end
  if state == 'd' then return {'done', redis.call('HGET', OUT, member)} end
  return {'in-flight'}
end
local reserve = tonumber(ARGV[7])
if not make_room(reserve, tonumber(ARGV[5]), tonumber(ARGV[6])) then return {'full'} end
redis.call('HSET', STATE, member, 'i')
redis.call('HSET', FP, member, fp)
redis.call('HSET', TOK, member, ARGV[3])
redis.call('HSET', SZ, member, reserve)
redis.call('INCRBY', BYTES, reserve)
redis.call('ZADD', INFLIGHT, now + tonumber(ARGV[4]), member)
return {'new'}
`;

/** ARGV: member, token, outcome, ttlMs, maxEntries, maxBytes, entryOverheadBytes, notKeptOutcome. */
const COMPLETE = `${PRELUDE}
local member = ARGV[1]
local now = now_ms()
if live_state(member, now) ~= 'i' or redis.call('HGET', TOK, member) ~= ARGV[2] then return 0 end
unaccount(member)
redis.call('ZREM', INFLIGHT, member)
local out = ARGV[3]
local base = tonumber(ARGV[7]) + #member + #redis.call('HGET', FP, member)
local need = base + #out
if not make_room(need, tonumber(ARGV[5]), tonumber(ARGV[6])) then
  -- The key stays spent: a marker, which the claim's reservation covered, replaces the outcome.
  out = ARGV[8]
  need = base + #out
  make_room(need, tonumber(ARGV[5]), tonumber(ARGV[6]))
end
redis.call('HSET', STATE, member, 'd')
redis.call('HSET', OUT, member, out)
redis.call('HDEL', TOK, member)
redis.call('HSET', SZ, member, need)
redis.call('INCRBY', BYTES, need)
redis.call('ZADD', DONE, now + tonumber(ARGV[4]), member)
return 1
`;

/** ARGV: member, token. */
const RELEASE = `${PRELUDE}
local member = ARGV[1]
if live_state(member, now_ms()) == 'i' and redis.call('HGET', TOK, member) == ARGV[2] then
  forget(member)
  return 1
end
return 0
`;

/** ARGV: member, fingerprint. What a waiter polls: done (with the outcome), in flight, or gone. */
const PEEK = `${PRELUDE}
local member = ARGV[1]
local state = live_state(member, now_ms())
if not state or redis.call('HGET', FP, member) ~= ARGV[2] then return {'gone'} end
if state == 'd' then return {'done', redis.call('HGET', OUT, member)} end
return {'in-flight'}
`;

/** ARGV: none. Entries and accounted bytes. */
const USAGE = `${PRELUDE}
sweep(now_ms())
return {redis.call('ZCARD', INFLIGHT) + redis.call('ZCARD', DONE), tonumber(redis.call('GET', BYTES) or '0')}
`;

/** A script with its SHA-1, for EVALSHA (the script body is sent only when Redis lacks it). */
export interface LuaScript {
  readonly body: string;
  readonly sha: string;
}

function script(body: string): LuaScript {
  return { body, sha: createHash('sha1').update(body).digest('hex') };
}

/** The store's scripts: claim, complete, release, peek (what waiters poll) and usage. */
export const SCRIPTS = Object.freeze({
  claim: script(CLAIM),
  complete: script(COMPLETE),
  release: script(RELEASE),
  peek: script(PEEK),
  usage: script(USAGE),
});
