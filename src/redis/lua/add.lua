-- KEYS: conns, members, meta, channel, rooms, held (this instance's entries), hist, in that order.
-- ARGV (after the common four): [5] instance, [6] room, [7] connection, [8] user.
-- Returns {first, unregistered}: first = 1 when the user is new in the room ('j' published);
-- unregistered = 1 when the instance had been reaped or lost and was registered again (it must
-- resync the rest of its membership).
local k = {
  conns = KEYS[1], members = KEYS[2], meta = KEYS[3], channel = KEYS[4], rooms = KEYS[5], held = KEYS[6],
  hist = KEYS[7],
}
local unregistered = ensure_registered(ARGV[5])
return {add(k, ARGV[5], ARGV[6], ARGV[7], ARGV[8], true, false), unregistered}
