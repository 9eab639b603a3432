#!/usr/bin/env python3
"""An HTTP helper that answers wrongly, for the integration tests (the daemon checks what its helper says).

bad-http-helper.py MODE: reads one request frame from stdin (a socket) and answers on it:
status (HTTP status 99999), retry (Retry-After 10^18 s), body (a 2,000-byte body), huge (a frame
announcing 2 GiB and sending nothing more), garbage (an unknown reply kind).
"""
import os
import struct
import sys

mode = sys.argv[1]


def read_exactly(n):
    out = b""
    while len(out) < n:
        chunk = os.read(0, n - len(out))
        if not chunk:
            sys.exit(0)
        out += chunk
    return out


n = struct.unpack(">I", read_exactly(4))[0]
read_exactly(n)


def answer(status=200, retry=-1, body=b"", tag=0):
    payload = bytes([tag]) + struct.pack(">qqBq", status, 0, 1, retry) + struct.pack(">I", len(body)) + body
    os.write(0, struct.pack(">I", len(payload)) + payload)


if mode == "status":
    answer(status=99999)
elif mode == "retry":
    answer(status=429, retry=10**18)
elif mode == "body":
    answer(body=b"x" * 2000)
elif mode == "huge":
    os.write(0, struct.pack(">I", 0x7FFFFFFF))
elif mode == "garbage":
    answer(tag=7)
os.read(0, 1)  # until the client closes
