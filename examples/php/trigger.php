<?php
// Trigger an event through the Pusher HTTP API of Quaver (or Reverb, Soketi, Pusher).
//
// Plain php-cli, no Composer, no extensions beyond the defaults. Usage:
//
//     php trigger.php [CHANNEL [EVENT [DATA]]]
//
// Settings come from the environment; the defaults reach `quaver start` run
// with no configuration (the development app on 127.0.0.1:8080):
//
//     QUAVER_URL          base URL, e.g. https://ws.example.com (overrides host and port)
//     QUAVER_HOST         127.0.0.1
//     QUAVER_PORT         8080
//     QUAVER_APP_ID       quaver
//     QUAVER_APP_KEY      quaver-key
//     QUAVER_APP_SECRET   quaver-secret
//     QUAVER_CHANNEL, QUAVER_EVENT, QUAVER_DATA   used when not given as arguments
//
// Prints the server's answer and exits 1 when the event was not accepted.

function env(string $name, string $default): string
{
    $value = getenv($name);
    return $value === false || $value === '' ? $default : $value;
}

// POSTs one event to /apps/{appId}/events, signed with the app secret.
// Returns [HTTP status, body]; status 0 when the server could not be reached.
function trigger(string $baseUrl, string $appId, string $key, string $secret,
                 string $channel, string $event, string $data): array
{
    $body = json_encode(['name' => $event, 'channels' => [$channel], 'data' => $data]);
    $path = "/apps/$appId/events";
    $params = [
        'auth_key' => $key,
        'auth_timestamp' => (string) time(),
        'auth_version' => '1.0',
        'body_md5' => md5($body),
    ];
    // Sign "METHOD\nPATH\nQUERY": parameters sorted by name, values not URL-encoded.
    ksort($params);
    $query = implode('&', array_map(fn ($name) => "$name=$params[$name]", array_keys($params)));
    $params['auth_signature'] = hash_hmac('sha256', "POST\n$path\n$query", $secret);

    $url = rtrim($baseUrl, '/') . $path . '?' . http_build_query($params);
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: application/json\r\n",
        'content' => $body,
        'timeout' => 10,
        'ignore_errors' => true, // return the body of 4xx/5xx answers too
    ]]);
    $answer = @file_get_contents($url, false, $context);
    if ($answer === false) {
        return [0, error_get_last()['message'] ?? 'no answer'];
    }
    $headers = function_exists('http_get_last_response_headers')
        ? http_get_last_response_headers() : $http_response_header;
    preg_match('{^HTTP/\S+ (\d+)}', $headers[0], $status);
    return [(int) $status[1], $answer];
}

$baseUrl = env('QUAVER_URL', 'http://' . env('QUAVER_HOST', '127.0.0.1') . ':' . env('QUAVER_PORT', '8080'));
$channel = $argv[1] ?? env('QUAVER_CHANNEL', 'my-channel');
$event = $argv[2] ?? env('QUAVER_EVENT', 'my-event');
$data = $argv[3] ?? env('QUAVER_DATA', json_encode(['message' => 'hello from PHP']));

[$status, $answer] = trigger(
    $baseUrl,
    env('QUAVER_APP_ID', 'quaver'),
    env('QUAVER_APP_KEY', 'quaver-key'),
    env('QUAVER_APP_SECRET', 'quaver-secret'),
    $channel, $event, $data,
);
if ($status === 0) {
    fwrite(STDERR, "trigger failed: cannot reach $baseUrl: $answer\n");
    exit(1);
}
if ($status >= 300) {
    fwrite(STDERR, "trigger failed: HTTP $status: " . trim($answer) . "\n");
    exit(1);
}
echo "triggered $event on $channel: " . trim($answer) . "\n";
