#!/usr/bin/env python3
"""A control socket that answers as an ektpd from before `?format=` did, for the integration tests.

json-only-daemon.py SOCKET FILE STATE: listens on the Unix socket SOCKET and answers every GET,
whatever its query, with FILE's bytes as application/json and `Ektpd-Kit-State: STATE`.
"""
import http.server
import os
import socketserver
import sys

path, body_file, state = sys.argv[1], sys.argv[2], sys.argv[3]
body = open(body_file, "rb").read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return "unix"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Ektpd-Kit-State", state)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.UnixStreamServer):
    pass


if os.path.exists(path):
    os.unlink(path)
Server(path, Handler).serve_forever()
