-- Shared by every script (prepended at load time). Layout under the key prefix P, every key of
-- the form P{X}:part, X a room id or '#…' (no id contains '{', '}' or starts with '#'), so no two
-- (prefix, id) pairs share a key and a room's keys share a Redis Cluster hash slot:
--   P{<room>}:meta        hash    e -> epoch, s -> offset of the newest publication, b -> bytes
--                                 the room's history stream holds (see trim_history)
--   P{<room>}:ch          channel the room's publications (format below)
--   P{<room>}:hist        stream  the newest publications, at most HISTORY_SIZE of them and
--                                 HISTORY_ROOM_MAX_BYTES (the newest always), entry id
--                                 "<offset>-0", field d = "<kind><body>"; expires with the position
--   P{<room>}:conns       hash    "<instance>:<connection>" -> userId
--   P{<room>}:members     hash    userId -> "<connections>:<since ms, Redis clock>"
--   P{<room>}:idem:<key>  string  "<offset>:<epoch>" of the publication an idempotency key first
--                                 named in the room; expires after IDEMPOTENCY_WINDOW_MS
--   P{#}:rooms            set     rooms with members
--   P{#}:instances        zset    instance id -> last heartbeat, ms (Redis clock)
--   P{#i:<id>}:conns      set     "<room>\n<connection>\n<userId>" held by that instance
--   P{#i:<id>}:reaped     string  set when the instance was reaped; its return is announced
--   P{#i:<id>}:lost       string  set when the instance found its registration gone (data loss)
-- ARGV of every script: [1] prefix, [2] epoch for a room whose stream starts now, [3] ms a room's
-- position and history outlive its newest publication, [4] publications kept per room (0: no
-- history), with ":<bytes>" when a room's history is bounded in bytes too; the script's own
-- arguments follow. `publish_command` ('PUBLISH', or 'SPUBLISH' with REDIS_SHARDED_PUBSUB) is
-- defined by the loader (redis-scripts.ts) in front of this file.
local prefix = ARGV[1]
local new_epoch = ARGV[2]
local meta_ttl = tonumber(ARGV[3])
local history_size, room_max_bytes = string.match(ARGV[4], '^(%d+):?(%d*)$')
history_size = tonumber(history_size)
room_max_bytes = tonumber(room_max_bytes)

local function room_key(room, part) return prefix .. '{' .. room .. '}:' .. part end
local function global_key(part) return prefix .. '{#}:' .. part end
local function instance_key(instance, part) return prefix .. '{#i:' .. instance .. '}:' .. part end

local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

-- The one writer of the channel format: "<offset>:<epoch>:<kind><body>", kind 'f' (a serialized
-- frame), 'j' or 'l' (a user joined or left; the body is "<ms>\n<user>"), 'J' or 'L' (the same,
-- already delivered to its own members by the instance named after the time: body
-- "<ms>\n<instance>\n<user>"). <ms> is when the change happened, Redis' clock, taken here once so
-- that every instance and the history show the same time. Read by channel-codec.ts.
-- Assigns the next offset of the room (a new epoch when the room has none), appends the
-- publication to the room's history and publishes it, in one step: a room's publications are
-- numbered, kept and delivered in the order Redis runs them.
local function epoch_of(meta)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = new_epoch
    redis.call('HSET', meta, 'e', epoch)
    redis.call('PEXPIRE', meta, meta_ttl)
  end
  return epoch
end

-- What a history entry counts in its room's byte budget: its text plus what Redis spends on it.
local ENTRY_OVERHEAD_BYTES = 64
local function entry_bytes(text) return #text + ENTRY_OVERHEAD_BYTES end

-- Keeps the newest entries of the room's stream that fit history_size and room_max_bytes (the
-- newest always) and sets meta's 'b' to their bytes, read from the stream itself. Reads the kept
-- entries and at most one more, one at a time.
local function recount_history(meta, hist)
  local bytes, length, oldest = 0, 0, nil
  local before = '+'
  while length < history_size do
    local entry = redis.call('XREVRANGE', hist, before, '-', 'COUNT', 1)[1]
    if not entry then break end
    local size = entry_bytes(entry[2][2])
    if length > 0 and room_max_bytes ~= nil and bytes + size > room_max_bytes then break end
    bytes, length, oldest = bytes + size, length + 1, entry[1]
    before = '(' .. oldest
  end
  if oldest then redis.call('XTRIM', hist, 'MINID', oldest) end
  redis.call('HSET', meta, 'b', bytes)
end

-- Brings the room's stream back within history_size entries and room_max_bytes, after the entry
-- at `offset` of `added` bytes was appended: the oldest entries go (exactly, by XTRIM MINID), the
-- newest always stays. meta's 'b' counts the bytes of the entries the stream holds. A count that
-- cannot be the stream's (new beside older entries, below what the entries left must weigh, more
-- than the newest alone once only it is left) is recounted from the stream instead of trusted, and
-- so is every count at each history_size-th offset while bytes bound the room: a count set off by
-- writers that do not keep it (an earlier version during a rolling deploy) is exact again within
-- history_size publications.
local function trim_history(meta, hist, offset, added)
  local bytes = redis.call('HINCRBY', meta, 'b', added)
  local length = redis.call('XLEN', hist)
  local function plausible()
    return bytes >= added + ENTRY_OVERHEAD_BYTES * (length - 1) and (length > 1 or bytes == added)
  end
  local function over()
    return length > 1 and (length > history_size or (room_max_bytes ~= nil and bytes > room_max_bytes))
  end
  if room_max_bytes ~= nil and offset % history_size == 0 then return recount_history(meta, hist) end
  local kept_from
  local from = '-'
  -- One entry at a time: a publication usually pushes out about one.
  while plausible() and over() do
    local entry = redis.call('XRANGE', hist, from, '+', 'COUNT', 1)[1]
    if not entry then break end
    bytes = bytes - entry_bytes(entry[2][2])
    length = length - 1
    kept_from = tonumber(string.match(entry[1], '^(%d+)-')) + 1
    from = kept_from .. '-0'
  end
  -- Nothing is trimmed on a count found wrong: the recount decides what stays.
  if not plausible() then return recount_history(meta, hist) end
  if kept_from then
    redis.call('XTRIM', hist, 'MINID', kept_from .. '-0')
    redis.call('HSET', meta, 'b', bytes)
  end
end

local function publish(meta, channel, hist, kind, body)
  if kind == 'j' or kind == 'l' or kind == 'J' or kind == 'L' then body = now_ms() .. '\n' .. body end
  local epoch = epoch_of(meta)
  local offset = redis.call('HINCRBY', meta, 's', 1)
  redis.call('PEXPIRE', meta, meta_ttl)
  if history_size > 0 then
    -- A new stream (its position expired or was evicted): whatever history is left is another's.
    if offset == 1 then redis.call('DEL', hist) end
    redis.call('XADD', hist, offset .. '-0', 'd', kind .. body)
    trim_history(meta, hist, offset, entry_bytes(kind .. body))
    redis.call('PEXPIRE', hist, meta_ttl)
  end
  redis.call(publish_command, channel, offset .. ':' .. epoch .. ':' .. kind .. body)
  return offset, epoch
end

-- A publication named by an idempotency key (`idem`, the room's P{<room>}:idem:<key>): the first
-- of the key in the room within `window_ms` is published and remembered; a later one publishes
-- nothing. Returns offset, epoch, 0 for a publication made, or the first one's offset, epoch, 1
-- and its stored entry ("<kind><body>", '' once the history no longer holds it).
local function publish_once(meta, channel, hist, idem, window_ms, kind, body)
  local first = redis.call('GET', idem)
  if first then
    local offset, epoch = string.match(first, '^(%d+):(.*)$')
    local stored = ''
    local newest = tonumber(redis.call('HGET', meta, 's') or 0)
    -- Within the newest history_size, as a history read sees them (bytes may have trimmed more).
    if redis.call('HGET', meta, 'e') == epoch and newest - tonumber(offset) < history_size then
      local id = offset .. '-0'
      local entries = redis.call('XRANGE', hist, id, id)
      if entries[1] then stored = entries[1][2][2] end
    end
    return tonumber(offset), epoch, 1, stored
  end
  local offset, epoch = publish(meta, channel, hist, kind, body)
  redis.call('SET', idem, offset .. ':' .. epoch, 'PX', window_ms)
  return offset, epoch, 0, ''
end

-- The keys of one room's membership as seen from one instance.
local function membership_keys(room, instance)
  return {
    conns = room_key(room, 'conns'), members = room_key(room, 'members'),
    meta = room_key(room, 'meta'), channel = room_key(room, 'ch'), hist = room_key(room, 'hist'),
    rooms = global_key('rooms'), held = instance_key(instance, 'conns'),
  }
end

local function entry_of(room, conn, user) return room .. '\n' .. conn .. '\n' .. user end

-- The kind and body of a membership publication; `shown` is true when this instance already
-- showed the change to its own members (while Redis was away).
local function membership(kind, instance, user, shown)
  if shown then return string.upper(kind), instance .. '\n' .. user end
  return kind, user
end

-- Adds a connection; when the user is new in the room and `announce` is set, publishes 'j'.
-- Returns 1 when the user is new in the room.
local function add(k, instance, room, conn, user, announce, shown)
  if redis.call('HSETNX', k.conns, instance .. ':' .. conn, user) == 0 then return 0 end
  redis.call('SADD', k.held, entry_of(room, conn, user))
  redis.call('SADD', k.rooms, room)
  local current = redis.call('HGET', k.members, user)
  if current then
    local count, since = string.match(current, '^(%d+):(%d+)$')
    redis.call('HSET', k.members, user, (tonumber(count) + 1) .. ':' .. since)
    return 0
  end
  redis.call('HSET', k.members, user, '1:' .. now_ms())
  if announce then
    local kind, body = membership('j', instance, user, shown)
    publish(k.meta, k.channel, k.hist, kind, body)
  end
  return 1
end

-- Removes a connection; when it was the user's last in the room, publishes 'l'. Returns last
-- (the user's last connection left) and deleted (the room is now empty). The instance's own
-- entry goes in every case, so no orphan outlives a mismatch.
local function remove(k, instance, room, conn, user, shown)
  redis.call('SREM', k.held, entry_of(room, conn, user))
  if redis.call('HGET', k.conns, instance .. ':' .. conn) ~= user then return 0, 0 end
  redis.call('HDEL', k.conns, instance .. ':' .. conn)
  local last = 0
  local current = redis.call('HGET', k.members, user)
  local count, since = string.match(current or '', '^(%d+):(%d+)$')
  if count and tonumber(count) > 1 then
    redis.call('HSET', k.members, user, (tonumber(count) - 1) .. ':' .. since)
  else
    redis.call('HDEL', k.members, user)
    local kind, body = membership('l', instance, user, shown)
    publish(k.meta, k.channel, k.hist, kind, body)
    last = 1
  end
  if redis.call('HLEN', k.conns) == 0 then
    redis.call('DEL', k.members)
    redis.call('SREM', k.rooms, room)
    return last, 1
  end
  return last, 0
end

local function split(entry)
  local a = string.find(entry, '\n', 1, true)
  local b = string.find(entry, '\n', a + 1, true)
  return string.sub(entry, 1, a - 1), string.sub(entry, a + 1, b - 1), string.sub(entry, b + 1)
end

-- Removes every entry of an instance not in keep; returns {room, user, ...} of users who left.
-- `shown` (optional): "<room>\n<user>" of changes the instance already showed its members.
local function prune(instance, keep, shown)
  local left = {}
  for _, entry in ipairs(redis.call('SMEMBERS', instance_key(instance, 'conns'))) do
    if not keep[entry] then
      local room, conn, user = split(entry)
      local was_shown = shown ~= nil and shown[room .. '\n' .. user] == true
      if remove(membership_keys(room, instance), instance, room, conn, user, was_shown) == 1 then
        table.insert(left, room)
        table.insert(left, user)
      end
    end
  end
  return left
end

-- Registers the instance if a reap or a data loss removed it; remembers which, for its resync.
local function ensure_registered(instance)
  local instances = global_key('instances')
  if redis.call('ZADD', instances, 'NX', now_ms(), instance) == 1 then
    if redis.call('EXISTS', instance_key(instance, 'reaped')) == 0 then
      redis.call('SET', instance_key(instance, 'lost'), 1)
    end
    return 1
  end
  return 0
end

-- Per-user connection counts (MAX_CONNECTIONS_PER_USER), each instance counting its own:
--   P{#i:<id>}:users      set     users with connections counted on that instance
--   P{#i:<id>}:u:<user>   set     that user's connection slots on that instance
-- A user's count is the sum over the registered instances, so an instance that is reaped or
-- leaves takes its counts with it (drop_user_counts).
local function user_count(instance, user)
  local total = redis.call('SCARD', instance_key(instance, 'u:' .. user))
  for _, other in ipairs(redis.call('ZRANGE', global_key('instances'), 0, -1)) do
    if other ~= instance then
      total = total + redis.call('SCARD', instance_key(other, 'u:' .. user))
    end
  end
  return total
end

local function drop_user_counts(instance)
  local users = instance_key(instance, 'users')
  for _, user in ipairs(redis.call('SMEMBERS', users)) do
    redis.call('DEL', instance_key(instance, 'u:' .. user))
  end
  redis.call('DEL', users)
end
