-- KEYS and ARGV [5]-[7]: a room's membership (membership_keys in the library), the caller's own
-- set. ARGV [8] 'add', 'restore' or 'drop', then connection, user pairs (a bounded batch). Adds
-- (publishing 'j' of users new in the room; 'restore' publishes nothing: entries Redis lost with
-- its data, whose users nobody was told had left) or removes (publishing 'l' of users whose last connection it
-- was) those entries of the caller, renewing its lease. Returns {deleted, user, ...} of the users
-- announced; deleted = 1 when the room is empty.
local k = membership_keys()
local now = now_ms()
local instance = ARGV[5]
local announced = {0}
if ARGV[8] ~= 'drop' then
  renew(k, instance, now, tonumber(ARGV[6]))
  local announce = ARGV[8] == 'add'
  for i = 9, #ARGV, 2 do
    if add_entry(k, instance, ARGV[i], ARGV[i + 1], now, announce) == 1 and announce then
      table.insert(announced, ARGV[i + 1])
    end
  end
  keep(k, tonumber(ARGV[7]))
  return announced
end
for i = 9, #ARGV, 2 do
  if drop_entry(k, instance, ARGV[i], ARGV[i + 1]) == 1 then table.insert(announced, ARGV[i + 1]) end
end
announced[1] = settle(k, instance, false)
return announced
