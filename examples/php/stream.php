<?php
// Stream a generated answer to a channel by XADDing tokens to Quaver's ingest
// stream in Redis: the way a PHP worker streams model output without any
// HTTP call. Needs Debian's php-redis extension; Quaver must run with Redis.
//
// Usage: php stream.php [CHANNEL [TEXT]]
// Environment: REDIS_HOST (127.0.0.1), REDIS_PORT (6379), QUAVER_REDIS_PREFIX
// (quaver), QUAVER_APP_ID (quaver), QUAVER_TOKENS_PER_SECOND (30).

$channel = $argv[1] ?? (getenv('QUAVER_CHANNEL') ?: 'private-ai-demo');
$text = $argv[2] ?? 'Quaver streams this answer from Redis to every browser on the channel.';
$prefix = getenv('QUAVER_REDIS_PREFIX') ?: 'quaver';
$app = getenv('QUAVER_APP_ID') ?: 'quaver';
$pace = 1.0 / (float) (getenv('QUAVER_TOKENS_PER_SECOND') ?: 30);
$stream = getenv('QUAVER_STREAM_ID') ?: bin2hex(random_bytes(6));

$redis = new Redis();
try {
    $redis->connect(getenv('REDIS_HOST') ?: '127.0.0.1', (int) (getenv('REDIS_PORT') ?: 6379));
} catch (RedisException $e) {
    fwrite(STDERR, "stream failed: cannot reach Redis: {$e->getMessage()}\n");
    exit(1);
}
$key = "$prefix:ingest:$app"; // Quaver's default ingest stream for the app

// Words with their leading space, as a model emits them.
preg_match_all('/\s*\S+/u', $text, $m);
$tokens = $m[0];
foreach ($tokens as $seq => $delta) {
    $redis->xAdd($key, '*', [
        'channel' => $channel,
        'event' => 'token',
        'data' => json_encode(['stream' => $stream, 'seq' => $seq, 'delta' => $delta], JSON_UNESCAPED_UNICODE),
    ], 100000, true); // keep the stream bounded (MAXLEN ~ 100000)
    usleep((int) ($pace * 1e6));
}
$redis->xAdd($key, '*', [
    'channel' => $channel,
    'event' => 'token',
    'data' => json_encode(['stream' => $stream, 'seq' => count($tokens), 'done' => true]),
], 100000, true);
echo "streamed " . count($tokens) . " tokens as stream $stream on $channel\n";
