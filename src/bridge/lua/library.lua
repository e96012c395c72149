-- Shared by the bridge's scripts (prepended at load time). The record of a correlation id is a
-- hash, its waiters a list, both in the request stream's slot on a cluster (see dedup.ts):
--   s  'r' while a delivery runs it; 'd' once its reply is stored for the dedup window; 'f' once
--      its reply is final but not kept (a retryable failure, or a reply too large to keep): held
--      only until every list is answered, then the record is dropped and a duplicate runs again
--   o  the owner: '<consumer>/<entry id>/<delivery count>' (the instance and delivery of the entry)
--   l  the owner's lease: ms (Redis clock) until which no other delivery may take the record
--   r  the reply (with s = 'd' or 'f')
-- An answer is three steps: the reply recorded (complete), pushed to the lists (push_reply),
-- the entry acknowledged (settle). On one Redis one script does all three; on a Redis Cluster a
-- reply list is another slot than the stream's (the backend names it), so each step is a script
-- of its own, each touching one slot, all of it in KEYS: a crash between them leaves the entry
-- pending, and its redelivery pushes the recorded reply again instead of running the method.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The consumer that holds entry `id` in the group's pending list, and its delivery count; nil
-- when the entry is not pending (acknowledged, or gone with the group).
local function holder(stream, group, id)
  local row = redis.call('XPENDING', stream, group, id, id, 1)[1]
  if not row then return nil, nil end
  return row[2], row[4]
end

-- Pushes a reply to a reply list only: a key of another type is left as it is (no push, no
-- expiry), so a reply list can never change a key that is not one. Returns 1 when pushed.
local function push_reply(list, reply, ttl)
  local kind = redis.call('TYPE', list)['ok']
  if kind ~= 'list' and kind ~= 'none' then return 0 end
  redis.call('LPUSH', list, reply)
  redis.call('EXPIRE', list, ttl)
  return 1
end

-- The waiters' reply lists (read, not dropped).
local function waiters_of(waiters)
  return redis.call('LRANGE', waiters, 0, -1)
end

-- Records `reply` as the run's answer, `store`d for the dedup window (s = 'd') or final until
-- answered (s = 'f'), only while the record names `owner` running; from then on no duplicate
-- registers as a waiter or runs: each is answered with it. Returns false when not the owner's.
local function complete(record, owner, reply, mode, window_ms)
  local state, named = unpack(redis.call('HMGET', record, 's', 'o'))
  if state ~= 'r' or named ~= owner then return false end
  redis.call('HSET', record, 's', mode == 'store' and 'd' or 'f', 'r', reply)
  redis.call('HDEL', record, 'l')
  redis.call('PEXPIRE', record, window_ms)
  return true
end

-- Whether `owner` ('<consumer>/<entry id>/<delivery>') names a delivery of entry `id`: the run's
-- own entry, whose answer goes to the waiters too (a copy's only to its own list).
local function owns(owner, id)
  return owner ~= nil and owner ~= false and string.match(owner, '^[^/]*/([^/]*)/') == id
end

-- Ends an answered entry once its reply went to its list (and, for the run's own entry, to the
-- waiters): the run's own entry drops the waiters, and a record not kept ('f') with them, only
-- while the record still names `owner` and holds a reply (one taken again since is another
-- run's); any entry is acknowledged.
local function settle(record, waiters, stream, group, id, owner)
  local state, named = unpack(redis.call('HMGET', record, 's', 'o'))
  if named == owner and owns(owner, id) and (state == 'd' or state == 'f') then
    redis.call('DEL', waiters)
    if state == 'f' then redis.call('DEL', record) end
  end
  redis.call('XACK', stream, group, id)
end
