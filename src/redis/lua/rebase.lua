-- KEYS: [1] the room's meta hash. ARGV (after the common four): [5] the epoch an instance saw
-- writes of that the room no longer holds (a failover to a replica that had not received them).
-- Starts a new epoch (ARGV[2]) for the room's position if it is still that one, so that every
-- position of the old epoch reads as not recoverable rather than as a position in a rewritten
-- stream; the offsets and the history stay. Returns the room's epoch.
if redis.call('HGET', KEYS[1], 'e') == ARGV[5] then redis.call('HSET', KEYS[1], 'e', new_epoch) end
return redis.call('HGET', KEYS[1], 'e') or ''
