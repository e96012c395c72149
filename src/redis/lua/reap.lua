-- ARGV (after the common four): [5] staleMs, [6] tombstoneMs. Deletes the membership of every
-- instance whose last heartbeat is older than staleMs (publishing the 'l' of its users), and the
-- instance itself, leaving a tombstone so that the instance announces its members again if it
-- was only cut off. Returns {room, user, ...} of the users who left.
local cutoff = now_ms() - tonumber(ARGV[5])
local left = {}
for _, instance in ipairs(redis.call('ZRANGEBYSCORE', global_key('instances'), '-inf', cutoff)) do
  for _, value in ipairs(prune(instance, {})) do table.insert(left, value) end
  redis.call('DEL', instance_key(instance, 'conns'), instance_key(instance, 'lost'))
  drop_user_counts(instance)
  redis.call('ZREM', global_key('instances'), instance)
  redis.call('SET', instance_key(instance, 'reaped'), 1, 'PX', ARGV[6])
end
return left
