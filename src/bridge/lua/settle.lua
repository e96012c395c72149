-- Ends an answered entry, once its reply was pushed to its list and to the record's waiters: the
-- waiters are dropped and a record not kept ('f') with them, only while the record still names
-- `owner` and holds a reply (a record taken again since is another run's); the entry is
-- acknowledged.
-- KEYS: [1] record, [2] waiters, [3] request stream. ARGV: [1] group, [2] entry id, [3] owner.
local state, owner = unpack(redis.call('HMGET', KEYS[1], 's', 'o'))
if owner == ARGV[3] and (state == 'd' or state == 'f') then
  redis.call('DEL', KEYS[2])
  if state == 'f' then redis.call('DEL', KEYS[1]) end
end
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
return 1
