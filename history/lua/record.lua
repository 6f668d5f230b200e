-- Record one event of a channel with a rule, atomically.
-- KEYS[1] zset of the channel's streams (member: stream id, score: first seen, ms)
-- KEYS[2] the stream's meta hash (event, seq, done)
-- KEYS[3] the stream's text
-- KEYS[4] the stream's marks: "seq:end," per token
-- KEYS[5] list of the channel's last events
-- ARGV[1] retain (ms)       ARGV[2] "1" for a token
-- ARGV[3] stream id         ARGV[4] seq      ARGV[5] delta   ARGV[6] "1" when done
-- ARGV[7] event name        ARGV[8] now (ms)
-- ARGV[9] history size      ARGV[10] the event, marshalled
-- ARGV[11] max streams      ARGV[12] max text bytes
-- ARGV[13] the key prefix of the channel's per-stream keys
-- Returns 2 when the token opened its stream, 1 otherwise.
local retain = tonumber(ARGV[1])
local opened = 1
if ARGV[2] == '1' then
  local seq = tonumber(ARGV[4])
  local cur = redis.call('HGET', KEYS[2], 'seq')
  if not cur or tonumber(cur) < seq then
    if not cur then
      opened = 2
      redis.call('HSET', KEYS[2], 'event', ARGV[7])
      redis.call('ZADD', KEYS[1], 'NX', ARGV[8], ARGV[3])
      local n = redis.call('ZCARD', KEYS[1])
      local limit = tonumber(ARGV[11])
      if n > limit then
        for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, n - limit - 1)) do
          redis.call('DEL', ARGV[13] .. 'm:' .. id, ARGV[13] .. 't:' .. id, ARGV[13] .. 'k:' .. id)
          redis.call('ZREM', KEYS[1], id)
        end
      end
    end
    -- Past the text limit the text stops growing; the stream goes on.
    local len = redis.call('STRLEN', KEYS[3])
    if len + string.len(ARGV[5]) <= tonumber(ARGV[12]) then
      len = redis.call('APPEND', KEYS[3], ARGV[5])
    end
    redis.call('APPEND', KEYS[4], ARGV[4] .. ':' .. len .. ',')
    redis.call('HSET', KEYS[2], 'seq', ARGV[4])
    if ARGV[6] == '1' then
      redis.call('HSET', KEYS[2], 'done', '1')
    end
    for i = 1, 4 do
      redis.call('PEXPIRE', KEYS[i], retain)
    end
  end
end
local size = tonumber(ARGV[9])
if size > 0 then
  redis.call('RPUSH', KEYS[5], ARGV[10])
  redis.call('LTRIM', KEYS[5], -size, -1)
  redis.call('PEXPIRE', KEYS[5], retain)
end
return opened
