#!/usr/bin/env python3
"""The station's cost against the size of its kit (issue 17): `ektpd run` on a simulated kit of
6, 60 and 600 devices (fingerprint scanners on ports 1-1 ... 9-99.x), probing every 10 s; CPU over
60 s idle, RSS, time from start to READY=1, and `ektpd status --json` wall time.

    python3 Benchmarks/scale.py [SECONDS] [EKTPD_BINARY]      (defaults 60, .build-release/release/ektpd)
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 60
EKTPD = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, ".build-release/release/ektpd")
TICK = os.sysconf("SC_CLK_TCK")


def kit(n):
    lines = ["name: scale", "seed: 1", "stations:", "  - id: scale-01", "    site: {province: P, regency: R, district: D}", "    devices:"]
    for i in range(n):
        bus, port, sub = 1 + i // 100, 1 + (i // 10) % 10, 1 + i % 10
        lines += [f"      - name: fp{i}", "        usb: 05ba:000a", f"        port: {bus}-{port}.{sub}", "        speed: full"]
    return "\n".join(lines) + "\n"


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(n):
    work = tempfile.mkdtemp(prefix="ektp-scale-")
    try:
        with open(work + "/kit.yaml", "w") as f:
            f.write(kit(n))
        with open(work + "/ektpd.yaml", "w") as f:
            f.write(f"station:\n  id: scale-01\n  site: {{province: P, regency: R, district: D}}\n"
                    f"backend: {{type: simulated, scenario: {work}/kit.yaml}}\ncontrol: {{socket: {work}/control.sock}}\n"
                    f"state_directory: {work}/state\npower: false\n")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(work + "/notify")
        env = dict(os.environ, NOTIFY_SOCKET=work + "/notify")
        t0 = time.perf_counter()
        p = subprocess.Popen([EKTPD, "run", "--config", work + "/ektpd.yaml"], env=env, stderr=subprocess.DEVNULL)
        notify.settimeout(60)
        ready = None
        while ready is None:
            if b"READY=1" in notify.recv(4096):
                ready = (time.perf_counter() - t0) * 1000
        time.sleep(5)
        c0, w0 = cpu_ticks(p.pid), time.perf_counter()
        time.sleep(SECONDS)
        cpu = (cpu_ticks(p.pid) - c0) / TICK / (time.perf_counter() - w0) * 100
        rss = rss_mb(p.pid)
        walls = []
        for _ in range(50):
            t = time.perf_counter()
            subprocess.run([EKTPD, "status", "--json", "--socket", work + "/control.sock"], stdout=subprocess.DEVNULL)  # exit 2: the kit is not a full recording kit
            walls.append((time.perf_counter() - t) * 1000)
        p.terminate()
        p.wait()
        return ready, cpu, rss, statistics.median(walls)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    print(f"`python3 Benchmarks/scale.py {SECONDS}` ({EKTPD}); probes every 10 s\n", flush=True)
    print("| devices | start to READY=1 | CPU, idle | RSS | `ektpd status --json` median |\n|---|---|---|---|---|")
    for n in (6, 60, 600):
        ready, cpu, rss, status = measure(n)
        print(f"| {n} | {ready:.0f} ms | {cpu:.2f} % of a core | {rss:.1f} MB | {status:.1f} ms |")


if __name__ == "__main__":
    main()
