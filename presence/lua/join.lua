-- Join a socket to a presence channel, atomically.
-- KEYS[1] sockets hash (socket id -> user id)
-- KEYS[2] users hash   (user id -> number of sockets)
-- KEYS[3] info hash    (user id -> user_info JSON)
-- ARGV[1] socket id, ARGV[2] user id, ARGV[3] user_info, ARGV[4] member limit (0: none)
-- Returns 1 when the user is new to the channel (member_added is due),
-- 0 when not (or the socket had joined already), -1 when the channel is full.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
local sockets = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
local limit = tonumber(ARGV[4])
if sockets == 0 and limit > 0 and redis.call('HLEN', KEYS[2]) >= limit then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if sockets == 0 then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  return 1
end
return 0
