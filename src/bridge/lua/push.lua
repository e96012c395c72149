-- Pushes a reply to a reply list only: a key of another type is left as it is (no push, no
-- expiry), so a reply list can never change a key that is not one.
-- KEYS: [1] the reply list. ARGV: [1] reply, [2] TTL s. Returns 1 when pushed, 0 when not.
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'list' and kind ~= 'none' then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
