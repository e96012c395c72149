-- A Redis Cluster's first step of a finish: records the reply (complete) and returns the waiters
-- to push it to; the entry stays pending until settle.lua.
-- KEYS: [1] record, [2] waiters. ARGV: [1] owner, [2] reply, [3] 'store' | 'release',
-- [4] window ms. Returns {} when the record is not this owner's, else {'done', waiters…}.
if not complete(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return {} end
local out = {'done'}
for _, list in ipairs(waiters_of(KEYS[2])) do out[#out + 1] = list end
return out
