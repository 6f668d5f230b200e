-- Remove a socket from a presence channel, atomically.
-- KEYS as in join.lua; ARGV[1] socket id.
-- Returns false when the socket was not in the channel, otherwise
-- {user id, user_info, last}, last being 1 when it was the user's last
-- socket (member_removed is due) and 0 otherwise.
local user = redis.call('HGET', KEYS[1], ARGV[1])
if not user then
  return false
end
redis.call('HDEL', KEYS[1], ARGV[1])
local info = redis.call('HGET', KEYS[3], user) or ''
if redis.call('HINCRBY', KEYS[2], user, -1) > 0 then
  return {user, info, 0}
end
redis.call('HDEL', KEYS[2], user)
redis.call('HDEL', KEYS[3], user)
return {user, info, 1}
