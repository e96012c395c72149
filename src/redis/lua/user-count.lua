-- ARGV (after the common three): [4] instance, [5] user. The user's connections, cluster-wide.
return user_count(ARGV[4], ARGV[5])
