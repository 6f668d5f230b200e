-- Move an ingest stream's checkpoint, only while this node holds the lease.
-- KEYS[1] lease, KEYS[2] checkpoint; ARGV[1] node, ARGV[2] entry id,
-- ARGV[3] lease duration (ms). Returns 1, or 0 when the lease is lost.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
