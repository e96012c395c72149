-- Brings entries of the request stream to the bridge by bytes, one at a time: new ones
-- (XREADGROUP '>') or those idle past the visibility timeout (XAUTOCLAIM). Each entry's payload
-- is measured here: one over the limit never leaves Redis whole (only its first and last bytes),
-- and what is returned stays within the read's byte budget (plus at most one entry). An oversized
-- entry claimed again (its first delivery never came to an end: the instance died, or the read's
-- answer was lost) is dead-lettered here and acknowledged, unanswered: it cannot come back.
-- KEYS: [1] request stream, [2] dead-letter stream.
-- ARGV: [1] group, [2] consumer, [3] 'new' | 'claim', [4] at most this many entries,
-- [5] payload limit in bytes, [6] byte budget of the answer, [7] bytes this call may scan,
-- [8] bytes kept of an oversized payload's start and of its end, then for 'claim':
-- [9] min idle ms, [10] cursor, [11] dead letters kept (MAXLEN ~).
-- Returns {cursor ('0-0' for 'new'), entries}, an entry being {id, deliveries, 'ok', payload},
-- {id, deliveries, 'none'} (no `payload` field), or {id, deliveries, 'large', bytes, head, tail}.
local stream = KEYS[1]
local group, consumer, mode = ARGV[1], ARGV[2], ARGV[3]
local count, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local budget, scan_max, kept = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local cursor = ARGV[10] or '0-0'
local out, used, scanned = {}, 0, 0

local function add(entry, deliveries)
  local id, fields = entry[1], entry[2]
  if not fields then
    -- Deleted from the stream before anyone handled it (XAUTOCLAIM of Redis 6.2): nothing to run.
    redis.call('XACK', stream, group, id)
    return
  end
  local payload
  for i = 1, #fields - 1, 2 do
    scanned = scanned + #fields[i] + #fields[i + 1]
    if payload == nil and fields[i] == 'payload' then payload = fields[i + 1] end
  end
  if payload == nil then
    out[#out + 1] = {id, deliveries, 'none'}
    used = used + #id
  elseif #payload > limit and deliveries > 1 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[11], '*', 'reason', 'too_large',
      'error', 'payload: is ' .. #payload .. ' bytes, more than MAX_PAYLOAD_BYTES (' .. limit ..
        '); claimed again, not answered',
      'original_id', id, 'payload', string.sub(payload, 1, kept),
      'deliveries', tostring(deliveries), 'consumer', consumer)
    redis.call('XACK', stream, group, id)
  elseif #payload > limit then
    local head, tail = string.sub(payload, 1, kept), string.sub(payload, -kept)
    out[#out + 1] = {id, deliveries, 'large', #payload, head, tail}
    used = used + #head + #tail
  else
    out[#out + 1] = {id, deliveries, 'ok', payload}
    used = used + #payload
  end
end

local attempts = 0
while attempts < count and #out < count and used < budget and scanned < scan_max do
  attempts = attempts + 1
  if mode == 'new' then
    local answer = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1,
      'STREAMS', stream, '>')
    if not answer then break end
    add(answer[1][2][1], 1)
  else
    -- COUNT 1 looks at up to 10 pending entries: a call scans at most 10 × count of them.
    local answer = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[9], cursor, 'COUNT', 1)
    cursor = answer[1]
    local entry = answer[2][1]
    if entry then
      local row = redis.call('XPENDING', stream, group, entry[1], entry[1], 1)[1]
      add(entry, row and row[4] or 1)
    end
    if cursor == '0-0' then break end
  end
end
return {cursor, out}
