-- ARGV (after the common four): [5] instance, [6] user, [7] slot. Forgets one counted slot.
local instance, user, slot = ARGV[5], ARGV[6], ARGV[7]
local mine = instance_key(instance, 'u:' .. user)
redis.call('SREM', mine, slot)
if redis.call('SCARD', mine) == 0 then redis.call('SREM', instance_key(instance, 'users'), user) end
return 1
