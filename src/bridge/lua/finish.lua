-- Completes a run on one Redis, the three steps in one script: only while the record still
-- names this owner's delivery (otherwise nothing is written: the record's owner answers),
-- records the reply (`store`, or `release`: dropped once answered, and a duplicate runs again),
-- pushes it to the request's list and every waiter, and acknowledges the entry.
-- KEYS: [1] record, [2] waiters, [3] request stream, [4] the request's reply list (optional).
-- ARGV: [1] group, [2] entry id, [3] owner, [4] reply, [5] 'store' | 'release', [6] window ms,
-- [7] reply TTL s. Returns 1 when completed, 0 when the record is not this owner's.
if not complete(KEYS[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6]) then return 0 end
if KEYS[4] then push_reply(KEYS[4], ARGV[4], ARGV[7]) end
for _, list in ipairs(waiters_of(KEYS[2])) do push_reply(list, ARGV[4], ARGV[7]) end
settle(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])
return 1
