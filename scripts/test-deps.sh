#!/usr/bin/env bash
# Installs what the tests run against, when it is missing: real Redis,
# HAProxy, nginx, PHP, Python and headless Chromium from Debian, and the npm clients
# (pusher-js, laravel-echo, the pusher SDK) with npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v php >/dev/null || need+=(php-cli)
command -v python3 >/dev/null || need+=(python3)
php -m 2>/dev/null | grep -qi '^redis$' || need+=(php-redis)
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci only when the lock file changed since the last install.
stamp=e2e/js/node_modules/.quaver-lock
if [ ! -f "$stamp" ] || ! cmp -s e2e/js/package-lock.json "$stamp"; then
  echo "test-deps: npm ci in e2e/js"
  (cd e2e/js && npm ci --no-audit --no-fund --loglevel=error)
  cp e2e/js/package-lock.json "$stamp"
fi
