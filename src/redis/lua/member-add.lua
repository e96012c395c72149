-- KEYS and ARGV [5]-[7]: a room's membership (membership_keys in the library), the caller's own
-- set. ARGV [8] connection, [9] user. Adds the connection (publishing 'j' when the user is new in
-- the room) and renews the caller's lease. Returns {first, offset, epoch, lease}: first = 1 when
-- the user is new; the room's position after the change (a joiner's starting point, read in the
-- same step); the lease as it was (see renew).
local k = membership_keys()
local now = now_ms()
local lease = renew(k, ARGV[5], now, tonumber(ARGV[6]))
local first = add_entry(k, ARGV[5], ARGV[8], ARGV[9], now, true)
keep(k, tonumber(ARGV[7]))
local epoch = epoch_of(k.meta)
local offset = tonumber(redis.call('HGET', k.meta, 's') or '0')
return {math.max(first, 0), offset, epoch, lease}
