-- Shared by the bridge's scripts (prepended at load time). The record of a correlation id is a
-- hash at P{#rpc:<id>}:record, its waiters a list at P{#rpc:<id>}:waiters (one hash slot):
--   s  'r' while a delivery runs it, 'd' once its reply is stored
--   o  the owner: '<consumer>/<entry id>/<delivery count>' (the instance and delivery of the entry)
--   l  the owner's lease: ms (Redis clock) until which no other delivery may take the record
--   r  the stored reply (with s = 'd')
-- The request stream and the reply lists are necessarily in other slots: the scripts need one
-- Redis (or a primary with replicas), not Redis Cluster.

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
