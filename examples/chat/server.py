#!/usr/bin/env python3
"""Serves the chat page and the endpoint that authorizes its private channel.

Standard library only. In a Laravel app, this is routes/channels.php and the
/broadcasting/auth route; here it signs every private-ai-chat.* request.

Environment: QUAVER_HOST (127.0.0.1), QUAVER_PORT (8080), QUAVER_APP_KEY,
QUAVER_APP_SECRET (the development app's), CHAT_PORT (8000), VENDOR_DIR
(where pusher-js and laravel-echo are installed: ../../e2e/js/node_modules).
"""
import hashlib
import hmac
import json
import os
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
env = os.environ.get
KEY = env("QUAVER_APP_KEY", "quaver-key")
SECRET = env("QUAVER_APP_SECRET", "quaver-secret")
VENDOR = env("VENDOR_DIR", os.path.join(HERE, "..", "..", "e2e", "js", "node_modules"))
FILES = {
    "/vendor/pusher.min.js": os.path.join(VENDOR, "pusher-js", "dist", "web", "pusher.min.js"),
    "/vendor/echo.iife.js": os.path.join(VENDOR, "laravel-echo", "dist", "echo.iife.js"),
}


class Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=HERE, **kwargs)

    def send_body(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/config.json":
            config = {"key": KEY, "host": env("QUAVER_PUBLIC_HOST", env("QUAVER_HOST", "127.0.0.1")),
                      "port": int(env("QUAVER_PORT", "8080"))}
            return self.send_body(200, json.dumps(config).encode(), "application/json")
        if path in FILES:
            with open(FILES[path], "rb") as f:
                return self.send_body(200, f.read(), "text/javascript")
        return super().do_GET()

    def do_POST(self):
        if urllib.parse.urlparse(self.path).path != "/broadcasting/auth":
            return self.send_body(404, b"not found", "text/plain")
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        socket_id, channel = form.get("socket_id", [""])[0], form.get("channel_name", [""])[0]
        if not channel.startswith("private-ai-chat."):
            return self.send_body(403, b'{"message":"forbidden"}', "application/json")
        # The Pusher channel signature: HMAC-SHA256(secret, "socket_id:channel").
        signature = hmac.new(SECRET.encode(), f"{socket_id}:{channel}".encode(), hashlib.sha256).hexdigest()
        self.send_body(200, json.dumps({"auth": f"{KEY}:{signature}"}).encode(), "application/json")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(env("CHAT_PORT", "8000"))
    print(f"chat page on http://127.0.0.1:{port}/", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
