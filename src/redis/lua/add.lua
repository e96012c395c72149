-- KEYS: conns, members, meta, channel, rooms, held (this instance's entries), in that order.
-- ARGV (after the common three): [4] instance, [5] room, [6] connection, [7] user.
-- Returns {first, unregistered}: first = 1 when the user is new in the room ('j' published);
-- unregistered = 1 when the instance had been reaped or lost and was registered again (it must
-- resync the rest of its membership).
local k = {
  conns = KEYS[1], members = KEYS[2], meta = KEYS[3], channel = KEYS[4], rooms = KEYS[5], held = KEYS[6],
}
local unregistered = ensure_registered(ARGV[4])
return {add(k, ARGV[4], ARGV[5], ARGV[6], ARGV[7], true), unregistered}
