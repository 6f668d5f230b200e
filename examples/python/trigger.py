#!/usr/bin/env python3
"""Trigger an event through the Pusher HTTP API of Quaver (or Reverb, Soketi, Pusher).

Standard library only. Usage:

    python3 trigger.py [CHANNEL [EVENT [DATA]]]

Settings come from the environment; the defaults reach `quaver start` run with
no configuration (the development app on 127.0.0.1:8080):

    QUAVER_URL          base URL, e.g. https://ws.example.com (overrides host and port)
    QUAVER_HOST         127.0.0.1
    QUAVER_PORT         8080
    QUAVER_APP_ID       quaver
    QUAVER_APP_KEY      quaver-key
    QUAVER_APP_SECRET   quaver-secret
    QUAVER_CHANNEL, QUAVER_EVENT, QUAVER_DATA   used when not given as arguments

Prints the server's answer and exits 1 when the event was not accepted.
"""
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def trigger(base_url, app_id, key, secret, channel, event, data):
    """POSTs one event to /apps/{app_id}/events, signed with the app secret, and returns the answer."""
    body = json.dumps({"name": event, "channels": [channel], "data": data}).encode()
    path = f"/apps/{app_id}/events"
    params = {
        "auth_key": key,
        "auth_timestamp": str(int(time.time())),
        "auth_version": "1.0",
        "body_md5": hashlib.md5(body).hexdigest(),
    }
    # Sign "METHOD\nPATH\nQUERY": parameters sorted by name, values not URL-encoded.
    query = "&".join(f"{name}={params[name]}" for name in sorted(params))
    to_sign = f"POST\n{path}\n{query}"
    params["auth_signature"] = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()

    url = base_url.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def main():
    env = os.environ.get
    args = sys.argv[1:] + [None] * 3
    base_url = env("QUAVER_URL") or f"http://{env('QUAVER_HOST', '127.0.0.1')}:{env('QUAVER_PORT', '8080')}"
    channel = args[0] or env("QUAVER_CHANNEL", "my-channel")
    event = args[1] or env("QUAVER_EVENT", "my-event")
    data = args[2] or env("QUAVER_DATA", json.dumps({"message": "hello from Python"}))
    try:
        answer = trigger(
            base_url,
            env("QUAVER_APP_ID", "quaver"),
            env("QUAVER_APP_KEY", "quaver-key"),
            env("QUAVER_APP_SECRET", "quaver-secret"),
            channel, event, data,
        )
    except urllib.error.HTTPError as err:
        sys.exit(f"trigger failed: HTTP {err.code}: {err.read().decode().strip()}")
    except OSError as err:  # refused, unknown host, TLS failure, timeout
        sys.exit(f"trigger failed: cannot reach {base_url}: {err}")
    print(f"triggered {event} on {channel}: {answer.strip()}")


if __name__ == "__main__":
    main()
