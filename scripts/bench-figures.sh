#!/usr/bin/env bash
# Reproduces the whole-server figures of BENCHMARKS.md on this machine:
# the server pinned to CPU 0, the load tool to CPU 1, one scenario at a time,
# each against a fresh server. Prints each run's summary and its JSON line.
#
#   ./scripts/bench-figures.sh            # every scenario
#   ./scripts/bench-figures.sh fanout     # only those whose name contains "fanout"
set -euo pipefail
cd "$(dirname "$0")/.."
make build >/dev/null
only="${1:-}"
port=18080
url="http://127.0.0.1:$port"
redis_port=16399

# A token rule on the bench's channels, so that the server handles the
# streams' events as tokens and merges those a slow subscriber has queued.
tokens_config="$(mktemp --suffix .yaml)"
trap 'rm -f "$tokens_config"' EXIT
cat >"$tokens_config" <<'EOF'
apps:
  - id: quaver
    key: quaver-key
    secret: quaver-secret
    channels:
      - prefix: bench-stream-
        tokens: true
EOF

scenarios=(
  "idle-19000|idle --conns 19000 --settle 10s"
  "fanout-1000x20|fanout --subs 1000 --rate 20 --duration 20s"
  "fanout-1000x400|fanout --subs 1000 --rate 400 --duration 20s"
  "fanout-5000x80|fanout --subs 5000 --rate 80 --duration 20s"
  "streams-500x20|streams --streams 500 --tps 20 --duration 20s"
  "streams-500x20-batch10|streams --streams 500 --tps 20 --batch 10 --duration 20s"
  # Through a Redis Stream: a fresh redis-server shares CPU 0 with the server.
  "streams-ingest-1000x20|streams --streams 1000 --tps 20 --duration 20s --ingest redis://127.0.0.1:$redis_port"
  # Slow subscribers: 100 streams × 100 tokens/s on a server with the token
  # rule, without and with 20 of the subscribers reading at most 1 kB/s of
  # their 13 kB/s, so that their queues pass the soft limit and merge
  # (after each name, "|" and the server's own arguments).
  "streams-tokens-100x100|streams --streams 100 --tps 100 --duration 30s|--config $tokens_config"
  "streams-tokens-100x100-slow20|streams --streams 100 --tps 100 --duration 30s --slow 20 --slow-rate 1000|--config $tokens_config"
)

for s in "${scenarios[@]}"; do
  name="${s%%|*}"; rest="${s#*|}"; args="${rest%%|*}"
  [[ -z "$only" || "$name" == *"$only"* ]] || continue
  extra=()
  # shellcheck disable=SC2206
  [[ "$rest" == *"|"* ]] && extra=(${rest#*|})
  if [[ "$args" == *--ingest* ]]; then
    taskset -c 0 redis-server --port "$redis_port" --save '' --appendonly no --daemonize yes --logfile /dev/null
    extra+=(--redis-url "redis://127.0.0.1:$redis_port")
  fi
  taskset -c 0 ./bin/quaver start --port "$port" "${extra[@]}" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -fs "$url/up" >/dev/null 2>&1 && break; sleep 0.05; done
  echo "== $name: taskset -c 0 quaver start --port $port ${extra[*]}; taskset -c 1 quaver bench $args --url $url --pid <server> --json"
  # shellcheck disable=SC2086
  taskset -c 1 ./bin/quaver bench $args --url "$url" --pid "$server" --json 2>/dev/null
  kill "$server"; wait "$server" 2>/dev/null || true
  if [[ "$args" == *--ingest* ]]; then redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; fi
done
