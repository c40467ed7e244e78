//! The Lua scripts: each store operation that reads and writes is one atomic script, so
//! two instances never interleave inside one.
//!
//! Records are hashes: `r` the record's JSON, `s` its status (the truth: `start` changes
//! it without rewriting the JSON), `t` when it started, `k` its idempotency key.

use std::sync::LazyLock;

use redis::Script;

/// Stores a new record (and queues its job), unless its idempotency key names a live one:
/// then returns that record's `[r, s, t]`.
///
/// KEYS: record, idempotency key (the record's key again when none), index of all,
/// index of the status, stream. ARGV: record key prefix, id, JSON, idempotency key or
/// "", `1` to queue, task body, the job's idempotency key or "", status.
pub(super) static INSERT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[4] ~= '' then
  local existing = redis.call('GET', KEYS[2])
  if existing then
    local found = redis.call('HMGET', ARGV[1] .. existing, 'r', 's', 't')
    if found[1] then return found end
  end
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('HSET', KEYS[1], 'r', ARGV[3], 's', ARGV[8], 'k', ARGV[4])
redis.call('ZADD', KEYS[3], 0, ARGV[2])
redis.call('ZADD', KEYS[4], 0, ARGV[2])
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[5], '*', 'id', ARGV[2], 'task', ARGV[6], 'key', ARGV[7])
end
return false
",
    )
});

/// Lua: marks a queued (or handed-over running) record `running` and returns its
/// `[r, s, t]`, or false when it is final or gone.
const START_RECORD: &str = r"
local function start_record(key, id, idx_prefix, now)
  local s = redis.call('HGET', key, 's')
  if not s or s == 'succeeded' or s == 'failed' or s == 'cancelled' then return false end
  if s ~= 'running' then
    redis.call('HSET', key, 's', 'running')
    redis.call('ZREM', idx_prefix .. s, id)
    redis.call('ZADD', idx_prefix .. 'running', 0, id)
  end
  redis.call('HSETNX', key, 't', now)
  return redis.call('HMGET', key, 'r', 's', 't')
end
";

/// Starts one record: `[r, s, t]`, or nil when it is final or gone.
///
/// KEYS: record. ARGV: status index prefix, id, now (RFC 3339).
pub(super) static START: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{START_RECORD}\nreturn start_record(KEYS[1], ARGV[2], ARGV[1], ARGV[3])"
    ))
});

/// Reads up to COUNT new entries for this consumer (without blocking) and starts their
/// records in the same step: one round trip instead of one per job. Returns, per entry,
/// `[entry id, execution id, task, idempotency key, [r, s, t] or nil]`.
///
/// KEYS: stream. ARGV: group, consumer, count, record key prefix, status index prefix,
/// now (RFC 3339), how many of the entries to start (the rest come back with nil).
pub(super) static FETCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{START_RECORD}\n{}",
        r"
local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not read then return {} end
local out = {}
for _, entry in ipairs(read[1][2]) do
  local f = {}
  local fields = entry[2]
  for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
  local id = f['id'] or ''
  local started = false
  if id ~= '' and #out < tonumber(ARGV[7]) then started = start_record(ARGV[4] .. id, id, ARGV[5], ARGV[6]) end
  table.insert(out, {entry[1], id, f['task'] or '', f['key'] or '', started})
end
return out
"
    ))
});

/// Replaces a record unless it is final (or gone); a final one starts to expire, with
/// its idempotency key. With a stream entry given, acknowledges and deletes it whether
/// or not the record was written (the job is done either way). Returns 1 when written.
///
/// A final record is announced on the `finished` channel when a caller waits for it
/// (its id is in the `waiting` sorted set, scored by when the wait ends).
///
/// KEYS: record, stream (the record again when no entry), expiry index, waiting set.
/// ARGV: status index prefix, id, status, JSON, TTL in ms, idempotency key prefix, group,
/// entry id or "", finished channel.
pub(super) static UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[8] ~= '' then
  redis.call('XACK', KEYS[2], ARGV[7], ARGV[8])
  redis.call('XDEL', KEYS[2], ARGV[8])
end
local s = redis.call('HGET', KEYS[1], 's')
if not s or s == 'succeeded' or s == 'failed' or s == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[3], 'r', ARGV[4])
if s ~= ARGV[3] then
  redis.call('ZREM', ARGV[1] .. s, ARGV[2])
  redis.call('ZADD', ARGV[1] .. ARGV[3], 0, ARGV[2])
end
if ARGV[3] == 'succeeded' or ARGV[3] == 'failed' or ARGV[3] == 'cancelled' then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  local now = redis.call('TIME')
  redis.call('ZADD', KEYS[3], now[1] * 1000 + math.floor(now[2] / 1000) + tonumber(ARGV[5]), ARGV[2])
  if redis.call('ZREM', KEYS[4], ARGV[2]) == 1 then redis.call('PUBLISH', ARGV[9], ARGV[2]) end
  local k = redis.call('HGET', KEYS[1], 'k')
  if k and k ~= '' then redis.call('PEXPIRE', ARGV[6] .. k, ARGV[5]) end
end
return 1
",
    )
});

/// Rewrites a record's JSON if it is `cancelled` (to add the attempt the cancel cut
/// off); returns 1 if written.
///
/// KEYS: record. ARGV: the record's JSON.
pub(super) static AMEND_CANCELLED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 's') ~= 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[1])
return 1
",
    )
});

/// Renews the leases this consumer holds: an entry still pending for it gets its idle
/// time reset (XCLAIM JUSTID, which does not count a delivery); returns the entries it
/// no longer holds (claimed by another instance after its lease ran out, or gone).
///
/// KEYS: stream. ARGV: group, consumer, entry ids...
pub(super) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #p == 0 or p[1][2] ~= ARGV[2] then
    table.insert(lost, id)
  else
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
  end
end
return lost
",
    )
});

/// What a waiter needs: `[r, s, t]` when the record is final (or has no status field,
/// so that its JSON says), `[false, s, false]` while it is queued or running (the JSON,
/// which holds the task, is not sent), nils when there is no record.
///
/// KEYS: record.
pub(super) static PROGRESS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local s = redis.call('HGET', KEYS[1], 's')
if s == 'queued' or s == 'running' then return {false, s, false} end
return redis.call('HMGET', KEYS[1], 'r', 's', 't')
",
    )
});

/// Finds a config by id, else by name: its document, or nil.
///
/// KEYS: configs, names. ARGV: id or name.
pub(super) static CONFIG_GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local doc = redis.call('HGET', KEYS[1], ARGV[1])
if doc then return doc end
local id = redis.call('HGET', KEYS[2], ARGV[1])
if id then return redis.call('HGET', KEYS[1], id) end
return false
",
    )
});

/// Creates a config unless its name is taken (0).
///
/// KEYS: configs, names, versions. ARGV: id, name, document.
pub(super) static CONFIG_CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], 1)
return 1
",
    )
});

/// Replaces a config if its version is still the one read: 1 done, -1 gone, -2 changed
/// meanwhile (read again), -3 new name taken.
///
/// KEYS: configs, names, versions. ARGV: id, version read, old name, new name, document.
pub(super) static CONFIG_REPLACE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HGET', KEYS[3], ARGV[1])
if not v then return -1 end
if v ~= ARGV[2] then return -2 end
if ARGV[3] ~= ARGV[4] then
  if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return -3 end
  redis.call('HDEL', KEYS[2], ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return 1
",
    )
});

/// Deletes a config: 1 done, 0 already gone.
///
/// KEYS: configs, names, versions. ARGV: id, name.
pub(super) static CONFIG_DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
",
    )
});

/// Removes up to ARGV[2] expired ids from the listing indexes; returns how many. Also
/// forgets the waits that are over.
///
/// KEYS: expiry index, index of all, waiting set. ARGV: status index prefix, batch size.
pub(super) static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ms)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms, 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return 0 end
redis.call('ZREM', KEYS[2], unpack(ids))
for _, s in ipairs({'queued', 'running', 'succeeded', 'failed', 'cancelled'}) do
  redis.call('ZREM', ARGV[1] .. s, unpack(ids))
end
redis.call('ZREM', KEYS[1], unpack(ids))
return #ids
",
    )
});

/// Hands a job back: queues it again as a new entry and forgets the old one; a record
/// that was started but has no attempt yet goes back to `queued`.
///
/// KEYS: stream, record. ARGV: group, old entry id, execution id, task, idempotency key
/// or "", status index prefix.
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.call('XADD', KEYS[1], '*', 'id', ARGV[3], 'task', ARGV[4], 'key', ARGV[5])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], 's') == 'running' then
  local r = redis.call('HGET', KEYS[2], 'r')
  if r and string.find(r, '"attempts":[]', 1, true) then
    redis.call('HSET', KEYS[2], 's', 'queued')
    redis.call('HDEL', KEYS[2], 't')
    redis.call('ZREM', ARGV[6] .. 'running', ARGV[3])
    redis.call('ZADD', ARGV[6] .. 'queued', 0, ARGV[3])
  end
end
return 1
"#,
    )
});
