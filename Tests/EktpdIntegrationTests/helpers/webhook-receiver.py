#!/usr/bin/env python3
"""A loopback Alertmanager-style webhook receiver for the integration tests.

webhook-receiver.py DIR [FAIL_FIRST [CERT KEY]]: listens on 127.0.0.1 (a free port, written to DIR/port once
listening), stores each POST as DIR/NNN.json (body) and DIR/NNN.meta (path and Content-Type), and
answers 500 to the first FAIL_FIRST requests, 200 after. With CERT and KEY (PEM) it speaks HTTPS.
"""
import http.server
import os
import ssl
import sys

out = sys.argv[1]
fail_first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(out, "%03d.json" % count), "wb") as f:
            f.write(body)
        with open(os.path.join(out, "%03d.meta" % count), "w") as f:
            f.write("%s\n%s\n" % (self.path, self.headers.get("Content-Type", "")))
        status = 500 if count <= fail_first else 200
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"fail\n" if status == 500 else b"ok\n")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
tmp = os.path.join(out, "port.tmp")
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, os.path.join(out, "port"))
server.serve_forever()
