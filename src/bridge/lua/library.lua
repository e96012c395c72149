-- Shared by the bridge's scripts (prepended at load time). The record of a correlation id is a
-- hash, its waiters a list, both in the request stream's slot (see dedup.ts):
--   s  'r' while a delivery runs it; 'd' once its reply is stored for the dedup window; 'f' once
--      its reply is final but not kept (a retryable failure, or a reply too large to keep): held
--      only until every list is answered, then the record is dropped and a duplicate runs again
--   o  the owner: '<consumer>/<entry id>/<delivery count>' (the instance and delivery of the entry)
--   l  the owner's lease: ms (Redis clock) until which no other delivery may take the record
--   r  the reply (with s = 'd' or 'f')
-- Every script touches keys of one slot, all of them in KEYS: the stream's scripts never touch a
-- reply list, which the backend names (another slot); push.lua writes a reply list alone.

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
