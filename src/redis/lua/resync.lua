-- ARGV (after the common four): [5] instance, [6] n, then room, user of the n changes the instance
-- already showed its own members while Redis was away (their publications are marked so that it
-- does not show them twice), then room, connection, user for each connection the instance holds. Makes Redis hold exactly those for the instance: removes what is gone
-- (publishing the 'l' of users whose last connection it was) and adds what is missing
-- (publishing the 'j' of users new in their room, unless Redis lost the instance's registration
-- with its data: then the other instances' members were never told those users left, and are
-- not told they joined). Returns {{room, user, ...} who left, {room, user, ...} who joined}.
local instance = ARGV[5]
local registered = redis.call('ZSCORE', global_key('instances'), instance)
local reaped = redis.call('DEL', instance_key(instance, 'reaped')) == 1
local lost = redis.call('DEL', instance_key(instance, 'lost')) == 1
local announce = reaped or (registered and not lost)
local shown = {}
local first = 7 + 2 * tonumber(ARGV[6])
for i = 7, first - 1, 2 do shown[ARGV[i] .. '\n' .. ARGV[i + 1]] = true end
local keep = {}
for i = first, #ARGV, 3 do keep[entry_of(ARGV[i], ARGV[i + 1], ARGV[i + 2])] = true end
local left = prune(instance, keep, shown)
local joined = {}
for i = first, #ARGV, 3 do
  local room, user = ARGV[i], ARGV[i + 2]
  local was_shown = shown[room .. '\n' .. user] == true
  if add(membership_keys(room, instance), instance, room, ARGV[i + 1], user, announce, was_shown) == 1 and announce then
    table.insert(joined, room)
    table.insert(joined, user)
  end
end
redis.call('ZADD', global_key('instances'), now_ms(), instance)
return {left, joined}
