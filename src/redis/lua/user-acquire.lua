-- KEYS: [1] the user's set P{#u:<user>}:conns. ARGV (after the common four): [5] the connection
-- as "<instance>\n<connection>", [6] max, [7] ms the set outlives its last acquire, [8...] the
-- instances named in the set that are not alive (their entries go first). Counts the connection
-- unless the user holds max; returns 1 when counted (or already counted), 0 when refused.
local set = KEYS[1]
if redis.call('SISMEMBER', set, ARGV[5]) == 1 then return 1 end
if #ARGV >= 8 then
  local dead = {}
  for i = 8, #ARGV do dead[ARGV[i]] = true end
  for _, entry in ipairs(redis.call('SMEMBERS', set)) do
    local instance = string.sub(entry, 1, string.find(entry, '\n', 1, true) - 1)
    if dead[instance] then redis.call('SREM', set, entry) end
  end
end
if redis.call('SCARD', set) >= tonumber(ARGV[6]) then return 0 end
redis.call('SADD', set, ARGV[5])
redis.call('PEXPIRE', set, ARGV[7])
return 1
