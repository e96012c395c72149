-- KEYS: conns, members, meta, channel, rooms, held, as for add.lua.
-- ARGV (after the common three): [4] instance, [5] room, [6] connection, [7] user.
-- Returns {last, deleted}.
local k = {
  conns = KEYS[1], members = KEYS[2], meta = KEYS[3], channel = KEYS[4], rooms = KEYS[5], held = KEYS[6],
}
local last, deleted = remove(k, ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return {last, deleted}
