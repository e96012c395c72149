-- KEYS: [1] a room's order zset, [2] its members hash. ARGV (after the common four): [5] limit.
-- Returns {count, user, "<connections>:<since>", ...}: the room's number of users and its oldest
-- `limit` users, read in one step (a user is never seen half added), whatever the room's size.
local limit = tonumber(ARGV[5])
local result = {redis.call('ZCARD', KEYS[1])}
if limit <= 0 then return result end
local users = redis.call('ZRANGE', KEYS[1], 0, limit - 1)
if #users == 0 then return result end
local values = redis.call('HMGET', KEYS[2], unpack(users))
for i, user in ipairs(users) do
  if values[i] then
    table.insert(result, user)
    table.insert(result, values[i])
  end
end
return result
