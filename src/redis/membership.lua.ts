/**
 * Lua for cluster-wide membership, run atomically in Redis. Layout under the key prefix P:
 *   P conns:<room>          hash  "<instance>:<connection>" -> userId
 *   P users:<room>          hash  userId -> number of connections in the room
 *   P since:<room>          hash  userId -> ms (Redis clock) of the user's first current connection
 *   P rooms                 set   rooms with members
 *   P instance:<id>:conns   set   "<room>\n<connection>\n<userId>" held by that instance
 *   P instances             zset  instance id -> last heartbeat, ms (Redis clock)
 *   P reaped:<id>           string  set when an instance was reaped; its return is announced
 * A membership change and its announcement (PUBLISH on P room:<room>, "<except user>\n<frame>")
 * happen in one script, so every instance sees a room's joins and leaves in the order they were
 * made.
 * Keys are derived from the prefix inside the scripts, which a single Redis (or a replica set)
 * allows; Redis Cluster would need hash tags and declared keys.
 */
const LIBRARY = `
local prefix = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end
local function publish(room, message)
  if message ~= nil and message ~= '' then
    redis.call('PUBLISH', prefix .. 'room:' .. room, message)
  end
end
local function add(instance, room, conn, user)
  if redis.call('HSETNX', prefix .. 'conns:' .. room, instance .. ':' .. conn, user) == 0 then
    return 0
  end
  redis.call('SADD', prefix .. 'instance:' .. instance .. ':conns', room .. '\\n' .. conn .. '\\n' .. user)
  redis.call('SADD', prefix .. 'rooms', room)
  if redis.call('HINCRBY', prefix .. 'users:' .. room, user, 1) == 1 then
    redis.call('HSET', prefix .. 'since:' .. room, user, now_ms())
    return 1
  end
  return 0
end
-- Returns last (the user's last connection left), deleted (the room is now empty).
local function remove(instance, room, conn, user)
  local conns = prefix .. 'conns:' .. room
  if redis.call('HGET', conns, instance .. ':' .. conn) ~= user then return 0, 0 end
  redis.call('HDEL', conns, instance .. ':' .. conn)
  redis.call('SREM', prefix .. 'instance:' .. instance .. ':conns', room .. '\\n' .. conn .. '\\n' .. user)
  local users, since = prefix .. 'users:' .. room, prefix .. 'since:' .. room
  local last = 0
  if redis.call('HINCRBY', users, user, -1) <= 0 then
    redis.call('HDEL', users, user)
    redis.call('HDEL', since, user)
    last = 1
  end
  if redis.call('HLEN', conns) == 0 then
    redis.call('DEL', users, since)
    redis.call('SREM', prefix .. 'rooms', room)
    return last, 1
  end
  return last, 0
end
local function split(entry)
  local a = string.find(entry, '\\n', 1, true)
  local b = string.find(entry, '\\n', a + 1, true)
  return string.sub(entry, 1, a - 1), string.sub(entry, a + 1, b - 1), string.sub(entry, b + 1)
end
-- Removes every entry of an instance not in keep; returns {room, user, ...} of users who left.
local function prune(instance, keep)
  local left = {}
  for _, entry in ipairs(redis.call('SMEMBERS', prefix .. 'instance:' .. instance .. ':conns')) do
    if not keep[entry] then
      local room, conn, user = split(entry)
      if remove(instance, room, conn, user) == 1 then
        table.insert(left, room)
        table.insert(left, user)
      end
    end
  end
  return left
end
`;

/**
 * ARGV: prefix, instance, room, connection, user, announcement (optional message published when
 * the user is new in the room). Returns 1 when the user is new in the room.
 */
export const ADD_SCRIPT = `${LIBRARY}
local first = add(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
if first == 1 then publish(ARGV[3], ARGV[6]) end
return first`;

/**
 * ARGV: prefix, instance, room, connection, user, announcement (optional message published when
 * the user's last connection left). Returns {last, deleted}.
 */
export const REMOVE_SCRIPT = `${LIBRARY}
local last, deleted = remove(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
if last == 1 then publish(ARGV[3], ARGV[6]) end
return {last, deleted}`;

/**
 * ARGV: prefix, instance. Records a heartbeat of the instance on Redis' clock. Returns 1 when the
 * instance was not registered (first beat, Redis lost its data, or it was reaped while stalled):
 * the instance must then register its connections again.
 */
export const HEARTBEAT_SCRIPT = `${LIBRARY}
return redis.call('ZADD', prefix .. 'instances', now_ms(), ARGV[2])`;

/**
 * ARGV: prefix, staleMs, tombstoneMs. Deletes the membership of every instance whose last
 * heartbeat is older than staleMs, and the instance itself, leaving a tombstone so that the
 * instance announces its members again if it was only cut off. Returns {room, user, ...} of the
 * users who left.
 */
export const REAP_SCRIPT = `${LIBRARY}
local cutoff = now_ms() - tonumber(ARGV[2])
local left = {}
for _, instance in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'instances', '-inf', cutoff)) do
  for _, value in ipairs(prune(instance, {})) do table.insert(left, value) end
  redis.call('DEL', prefix .. 'instance:' .. instance .. ':conns')
  redis.call('ZREM', prefix .. 'instances', instance)
  redis.call('SET', prefix .. 'reaped:' .. instance, 1, 'PX', ARGV[3])
end
return left`;

/**
 * ARGV: prefix, instance, then room, connection, user for each connection the instance holds.
 * Makes Redis hold exactly those for the instance (after Redis came back or lost data): removes
 * what is gone and adds what is missing. Returns {{room, user, ...} who left, {room, user, ...}
 * who are back}: the second list only when the instance had been reaped (its users were announced
 * as gone); after a data loss nobody was told anything, so nothing is announced.
 */
export const RESYNC_SCRIPT = `${LIBRARY}
local instance = ARGV[2]
local keep = {}
for i = 3, #ARGV, 3 do keep[ARGV[i] .. '\\n' .. ARGV[i + 1] .. '\\n' .. ARGV[i + 2]] = true end
local left = prune(instance, keep)
local reaped = redis.call('DEL', prefix .. 'reaped:' .. instance) == 1
local back = {}
for i = 3, #ARGV, 3 do
  if add(instance, ARGV[i], ARGV[i + 1], ARGV[i + 2]) == 1 and reaped then
    table.insert(back, ARGV[i])
    table.insert(back, ARGV[i + 2])
  end
end
redis.call('ZADD', prefix .. 'instances', now_ms(), instance)
return {left, back}`;

/** ARGV: prefix, instance. Deletes the instance's membership and heartbeat (graceful stop). */
export const LEAVE_CLUSTER_SCRIPT = `${LIBRARY}
local left = prune(ARGV[2], {})
redis.call('DEL', prefix .. 'instance:' .. ARGV[2] .. ':conns')
redis.call('ZREM', prefix .. 'instances', ARGV[2])
return left`;
