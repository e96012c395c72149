-- ARGV (after the common four): [5] instance, [6] number of connections the instance holds, or
-- -1 while changes are on their way (the counts cannot be compared then).
-- Records a heartbeat on Redis' clock. Returns 1 when the instance must resync its membership:
-- it was not registered (first beat, reaped while stalled, or Redis lost its data), it was
-- reaped, or Redis does not hold as many of its entries as it has connections.
local instance = ARGV[5]
local needed = ensure_registered(instance)
redis.call('ZADD', global_key('instances'), now_ms(), instance)
if redis.call('EXISTS', instance_key(instance, 'reaped'), instance_key(instance, 'lost')) > 0 then
  needed = 1
end
local held = tonumber(ARGV[6])
if held >= 0 and redis.call('SCARD', instance_key(instance, 'conns')) ~= held then needed = 1 end
return needed
