-- Trims the request stream's entries every consumer group is done with: those below the oldest
-- entry a group has pending, or, for a group with none pending, below its last delivered entry
-- (that one is kept). An entry a group has not read yet, or has pending, is never trimmed; a
-- stream without groups is left alone. Approximate (`~`: whole radix nodes) and at most LIMIT
-- entries per call, so a call costs a bounded time and the next call goes on.
-- KEYS: [1] request stream. ARGV: [1] LIMIT. Returns the number of entries trimmed.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end

-- Stream ids `<ms>-<seq>` compare part by part as unbounded decimal integers.
local function number_less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function id_less(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  if a_ms ~= b_ms then return number_less(a_ms, b_ms) end
  return number_less(a_seq, b_seq)
end

local floor
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local fields = {}
  for i = 1, #group - 1, 2 do fields[group[i]] = group[i + 1] end
  local kept = fields['last-delivered-id']
  if tonumber(fields['pending']) > 0 then
    kept = redis.call('XPENDING', KEYS[1], fields['name'])[2]
  end
  if floor == nil or id_less(kept, floor) then floor = kept end
end
if floor == nil or floor == '0-0' then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', '~', floor, 'LIMIT', ARGV[1])
