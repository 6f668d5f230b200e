-- Count one event against a per-second limit.
-- KEYS[1] the counter of the current second; ARGV[1] the limit.
-- Returns 1 when allowed, 0 when over the limit.
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], 2000)
end
if n > tonumber(ARGV[1]) then
  return 0
end
return 1
