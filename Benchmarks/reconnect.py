#!/usr/bin/env python3
"""A province reconnecting at once (issue 17, admission control): CONNS connections each POST a
batch of 200 reports at the same moment, against `ektp-registry serve` with its default admission
(8 writes, 64 waiting, 5 s) and with admission effectively off; prints the registry's peak memory
(VmHWM), answers by status, and the slowest answer.

    python3 Benchmarks/reconnect.py [CONNS] [REGISTRY_BINARY]      (defaults 2000, .build/debug/ektp-registry)

Stations: 50 tokens, each sending CONNS/50 batches of distinct sequences (a station's token may only
write its own reports). Plain asyncio sockets, HTTP/1.1, one request per connection.
"""
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
BIN = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, ".build/debug/ektp-registry")
STATIONS = 50


def batch(station, first, n=200):
    reps = []
    for s in range(first, first + n):
        reps.append('{"sequence":%d,"kind":"event","time":"2026-11-23T08:00:00Z","event":{"sequence":%d,"time":"2026-11-23T08:00:00Z",'
                    '"station":"%s","type":"device.health","subject":"1-1:05ba:000a","from":"ok","to":"failed","reason":"no response to GET_STATUS"}}'
                    % (s, s, station))
    return ('{"station":"%s","sent_at":"2026-11-23T08:00:01Z","reports":[%s]}' % (station, ",".join(reps))).encode()


async def post(port, token, body):
    t = time.perf_counter()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"POST /v1/reports HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer " + token.encode() +
                b"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await w.drain()
        line = await asyncio.wait_for(r.readline(), 60)
        w.close()
        return int(line.split()[1]), time.perf_counter() - t
    except Exception as e:
        return type(e).__name__, time.perf_counter() - t


def peak_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(extra):
    work = tempfile.mkdtemp(prefix="ektp-reconnect-")
    db = f"sqlite:{work}/r.db"
    try:
        tokens = [subprocess.run([BIN, "token", "issue", "--database", db, "--station", f"p-{i}"], capture_output=True, text=True, check=True).stdout.strip()
                  for i in range(STATIONS)]
        reg = subprocess.Popen([BIN, "serve", "--database", db, "--listen", "127.0.0.1:0", "--port-file", work + "/port", "--log-level", "error"] + extra)
        while not os.path.exists(work + "/port"):
            time.sleep(0.05)
        port = int(open(work + "/port").read())
        base = peak_mb(reg.pid)
        bodies = [(tokens[i % STATIONS], batch(f"p-{i % STATIONS}", 1 + (i // STATIONS) * 200)) for i in range(CONNS)]

        async def all_at_once():
            return await asyncio.gather(*[post(port, t, b) for t, b in bodies])
        t0 = time.perf_counter()
        results = asyncio.run(all_at_once())
        wall = time.perf_counter() - t0
        peak = peak_mb(reg.pid)
        reg.terminate()
        reg.wait()
        by = {}
        for status, _ in results:
            by[status] = by.get(status, 0) + 1
        return base, peak, by, max(d for _, d in results), wall
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"{CONNS} connections at once, 200 reports each ({len(batch('p-0', 1)) // 1024} KiB), {BIN}")
    print("| registry | peak RSS (VmHWM) | answers | slowest answer | all answered in |\n|---|---|---|---|---|")
    for name, extra in [("default admission (8 writing, 64 waiting, 5 s)", []),
                        ("admission off (--max-writes 100000)", ["--max-writes", "100000", "--write-queue", "0"])]:
        base, peak, by, slowest, wall = run(extra)
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(by.items(), key=lambda kv: str(kv[0])))
        print(f"| {name} | {peak:.0f} MB (idle {base:.0f}) | {answers} | {slowest:.1f} s | {wall:.1f} s |")


if __name__ == "__main__":
    main()
