-- A Redis Cluster's second step of an answer: pushes a reply to one reply list (push_reply).
-- KEYS: [1] the reply list. ARGV: [1] reply, [2] TTL s. Returns 1 when pushed, 0 when not.
return push_reply(KEYS[1], ARGV[1], ARGV[2])
