-- ARGV (after the common four): [5] instance. Deletes the instance's membership (publishing the
-- 'l' of its users) and its registration: a graceful stop. Returns {room, user, ...} who left.
local instance = ARGV[5]
local left = prune(instance, {})
redis.call('DEL', instance_key(instance, 'conns'), instance_key(instance, 'reaped'), instance_key(instance, 'lost'))
drop_user_counts(instance)
redis.call('ZREM', global_key('instances'), instance)
return left
