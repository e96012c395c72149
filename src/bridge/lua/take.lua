-- Decides what one delivery of an entry does with its correlation id, atomically with the check
-- that the group's pending list still gives the entry to this consumer.
-- KEYS: [1] record, [2] waiters, [3] request stream, [4] the request's reply list (optional: on
-- one Redis only).
-- ARGV: [1] group, [2] entry id, [3] consumer, [4] lease ms, [5] dedup window ms, [6] the
-- request's reply list ('' none), [7] reply TTL s.
-- Returns {'lost'}: another consumer holds the entry (it answers); {'answered'}: the record holds
-- the reply, which was pushed to the list (and, for the run's own entry redelivered after a crash,
-- to the waiters), and the entry settled (KEYS[4] given);
-- {'answered', reply, owner, waiters…}: the same for the caller to do (push.lua to each list,
-- then settle.lua with that owner: a Redis Cluster); {'waiting'}:
-- another entry of this id runs, the reply list was registered as a waiter and the entry
-- acknowledged; {'standby'}: another delivery of this very entry runs under a live lease (the
-- entry stays pending); {'run', owner}: the record names this delivery, whose lease starts now
-- (the entry's idle time is reset with it).
local stream, group, id, consumer = KEYS[3], ARGV[1], ARGV[2], ARGV[3]
local reply_list = ARGV[6]
local held_by, delivery = holder(stream, group, id)
if held_by ~= consumer then return {'lost'} end

local state, owner, lease, stored = unpack(redis.call('HMGET', KEYS[1], 's', 'o', 'l', 'r'))
if state == 'd' or state == 'f' then
  -- The waiters are the run's own entry's to answer: pending until it settles, redelivered after
  -- a crash. A copy answers its own list only (no second push to a waiter while the run settles).
  local waiters = owns(owner, id) and waiters_of(KEYS[2]) or {}
  if KEYS[4] then
    push_reply(KEYS[4], stored, ARGV[7])
    for _, list in ipairs(waiters) do push_reply(list, stored, ARGV[7]) end
    settle(KEYS[1], KEYS[2], stream, group, id, owner)
    return {'answered'}
  end
  local out = {'answered', stored, owner}
  for _, list in ipairs(waiters) do out[#out + 1] = list end
  return out
end

local now = now_ms()
local mine = consumer .. '/' .. id .. '/'
if state == 'r' and string.sub(owner, 1, #mine) ~= mine and tonumber(lease) > now then
  if owns(owner, id) then return {'standby'} end
  if reply_list ~= '' then
    redis.call('RPUSH', KEYS[2], reply_list)
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
  end
  redis.call('XACK', stream, group, id)
  return {'waiting'}
end

-- Free, this entry's own earlier delivery, or an owner whose lease ran out: taken.
local token = mine .. delivery
redis.call('HSET', KEYS[1], 's', 'r', 'o', token, 'l', now + tonumber(ARGV[4]))
redis.call('HDEL', KEYS[1], 'r')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
return {'run', token}
