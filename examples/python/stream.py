#!/usr/bin/env python3
"""Stream a generated answer to a channel, token by token, through the Pusher HTTP API.

Standard library only. This is how a Python AI backend streams model output to
browsers through Quaver: one HTTP request per token (or a few), each a token
event of the convention Quaver understands on channels configured with
`tokens: true`:

    {"stream": "<id>", "seq": 0, "delta": "Hello"}    ... then
    {"stream": "<id>", "seq": N, "done": true}

Usage: python3 stream.py [CHANNEL [TEXT]]   (settings as in trigger.py, plus
QUAVER_TOKENS_PER_SECOND, default 30)
"""
import json
import os
import re
import sys
import time
import urllib.error
import uuid

from trigger import trigger  # the signed request, from trigger.py next to this file


def tokens(text):
    """Splits text the way a model emits it: words with their leading space."""
    return re.findall(r"\s*\S+", text)


def main():
    env = os.environ.get
    args = sys.argv[1:] + [None] * 2
    base_url = env("QUAVER_URL") or f"http://{env('QUAVER_HOST', '127.0.0.1')}:{env('QUAVER_PORT', '8080')}"
    credentials = (env("QUAVER_APP_ID", "quaver"), env("QUAVER_APP_KEY", "quaver-key"), env("QUAVER_APP_SECRET", "quaver-secret"))
    channel = args[0] or env("QUAVER_CHANNEL", "private-ai-demo")
    text = args[1] or "Quaver streams this answer to every browser on the channel, token by token."
    pace = 1 / float(env("QUAVER_TOKENS_PER_SECOND", "30"))
    stream = env("QUAVER_STREAM_ID") or uuid.uuid4().hex[:12]

    parts = tokens(text)
    try:
        for seq, delta in enumerate(parts):
            trigger(base_url, *credentials, channel, "token", json.dumps({"stream": stream, "seq": seq, "delta": delta}))
            time.sleep(pace)
        trigger(base_url, *credentials, channel, "token", json.dumps({"stream": stream, "seq": len(parts), "done": True}))
    except urllib.error.HTTPError as err:
        sys.exit(f"stream failed: HTTP {err.code}: {err.read().decode().strip()}")
    except OSError as err:
        sys.exit(f"stream failed: cannot reach {base_url}: {err}")
    print(f"streamed {len(parts)} tokens as stream {stream} on {channel}")


if __name__ == "__main__":
    main()
