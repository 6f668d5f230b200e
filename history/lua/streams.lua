-- Read a channel's streams, oldest first.
-- KEYS[1] zset of the channel's streams; ARGV[1] the key prefix of its
-- per-stream keys. Returns, per stream: id, meta (flat hash), text, marks.
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local meta = redis.call('HGETALL', ARGV[1] .. 'm:' .. id)
  if #meta > 0 then
    table.insert(out, {id, meta,
      redis.call('GET', ARGV[1] .. 't:' .. id) or '',
      redis.call('GET', ARGV[1] .. 'k:' .. id) or ''})
  end
end
return out
