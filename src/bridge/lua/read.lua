-- Brings entries of the request stream to the bridge by bytes, one at a time: new ones
-- (XREADGROUP '>'), those idle past the visibility timeout (XAUTOCLAIM), or given ones still
-- pending on this consumer ('mine': entries an earlier call took whose answer never reached the
-- bridge, taken back by XCLAIM with their delivery count unchanged). Each entry's payload
-- is measured here: one over the limit never leaves Redis whole (only its first and last bytes),
-- and what is returned stays within the read's byte budget (plus at most one entry). An oversized
-- entry delivered more than the max deliveries (its earlier deliveries never came to an end) is
-- dead-lettered here and acknowledged, unanswered: it cannot come back; below that it is returned
-- as on its first delivery (size, first and last bytes), for the bridge to answer.
-- KEYS: [1] request stream, [2] dead-letter stream.
-- ARGV: [1] group, [2] consumer, [3] 'new' | 'claim' | 'mine', [4] at most this many entries,
-- [5] payload limit in bytes, [6] byte budget of the answer, [7] bytes this call may scan,
-- [8] bytes kept of an oversized payload's start and of its end, then for 'claim' and 'mine':
-- [9] min idle ms, [10] cursor, [11] dead letters kept (MAXLEN ~), [12] max deliveries, and for
-- 'mine' [13…] the ids ('+<id>': taken back as one more delivery).
-- Returns {cursor, entries}: the next XAUTOCLAIM cursor for 'claim', '0-0' for 'new', for 'mine'
-- how many of the ids were looked at (the rest are left for the next call). An entry is
-- {id, deliveries, 'ok', payload},
-- {id, deliveries, 'none'} (no `payload` field), or {id, deliveries, 'large', bytes, head, tail}.
local stream = KEYS[1]
local group, consumer, mode = ARGV[1], ARGV[2], ARGV[3]
local count, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local budget, scan_max, kept = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local cursor = ARGV[10] or '0-0'
local max_deliveries = tonumber(ARGV[12]) or math.huge
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
  elseif #payload > limit and deliveries > max_deliveries then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[11], '*', 'reason', 'too_large',
      'error', 'payload: is ' .. #payload .. ' bytes, more than MAX_PAYLOAD_BYTES (' .. limit ..
        '); delivered ' .. deliveries .. ' times, not answered',
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
  if mode == 'mine' then
    local id = ARGV[12 + attempts]
    if not id then break end
    cursor = tostring(attempts)
    -- '+<id>': its handling failed here; taking it back counts as one more delivery.
    local bump = 0
    if string.sub(id, 1, 1) == '+' then id, bump = string.sub(id, 2), 1 end
    -- Only while the group still gives it to this consumer: a claimer's entry is never taken back.
    local row = redis.call('XPENDING', stream, group, id, id, 1)[1]
    if row and row[2] == consumer then
      local deliveries = row[4] + bump
      local entry = redis.call('XCLAIM', stream, group, consumer, 0, id,
        'RETRYCOUNT', deliveries)[1]
      if entry then add(entry, deliveries) else redis.call('XACK', stream, group, id) end
    end
  elseif mode == 'new' then
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
