-- KEYS: [1] the room's members hash, [2] meta, [3] channel, [4] history stream. ARGV (after the
-- common four): [5] user. Publishes the user's 'l' when no instance holds them in the room: the
-- departure of a user whose connections Redis had lost (a data loss), settled once every instance
-- had the time to register its connections again. Returns 1 when it published.
if redis.call('HEXISTS', KEYS[1], ARGV[5]) == 1 then return 0 end
publish(KEYS[2], KEYS[3], KEYS[4], 'l', ARGV[5])
return 1
