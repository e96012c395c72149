-- KEYS and ARGV [5]-[7]: a room's membership (membership_keys in the library) and the set of the
-- instance [5] whose entries go. ARGV [8] at most this many entries, [9] 'expire' (only while
-- that instance's lease has run out: it may have come back) or 'leave' (a graceful stop).
-- Removes up to [8] of its entries, publishing the 'l' of each user whose last connection it was.
-- Returns {done, user, ...} of the users who left; done = 1 when the instance has no entry left
-- in the room (or is not to be expired).
local k = membership_keys()
local instance = ARGV[5]
local expire = ARGV[9] == 'expire'
if expire then
  local lease = tonumber(redis.call('ZSCORE', k.leases, instance) or '-1')
  if lease < 0 or lease >= now_ms() then return {1} end
end
local result = {0}
for _, entry in ipairs(redis.call('SPOP', k.mine, tonumber(ARGV[8]))) do
  local conn, user = split_entry(entry)
  -- SPOP took the entry already: drop_entry's SREM finds nothing, as it should.
  if drop_entry(k, instance, conn, user) == 1 then table.insert(result, user) end
end
if redis.call('SCARD', k.mine) == 0 then result[1] = 1 end
settle(k, instance, expire)
return result
