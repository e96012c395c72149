-- KEYS and ARGV [5]-[7]: a room's membership (membership_keys in the library), the caller's own
-- set. ARGV [8] how many connections the caller holds in the room (-1 while a change is on its way:
-- the counts cannot be compared then), [9] '1' to look for a lapsed instance. Renews the caller's
-- lease. Returns {resync, lease, lapsed}: resync = 1 when Redis may not hold the caller's entries (its
-- lease was gone or had run out, or it holds another number of them); lease = the caller's lease
-- as it was (see renew); lapsed = an instance whose lease ran out, for the caller to expire ('' if
-- none or not asked).
local k = membership_keys()
local now = now_ms()
local lease = renew(k, ARGV[5], now, tonumber(ARGV[6]))
keep(k, tonumber(ARGV[7]))
local held = tonumber(ARGV[8])
local resync = 0
if lease ~= 1 or (held >= 0 and redis.call('SCARD', k.mine) ~= held) then resync = 1 end
-- Tombstones older than the keys' life go (an instance that never came back).
redis.call('ZREMRANGEBYSCORE', k.leases, '(' .. (tonumber(ARGV[7]) - now), '(0')
local lapsed = ''
if ARGV[9] == '1' then
  lapsed = redis.call('ZRANGEBYSCORE', k.leases, 0, '(' .. now, 'LIMIT', 0, 1)[1] or ''
end
return {resync, lease, lapsed}
