-- Ends an entry answered without running it (expired, dead-lettered, or run without a record),
-- only while the group's pending list gives it to this consumer: its dead letter is written once.
-- On one Redis its reply is pushed here too (KEYS[3]): answered once; on a Redis Cluster it was
-- pushed before (push.lua), and a crash before this script pushes it again at the redelivery.
-- KEYS: [1] request stream, [2] dead-letter stream, [3] the request's reply list (optional).
-- ARGV: [1] group, [2] entry id, [3] consumer, [4] reply ('' none), [5] reply TTL s,
-- [6] dead-letter max length (0: no dead letter), [7…] the dead letter's fields.
-- Returns 1 when ended, 0 when another consumer holds the entry.
local held_by = holder(KEYS[1], ARGV[1], ARGV[2])
if held_by ~= ARGV[3] then return 0 end
if KEYS[3] and ARGV[4] ~= '' then push_reply(KEYS[3], ARGV[4], ARGV[5]) end
if tonumber(ARGV[6]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', unpack(ARGV, 7))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
