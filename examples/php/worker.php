<?php
// An AI worker: reads users' prompts from Quaver's inbound stream with a
// consumer group, and answers each with a stream of tokens XADDed to the
// ingest stream, on the channel the prompt came from. It stops generating
// when Quaver signals that nobody is listening to the channel any more.
// The "model" is fake: it streams a canned answer at a realistic pace.
//
// Usage: php worker.php
// Environment: REDIS_HOST, REDIS_PORT, QUAVER_REDIS_PREFIX (quaver),
// QUAVER_APP_ID (quaver), QUAVER_TOKENS_PER_SECOND (25), WORKER_NAME.

$prefix = getenv('QUAVER_REDIS_PREFIX') ?: 'quaver';
$app = getenv('QUAVER_APP_ID') ?: 'quaver';
$pace = 1.0 / (float) (getenv('QUAVER_TOKENS_PER_SECOND') ?: 25);
$me = getenv('WORKER_NAME') ?: 'worker-' . getmypid();
$inbound = "$prefix:inbound:$app";   // client events of channels with inbound: true
$ingest = "$prefix:ingest:$app";     // tokens to publish
$signals = "$prefix:signals:$app";   // vacated channels

$redis = new Redis();
$redis->connect(getenv('REDIS_HOST') ?: '127.0.0.1', (int) (getenv('REDIS_PORT') ?: 6379));
try {
    $redis->xGroup('CREATE', $inbound, 'workers', '$', true);
} catch (RedisException $e) {
    // BUSYGROUP: the group exists already.
}
// Signals are read from the newest one present when the worker starts.
$newest = $redis->xRevRange($signals, '+', '-', 1);
$lastSignal = $newest ? array_key_first($newest) : '0-0';
fwrite(STDERR, "$me: waiting for prompts on $inbound\n");

function answer(string $prompt): string
{
    return "You asked: \"$prompt\". Here is a streamed answer. Quaver delivers each token " .
        "to every browser on the channel as it is produced, keeps the text so far for anyone who " .
        "joins late or reloads the page, and tells this worker when nobody is listening any more.";
}

// vacated reports whether Quaver signalled that channel lost its audience.
function vacated(Redis $redis, string $signals, string &$last, string $channel): bool
{
    $res = $redis->xRead([$signals => $last], 100);
    foreach ($res[$signals] ?? [] as $id => $fields) {
        $last = $id;
        if (($fields['type'] ?? '') === 'vacated' && ($fields['channel'] ?? '') === $channel) {
            return true;
        }
    }
    return false;
}

while (true) {
    $batch = $redis->xReadGroup('workers', $me, [$inbound => '>'], 10, 1000);
    foreach ($batch[$inbound] ?? [] as $id => $fields) {
        $prompt = json_decode($fields['data'] ?? '{}', true)['text'] ?? '';
        $channel = $fields['channel'];
        $stream = $id; // the prompt's entry id names the answer's stream
        preg_match_all('/\s*\S+/u', answer($prompt), $m);
        $seq = 0;
        foreach ($m[0] as $delta) {
            if ($seq % 10 === 0 && vacated($redis, $signals, $lastSignal, $channel)) {
                fwrite(STDERR, "$me: $channel was vacated, stopping\n");
                break;
            }
            $redis->xAdd($ingest, '*', [
                'channel' => $channel,
                'event' => 'token',
                'data' => json_encode(['stream' => $stream, 'seq' => $seq++, 'delta' => $delta], JSON_UNESCAPED_UNICODE),
            ], 100000, true);
            usleep((int) ($pace * 1e6));
        }
        $redis->xAdd($ingest, '*', [
            'channel' => $channel,
            'event' => 'token',
            'data' => json_encode(['stream' => $stream, 'seq' => $seq, 'done' => true]),
        ], 100000, true);
        $redis->xAck($inbound, 'workers', [$id]);
        fwrite(STDERR, "$me: answered {$fields['user_id']} on $channel ($seq tokens)\n");
    }
}
