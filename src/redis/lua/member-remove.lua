-- KEYS and ARGV [5]-[7]: a room's membership (membership_keys in the library), the caller's own
-- set. ARGV [8] connection, [9] user. Removes the connection (publishing 'l' when it was the
-- user's last in the room). Returns {last, deleted, missing}: deleted = 1 when the room is empty;
-- missing = 1 when Redis did not hold the connection (it lost it with its data).
local k = membership_keys()
local left = drop_entry(k, ARGV[5], ARGV[8], ARGV[9])
local deleted = settle(k, ARGV[5], false)
-- Nothing of the room changed: it was not deleted by this call, whatever is left of it.
if left == -1 then return {0, 0, 1} end
return {left, deleted, 0}
