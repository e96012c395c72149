-- ARGV (after the common four): [5] instance, [6] user, [7] slot, [8] max. Counts the slot for
-- the user on this instance unless the user holds max connections cluster-wide. Returns 1 when
-- counted (or already counted), 0 when refused.
local instance, user, slot, max = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local mine = instance_key(instance, 'u:' .. user)
if redis.call('SISMEMBER', mine, slot) == 1 then return 1 end
if user_count(instance, user) >= max then return 0 end
redis.call('SADD', mine, slot)
redis.call('SADD', instance_key(instance, 'users'), user)
return 1
