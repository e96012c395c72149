-- Keeps the entries this instance handles from being claimed: an entry still held by this
-- consumer has its idle time reset (XCLAIM … JUSTID, the delivery count unchanged) and, when its
-- record still names the given owner, the owner's lease renewed. An entry another consumer
-- claimed is never taken back.
-- KEYS: [1] request stream, then one per entry: its record (the stream again for none yet).
-- ARGV: [1] group, [2] consumer, [3] lease ms, [4] window ms, then per entry: id, owner ('' none).
-- Returns one 1 (still ours) or 0 (claimed by another, or gone) per entry.
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local lease_until = now_ms() + tonumber(ARGV[3])
local ours = {}
for i = 2, #KEYS do
  local id, owner = ARGV[3 + 2 * (i - 1)], ARGV[4 + 2 * (i - 1)]
  if holder(stream, group, id) == consumer then
    redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
    if owner ~= '' and redis.call('HGET', KEYS[i], 'o') == owner
        and redis.call('HGET', KEYS[i], 's') == 'r' then
      redis.call('HSET', KEYS[i], 'l', lease_until)
      redis.call('PEXPIRE', KEYS[i], ARGV[4])
    end
    ours[#ours + 1] = 1
  else
    ours[#ours + 1] = 0
  end
end
return ours
