-- Completes a run, first of three steps (then push.lua to each list, then settle.lua): only while
-- the record still names this owner's delivery; otherwise nothing is written (the record's owner
-- answers). Records the reply, `store`d for the dedup window (s = 'd') or final until answered
-- (`release`, s = 'f'); from then on no duplicate registers as a waiter or runs: each is answered
-- with this reply. The entry stays pending until settle.lua: a crash before it redelivers the
-- entry, whose take finds the reply and pushes it again instead of running the method.
-- KEYS: [1] record, [2] waiters. ARGV: [1] owner, [2] reply, [3] 'store' | 'release',
-- [4] window ms. Returns {} when the record is not this owner's, else {'done', waiters…}.
local state, owner = unpack(redis.call('HMGET', KEYS[1], 's', 'o'))
if state ~= 'r' or owner ~= ARGV[1] then return {} end
redis.call('HSET', KEYS[1], 's', ARGV[3] == 'store' and 'd' or 'f', 'r', ARGV[2])
redis.call('HDEL', KEYS[1], 'l')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local out = {'done'}
for _, list in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do out[#out + 1] = list end
return out
