#!/usr/bin/env python3
"""An HTTP CONNECT proxy on loopback for the integration tests (issue 14: proxies).

connect-proxy.py DIR: listens on 127.0.0.1 (a free port, written to DIR/port once listening), tunnels
each CONNECT (and forwards plain absolute-URI requests), and appends each request line to DIR/requests.
"""
import os
import socket
import sys
import threading

out = sys.argv[1]
lock = threading.Lock()


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(c):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(4096)
        if not chunk:
            c.close()
            return
        head += chunk
    line = head.split(b"\r\n", 1)[0].decode()
    with lock, open(os.path.join(out, "requests"), "a") as f:
        f.write(line + "\n")
    method, target, _ = line.split(" ", 2)
    if method == "CONNECT":
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)
    else:  # http://host:port/path through the proxy
        hostport = target.split("/")[2]
        host, port = hostport.rsplit(":", 1) if ":" in hostport else (hostport, "80")
        upstream = socket.create_connection((host, int(port)))
        upstream.sendall(head)
    threading.Thread(target=pipe, args=(upstream, c), daemon=True).start()
    pipe(c, upstream)


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(16)
tmp = os.path.join(out, "port.tmp")
with open(tmp, "w") as f:
    f.write(str(server.getsockname()[1]))
os.rename(tmp, os.path.join(out, "port"))
while True:
    conn, _ = server.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
