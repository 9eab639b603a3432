#!/usr/bin/env python3
"""A national catch-up over HTTP (issue 17, item 3): STATIONS stations, each with HOURS of backlog at
one report a minute (a fifth of them snapshots of the demo kit, the rest device events), deliver it
at once to `ektp-registry serve` as stations do: one keep-alive connection each, gzip'd batches of
200 saying how many reports are left (Ektp-Pending, Ektp-Batch-Size), the next batch when the last is answered, a
429's Retry-After honoured with jitter, 20 s timeout. Prints reports/s, the time 21.6 M reports (15,000 stations x 24 h) would take at that
rate, the registry's CPU per report and peak memory, refusals and timeouts; then checks that the
database holds every report once.

    swift build -c release --product ektp-registry --product ektpd --scratch-path .build-release
    python3 Benchmarks/catchup.py [STATIONS] [HOURS] [sqlite|postgres|both]     (defaults 1000 24 both)

The load client is this script (asyncio; the bodies are made and compressed before the clock
starts, so it only writes bytes and reads answers: it used under a tenth of the registry's CPU).
Tokens: the first is issued with `ektp-registry token issue` (which also makes the schema), the
rest are written into the tokens table as the registry keeps them (SHA-256 of the token), because
1,000 process starts would take longer than the run. The snapshot is the demo kit's own status,
read from a running `ektpd` at the start.
"""
import asyncio
import gzip
import hashlib
import json
import os
import random
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
HOURS = float(sys.argv[2]) if len(sys.argv) > 2 else 24
WHICH = sys.argv[3] if len(sys.argv) > 3 else "both"
# More `ektp-registry serve` options, e.g. EKTP_SERVE_ARGS="--max-connections 8192".
EXTRA = os.environ.get("EKTP_SERVE_ARGS", "").split()
REGISTRY = os.path.join(ROOT, ".build-release/release/ektp-registry")
EKTPD = os.path.join(ROOT, ".build-release/release/ektpd")
TICK = os.sysconf("SC_CLK_TCK")
BATCH = 200
TIMEOUT = 20.0
NATIONAL = 21_600_000

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def demo_snapshot():
    """The demo kit's status as `ektpd run` reports it (a snapshot's `status`)."""
    work = tempfile.mkdtemp(prefix="ektp-catchup-kit-")
    try:
        with open(work + "/ektpd.yaml", "w") as f:
            f.write(f"station:\n  id: demo-01\n  site: {{province: Kalimantan Barat, regency: Sintang, district: Sintang}}\n"
                    f"backend: {{type: simulated, scenario: {ROOT}/scenarios/demo-kit.yaml}}\ncontrol: {{socket: {work}/c.sock}}\n"
                    f"state_directory: {work}/state\npower: false\n")
        p = subprocess.Popen([EKTPD, "run", "--config", work + "/ektpd.yaml"], stderr=subprocess.DEVNULL)
        try:
            from run import http
            for _ in range(200):
                if os.path.exists(work + "/c.sock"):
                    try:
                        status, body = http(work + "/c.sock", "GET", "/v1/status")
                        if status == 200:
                            return json.loads(body)
                    except OSError:
                        pass
                time.sleep(0.05)
            raise SystemExit("ektpd did not answer /v1/status")
        finally:
            p.terminate()
            p.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bodies_for(station, snapshot, reports):
    """A station's backlog as gzip'd batch bodies: one report a minute, every fifth a snapshot."""
    t0 = 1_795_000_000  # 2026-11-18
    out = []
    for first in range(1, reports + 1, BATCH):
        reps = []
        for seq in range(first, min(first + BATCH, reports + 1)):
            t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + seq * 60))
            if seq % 5 == 0:
                s = dict(snapshot, station=station, last_sequence=seq, now=t)
                reps.append({"sequence": seq, "kind": "snapshot", "time": t, "status": s})
            else:
                reps.append({"sequence": seq, "kind": "event", "time": t, "event": {
                    "sequence": seq, "time": t, "station": station, "type": "device.health", "subject": "1-1:05ba:000a",
                    "kind": "fingerprint", "from": "ok", "to": "failed", "reason": "no response to GET_STATUS: replug it or check the cable"}})
        raw = json.dumps({"station": station, "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + reports * 60)),
                          "reports": reps}, separators=(",", ":")).encode()
        out.append((gzip.compress(raw, 6), len(raw), len(reps)))
    return out


class Tally:
    def __init__(self):
        self.stored = 0
        self.refused = 0
        self.again = 0  # refusals of a batch already refused once
        self.timeouts = 0
        self.reconnects = 0
        self.errors = {}
        self.slowest = 0.0


async def station(port, token, bodies, tally):
    reader = writer = None
    left = sum(n for _, _, n in bodies)
    for body, _, n in bodies:
        refusals = 0
        while True:
            t = time.perf_counter()
            reused = writer is not None
            if writer is None:
                # A connection the registry does not accept yet waits in its listen queue: that wait
                # is part of the answer's time, and of the station's 20 s.
                try:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
                except (asyncio.TimeoutError, ConnectionError) as e:
                    tally.timeouts += isinstance(e, asyncio.TimeoutError)
                    tally.errors[type(e).__name__] = tally.errors.get(type(e).__name__, 0) + 1
                    await asyncio.sleep(1 + random.random())
                    continue
            writer.write(b"POST /v1/reports HTTP/1.1\r\nHost: registry\r\nAuthorization: Bearer " + token.encode() +
                         b"\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nEktp-Pending: " + str(left).encode() +
                         b"\r\nEktp-Batch-Size: " + str(BATCH).encode() + b"\r\nContent-Length: " +
                         str(len(body)).encode() + b"\r\n\r\n" + body)
            try:
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), max(0.1, TIMEOUT - (time.perf_counter() - t)))
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                fields = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
                await reader.readexactly(int(fields.get("content-length", "0")))
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError) as e:
                writer.close()
                reader = writer = None
                if reused and not isinstance(e, asyncio.TimeoutError):
                    # The registry closed the idle connection (its --idle-timeout) while the station
                    # waited: send again on a new one at once, as libcurl does with a dead reused
                    # connection.
                    tally.reconnects += 1
                    continue
                tally.timeouts += isinstance(e, asyncio.TimeoutError)
                tally.errors[type(e).__name__] = tally.errors.get(type(e).__name__, 0) + 1
                await asyncio.sleep(1 + random.random())
                continue
            tally.slowest = max(tally.slowest, time.perf_counter() - t)
            if fields.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
            if status == 200:
                tally.stored += n
                left -= n
                break
            if status in (429, 503):
                tally.refused += 1
                tally.again += refusals > 0
                refusals += 1
                after = float(fields.get("retry-after", "1"))
                await asyncio.sleep(after + random.random() * min(after / 2, 5))  # as the station does (DeliveryBackoff)
                continue
            tally.errors[status] = tally.errors.get(status, 0) + 1
            break
    if writer is not None:
        writer.close()


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def server_cpu_seconds(postmaster):
    """A PostgreSQL server's CPU: the postmaster's, its live children's, and its reaped children's
    (which the kernel adds to the postmaster's cutime/cstime as each exits)."""
    if postmaster is None:
        return 0.0
    f = open(f"/proc/{postmaster}/stat").read().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in f[11:15]) / TICK
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != postmaster:
            try:
                g = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(g[1]) == postmaster:
                total += (int(g[11]) + int(g[12])) / TICK
    return total


def peak_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def add_tokens(url, stations, work):
    """Issue the first token with the CLI (it makes the schema), write the rest as the registry keeps them."""
    tokens = [subprocess.run([REGISTRY, "token", "issue", "--database", url, "--station", stations[0]],
                             capture_output=True, text=True, check=True).stdout.strip()]
    rows = []
    for s in stations[1:]:
        t = "ektp_" + secrets.token_hex(24)
        tokens.append(t)
        rows.append((hashlib.sha256(t.encode()).hexdigest(), s, int(time.time() * 1000)))
    if url.startswith("sqlite:"):
        db = sqlite3.connect(url[len("sqlite:"):])
        db.executemany("INSERT INTO tokens (hash, station, issued_at) VALUES (?, ?, ?)", rows)
        db.commit()
        db.close()
    else:
        with open(work + "/tokens.sql", "w") as f:
            f.write("COPY tokens (hash, station, issued_at) FROM STDIN;\n")
            f.writelines(f"{h}\t{s}\t{t}\n" for h, s, t in rows)
            f.write("\\.\n")
        subprocess.run(["psql", "-q", "-d", url, "-f", work + "/tokens.sql"], check=True, capture_output=True)
    return tokens


def refused_again(port, token):
    """The registry's own count of batches refused although the station came back at its booked time."""
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer " + token})
    for line in urllib.request.urlopen(req, timeout=20).read().decode().splitlines():
        if line.startswith("ektp_registry_ingest_refused_again_total"):
            return int(float(line.split()[-1]))
    return 0


def count(url):
    if url.startswith("sqlite:"):
        db = sqlite3.connect(url[len("sqlite:"):])
        n, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT station || ':' || seq) FROM reports").fetchone()
        db.close()
        return n, distinct
    out = subprocess.run(["psql", "-At", "-d", url, "-c", "SELECT COUNT(*), COUNT(DISTINCT (station, seq)) FROM reports"],
                         capture_output=True, text=True, check=True).stdout.strip()
    a, b = out.split("|")
    return int(a), int(b)


def run(url, label, snapshot, reports_each, postmaster=None):
    work = tempfile.mkdtemp(prefix="ektp-catchup-")
    try:
        names = [f"c-{i:05d}" for i in range(STATIONS)]
        tokens = add_tokens(url, names, work)
        print(f"[{label}] making {STATIONS:,} stations' bodies...", file=sys.stderr, flush=True)
        all_bodies = [bodies_for(n, snapshot, reports_each) for n in names]
        raw = sum(r for b in all_bodies for _, r, _ in b)
        sent = sum(len(g) for b in all_bodies for g, _, _ in b)
        reg = subprocess.Popen([REGISTRY, "serve", "--database", url, "--listen", "127.0.0.1:0", "--port-file", work + "/port",
                                "--log-level", "error"] + EXTRA)
        while not os.path.exists(work + "/port") or not open(work + "/port").read().strip():
            if reg.poll() is not None:
                raise SystemExit("ektp-registry serve exited")
            time.sleep(0.05)
        port = int(open(work + "/port").read())
        idle = peak_mb(reg.pid)
        scrape = subprocess.run([REGISTRY, "token", "issue", "--database", url, "--scrape", "catchup"],
                                capture_output=True, text=True, check=True).stdout.strip()
        tally = Tally()
        total = STATIONS * reports_each

        marks = {}  # fraction of the reports stored -> when (the steady rate: between 10 and 90 %)

        async def everyone():
            tasks = [asyncio.create_task(station(port, tokens[i], all_bodies[i], tally)) for i in range(STATIONS)]
            last = time.perf_counter()
            while not all(t.done() for t in tasks):
                await asyncio.sleep(0.5)
                for f in (0.1, 0.9):
                    if f not in marks and tally.stored >= f * total:
                        marks[f] = time.perf_counter()
                if time.perf_counter() - last >= 10:
                    last = time.perf_counter()
                    print(f"[{label}] {tally.stored:,} of {total:,} stored", file=sys.stderr, flush=True)
            await asyncio.gather(*tasks)

        c0, client0, s0, t0 = cpu_seconds(reg.pid), time.process_time(), server_cpu_seconds(postmaster), time.perf_counter()
        asyncio.run(everyone())
        wall = time.perf_counter() - t0
        cpu, client = cpu_seconds(reg.pid) - c0, time.process_time() - client0
        server = server_cpu_seconds(postmaster) - s0
        peak = peak_mb(reg.pid)
        booked_again = refused_again(port, scrape)
        reg.terminate()
        reg.wait()
        held, distinct = count(url)
        steady = 0.8 * total / (marks[0.9] - marks[0.1]) if 0.1 in marks and 0.9 in marks and marks[0.9] > marks[0.1] else None
        return dict(label=label, total=total, wall=wall, rate=tally.stored / wall, steady=steady, cpu_us=cpu / max(tally.stored, 1) * 1e6,
                    server_us=server / max(tally.stored, 1) * 1e6 if postmaster else None,
                    client_share=client / max(cpu, 1e-9), peak=peak, idle=idle, refused=tally.refused, again=tally.again, booked_again=booked_again, timeouts=tally.timeouts, reconnects=tally.reconnects,
                    errors=tally.errors, slowest=tally.slowest, held=held, distinct=distinct, stored=tally.stored,
                    raw_mb=raw / 1e6, sent_mb=sent / 1e6)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    reports_each = int(HOURS * 60)
    snapshot = demo_snapshot()
    results = []
    if WHICH in ("sqlite", "both"):
        work = tempfile.mkdtemp(prefix="ektp-catchup-db-")
        try:
            results.append(run(f"sqlite:{work}/registry.sqlite3", "SQLite", snapshot, reports_each))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if WHICH in ("postgres", "both"):
        from registry import start_postgres
        pg, stop = start_postgres()
        if pg is None:
            print("PostgreSQL: not measured (no /usr/lib/postgresql)")
        else:
            try:
                results.append(run(pg + "ingest", "PostgreSQL", snapshot, reports_each, stop.postmaster))
            finally:
                stop()
    print(f"`python3 Benchmarks/catchup.py {STATIONS} {HOURS:g} {WHICH}`: {STATIONS:,} stations at once, {reports_each:,} reports each "
          f"(batches of {BATCH}, every fifth a snapshot of the demo kit), release `ektp-registry serve` with its default admission\n")
    print("| store | reports | wall | reports/s | 21.6 M at that rate | steady reports/s (10-90 % stored) | 21.6 M at the steady rate | registry CPU per report | PostgreSQL's CPU per report | peak RSS | 429s (of which again; booked at the registry) | timeouts | slowest answer | held once |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ok = "yes" if r["held"] == r["distinct"] == r["total"] else f"no ({r['held']:,} rows, {r['distinct']:,} distinct)"
        errors = f", errors {r['errors']}" if r["errors"] else ""
        errors += f", {r['reconnects']:,} idle connections closed and opened again" if r.get("reconnects") else ""
        steady = f"{r['steady']:,.0f} | {NATIONAL / r['steady'] / 60:.1f} min" if r.get("steady") else "? | ?"
        server = "(in the registry)" if r["server_us"] is None else f"{r['server_us']:.0f} us"
        print(f"| {r['label']} | {r['total']:,} | {r['wall']:.1f} s | {r['rate']:,.0f} | {NATIONAL / r['rate'] / 60:.1f} min | {steady} | "
              f"{r['cpu_us']:.0f} us | {server} | {r['peak']:.0f} MB (idle {r['idle']:.0f}) | {r['refused']:,} ({r['again']:,}; {r['booked_again']:,}) | {r['timeouts']}{errors} | "
              f"{r['slowest']:.1f} s | {ok} |")
    if results:
        r = results[0]
        print(f"\nBodies: {r['raw_mb']:.0f} MB of JSON, {r['sent_mb']:.0f} MB gzip'd on the wire; the client used "
              f"{max(x['client_share'] for x in results) * 100:.0f} % of the registry's CPU time.")


if __name__ == "__main__":
    main()
