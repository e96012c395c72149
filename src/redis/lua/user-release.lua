-- ARGV (after the common three): [4] instance, [5] user, [6] slot. Forgets one counted slot.
local instance, user, slot = ARGV[4], ARGV[5], ARGV[6]
local mine = instance_key(instance, 'u:' .. user)
redis.call('SREM', mine, slot)
if redis.call('SCARD', mine) == 0 then redis.call('SREM', instance_key(instance, 'users'), user) end
return 1
