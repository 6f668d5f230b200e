#!/usr/bin/env bash
# The AI chat demo, locally: Redis, Quaver (examples/chat/quaver.yaml), the
# PHP worker with its fake model, and the chat page. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/test-deps.sh >/dev/null   # redis-server, php-redis, pusher-js and laravel-echo for the page
make build >/dev/null

redis_port="${REDIS_PORT:-16379}"
quaver_port="${QUAVER_PORT:-8080}"
chat_port="${CHAT_PORT:-8000}"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
sleep 0.3
./bin/quaver start --config examples/chat/quaver.yaml --port "$quaver_port" --redis-url "redis://127.0.0.1:$redis_port" &
pids+=($!)
REDIS_PORT="$redis_port" php examples/php/worker.php &
pids+=($!)
QUAVER_PORT="$quaver_port" CHAT_PORT="$chat_port" python3 examples/chat/server.py &
pids+=($!)
sleep 0.5
echo
echo "Open http://127.0.0.1:$chat_port/ and ask something; reload the page while the answer streams."
echo "Stream from a backend too:  python3 examples/python/stream.py private-ai-chat.lobby 'Hello from Python'"
echo "                            REDIS_PORT=$redis_port php examples/php/stream.php private-ai-chat.lobby 'Hello from PHP'"
wait
