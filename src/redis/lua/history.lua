-- KEYS: [1] the room's meta hash, [2] its history stream. ARGV (after the common four): [5] mode
-- ('since', 'before' or 'newest'), [6] the offset of `since` / `before` (0 otherwise), [7] the
-- epoch of `since` ('' otherwise), [8] limit, [9] '1' to create a missing position. Reads the
-- position and the retained publications in one step. Returns
-- {offset, epoch, {offset, "<kind><body>", ...}}, publications oldest first.
local mode, at, since_epoch, limit = ARGV[5], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
-- A room without a position is created only for a subscriber ([9] = '1'): reading random rooms
-- must not fill Redis with positions; others get offset 0 of an epoch no later stream matches.
if ARGV[9] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return {0, new_epoch, {}} end
local offset = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local epoch = epoch_of(KEYS[1])
local out = {}
if history_size == 0 or limit <= 0 or offset == 0 then return {offset, epoch, out} end
local oldest = math.max(1, offset - history_size + 1)
local entries
if mode == 'since' then
  if since_epoch ~= epoch then return {offset, epoch, out} end
  local from = math.max(at + 1, oldest)
  if from > offset then return {offset, epoch, out} end
  entries = redis.call('XRANGE', KEYS[2], from .. '-0', '+', 'COUNT', limit)
else
  local to = offset
  if mode == 'before' then to = math.min(at - 1, offset) end
  if to < oldest then return {offset, epoch, out} end
  entries = redis.call('XREVRANGE', KEYS[2], to .. '-0', oldest .. '-0', 'COUNT', limit)
  local reversed = {}
  for i = #entries, 1, -1 do table.insert(reversed, entries[i]) end
  entries = reversed
end
for _, entry in ipairs(entries) do
  table.insert(out, tonumber(string.match(entry[1], '^(%d+)-')))
  table.insert(out, entry[2][2])
end
return {offset, epoch, out}
