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
--   P{<room>}:members     hash    userId -> "<connections, cluster-wide>:<since ms, Redis clock>"
--   P{<room>}:order       zset    userId -> since: the oldest users and the count, without the rest
--   P{<room>}:leases      zset    instance -> when its lease on its entries in the room runs out
--                                 (ms, Redis clock); -<ms> for an instance others expired
--   P{<room>}:i:<id>      set     "<connection>\n<userId>" of that instance's entries in the room
--   P{<room>}:idem:<key>  string  "<offset>:<epoch>" of the publication an idempotency key first
--                                 named in the room; expires after IDEMPOTENCY_WINDOW_MS
--   P{#u:<user>}:conns    set     "<instance>\n<connection>" counted for MAX_CONNECTIONS_PER_USER
--   P{#i:<id>}:alive      string  set with a TTL while the instance lives (its user counts count)
-- The membership keys of a room expire when no instance refreshes them any more (every holder
-- died): nothing outlives its room for long.
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

local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

-- The one writer of the channel format: "<offset>:<epoch>:<kind><body>", kind 'f' (a serialized
-- frame), 'j' or 'l' (a user joined or left; the body is "<ms>\n<user>"). <ms> is when the change happened, Redis' clock, taken here once so
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
  if kind == 'j' or kind == 'l' then body = now_ms() .. '\n' .. body end
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

-- A room's membership, as every membership script declares it (KEYS, in this order, all in the
-- room's slot): conns, members, order, leases, meta, channel, hist, and one instance's set
-- P{<room>}:i:<instance> (the caller's own, or the lapsed instance being expired). ARGV (after the
-- common four): [5] that instance, [6] lease ms, [7] ms the room's membership keys outlive the
-- last refresh; the script's own arguments follow.
local function membership_keys()
  return {
    conns = KEYS[1], members = KEYS[2], order = KEYS[3], leases = KEYS[4], meta = KEYS[5],
    channel = KEYS[6], hist = KEYS[7], mine = KEYS[8],
  }
end

-- The instance's lease in the room runs until now + lease_ms. Returns what the lease was: 0 none
-- (never taken, or its entries were expired or lost), 1 running, 2 run out (others may be
-- expiring its entries).
local function renew(k, instance, now, lease_ms)
  local lease = redis.call('ZSCORE', k.leases, instance)
  redis.call('ZADD', k.leases, now + lease_ms, instance)
  if not lease then return 0 end
  if tonumber(lease) < now then return 2 end
  return 1
end

-- The room's membership keys live keep_ms more (after a change: a key made by it gets its TTL).
local function keep(k, keep_ms)
  for _, key in ipairs({k.conns, k.members, k.order, k.leases, k.mine}) do
    redis.call('PEXPIRE', key, keep_ms)
  end
end

-- Adds a connection; when the user is new in the room, publishes 'j' if `announce`. Returns 1 when
-- the user is new, 0 when not, -1 when the connection was there already.
local function add_entry(k, instance, conn, user, now, announce)
  if redis.call('HSETNX', k.conns, instance .. ':' .. conn, user) == 0 then return -1 end
  redis.call('SADD', k.mine, conn .. '\n' .. user)
  local current = redis.call('HGET', k.members, user)
  if current then
    local count, since = string.match(current, '^(%d+):(%d+)$')
    redis.call('HSET', k.members, user, (tonumber(count) + 1) .. ':' .. since)
    return 0
  end
  redis.call('HSET', k.members, user, '1:' .. now)
  redis.call('ZADD', k.order, now, user)
  if announce then publish(k.meta, k.channel, k.hist, 'j', user) end
  return 1
end

-- Removes a connection; when it was the user's last in the room, publishes 'l'. Returns 1 when
-- the user left, 0 when not, -1 when Redis did not hold the connection. The instance's set loses
-- the entry in every case, so no orphan outlives a mismatch.
local function drop_entry(k, instance, conn, user)
  redis.call('SREM', k.mine, conn .. '\n' .. user)
  local field = instance .. ':' .. conn
  if redis.call('HGET', k.conns, field) ~= user then return -1 end
  redis.call('HDEL', k.conns, field)
  local current = redis.call('HGET', k.members, user)
  local count, since = string.match(current or '', '^(%d+):(%d+)$')
  if count and tonumber(count) > 1 then
    redis.call('HSET', k.members, user, (tonumber(count) - 1) .. ':' .. since)
    return 0
  end
  redis.call('HDEL', k.members, user)
  redis.call('ZREM', k.order, user)
  publish(k.meta, k.channel, k.hist, 'l', user)
  return 1
end

-- After removals: an instance's lease goes with its last entry (or, for an instance expired by
-- others, becomes a tombstone: -<ms of the expiry>, so that the instance, if it was only cut off,
-- knows its users were announced as gone), and the room's membership keys go with its last
-- connection. Returns 1 when the room is empty.
local function settle(k, instance, expired)
  if redis.call('SCARD', k.mine) == 0 then
    if expired then redis.call('ZADD', k.leases, -now_ms(), instance)
    else redis.call('ZREM', k.leases, instance) end
  end
  if redis.call('HLEN', k.conns) > 0 then return 0 end
  redis.call('DEL', k.members, k.order, k.leases)
  return 1
end

-- "<connection>\n<user>" as its two parts.
local function split_entry(entry)
  local newline = string.find(entry, '\n', 1, true)
  return string.sub(entry, 1, newline - 1), string.sub(entry, newline + 1)
end
