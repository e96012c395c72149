-- ARGV (after the common four): [5] instance, [6] user. The user's connections, cluster-wide.
return user_count(ARGV[5], ARGV[6])
