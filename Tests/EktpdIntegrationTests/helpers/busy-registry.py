#!/usr/bin/env python3
"""A registry that is always busy, for the integration tests (issue 17: backpressure).

busy-registry.py DIR SECONDS: listens on 127.0.0.1 (port in DIR/port), answers every POST with
429 and Retry-After: SECONDS, every GET with 404, counts the POSTs in DIR/posts and keeps the
last POST's Ektp-Pending header (the reports the station has left) in DIR/pending.
"""
import http.server
import os
import sys

out, seconds = sys.argv[1], sys.argv[2]
posts = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global posts
        posts += 1
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(out, "pending"), "w") as f:
            f.write(self.headers.get("Ektp-Pending", ""))
        with open(os.path.join(out, "batch-size"), "w") as f:
            f.write(self.headers.get("Ektp-Batch-Size", ""))
        with open(os.path.join(out, "posts"), "w") as f:
            f.write(str(posts))
        body = b'{"error":"busy"}\n'
        self.send_response(429)
        self.send_header("Retry-After", seconds)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        body = b'{"error":"no such endpoint"}\n'
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = os.path.join(out, "port.tmp")
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, os.path.join(out, "port"))
server.serve_forever()
