-- Completes a run: only while the record still names this owner's delivery; otherwise nothing
-- is written (the record's owner answers). Pushes the reply to the request's list and to every
-- waiter, stores it (`store`) or drops the record (`release`: a retryable failure, or a reply too
-- large to keep; a duplicate then runs again), and acknowledges.
-- KEYS: [1] record, [2] waiters, [3] request stream, [4] the request's reply list (optional).
-- ARGV: [1] group, [2] entry id, [3] owner, [4] reply, [5] 'store' | 'release', [6] window ms,
-- [7] reply TTL s. Returns 1 when completed, 0 when the record is not this owner's.
local state, owner = unpack(redis.call('HMGET', KEYS[1], 's', 'o'))
if state ~= 'r' or owner ~= ARGV[3] then return 0 end

if KEYS[4] then push_reply(KEYS[4], ARGV[4], ARGV[7]) end
for _, list in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do push_reply(list, ARGV[4], ARGV[7]) end
redis.call('DEL', KEYS[2])
if ARGV[5] == 'store' then
  redis.call('HSET', KEYS[1], 's', 'd', 'r', ARGV[4])
  redis.call('HDEL', KEYS[1], 'l')
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
else
  redis.call('DEL', KEYS[1])
end
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
return 1
