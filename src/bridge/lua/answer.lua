-- Ends an entry answered without running it (expired, dead-lettered, or run without a record),
-- its reply already pushed (push.lua), only while the group's pending list gives it to this
-- consumer: its dead letter is written once.
-- KEYS: [1] request stream, [2] dead-letter stream.
-- ARGV: [1] group, [2] entry id, [3] consumer, [4] dead-letter max length (0: no dead letter),
-- [5…] the dead letter's fields.
-- Returns 1 when ended, 0 when another consumer holds the entry.
local held_by = holder(KEYS[1], ARGV[1], ARGV[2])
if held_by ~= ARGV[3] then return 0 end
if tonumber(ARGV[4]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
