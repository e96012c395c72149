-- KEYS: conns, members, meta, channel, rooms, held, hist, as for add.lua.
-- ARGV (after the common four): [5] instance, [6] room, [7] connection, [8] user.
-- Returns {last, deleted, missing}: missing = 1 when Redis did not hold the connection at all (it
-- lost it with its data), so that the instance can settle the user's departure later.
local k = {
  conns = KEYS[1], members = KEYS[2], meta = KEYS[3], channel = KEYS[4], rooms = KEYS[5], held = KEYS[6],
  hist = KEYS[7],
}
local missing = 0
if redis.call('HEXISTS', k.conns, ARGV[5] .. ':' .. ARGV[7]) == 0 then missing = 1 end
local last, deleted = remove(k, ARGV[5], ARGV[6], ARGV[7], ARGV[8], false)
return {last, deleted, missing}
