-- KEYS: [1] the room's meta hash, [2] its channel, [3] its history stream and, when the
-- publication carries an idempotency key, [4] the key's record (P{room}:idem:<key>: every key is
-- in the room's hash slot). ARGV (after the common four): [5] kind, [6] body, [7] the idempotency
-- window in ms (with KEYS[4]).
-- Returns {offset, epoch, duplicate (0 or 1), the first publication's entry for a duplicate}.
if KEYS[4] then
  local offset, epoch, duplicate, stored =
    publish_once(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[7]), ARGV[5], ARGV[6])
  return {offset, epoch, duplicate, stored}
end
local offset, epoch = publish(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[6])
return {offset, epoch, 0, ''}
