-- A Redis Cluster's last step of an answer, once the reply was pushed to its list and to the
-- waiters: settle.
-- KEYS: [1] record, [2] waiters, [3] request stream. ARGV: [1] group, [2] entry id, [3] owner.
settle(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])
return 1
