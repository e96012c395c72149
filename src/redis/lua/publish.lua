-- KEYS: [1] the room's meta hash, [2] its channel, [3] its history stream. ARGV (after the common four): [5] kind, [6] body.
-- Returns {offset, epoch}.
local offset, epoch = publish(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[6])
return {offset, epoch}
