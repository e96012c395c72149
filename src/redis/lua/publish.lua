-- KEYS: [1] the room's meta hash, [2] its channel. ARGV (after the common three): [4] kind, [5] body.
-- Returns {offset, epoch}.
local offset, epoch = publish(KEYS[1], KEYS[2], ARGV[4], ARGV[5])
return {offset, epoch}
