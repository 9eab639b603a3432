#!/usr/bin/env python3
"""Two `ektpd` builds side by side on the same machine at the same moment: status latency, idle
memory and CPU, and simulated hotplug latency, interleaved so both share the machine's mood.

    python3 Benchmarks/compare.py OLD_EKTPD NEW_EKTPD [IDLE_SECONDS]

Build the old one from a worktree, e.g.
    git worktree add /tmp/old REV && (cd /tmp/old && swift build -c release --product ektpd)
Each daemon runs the bundled demo kit without its timeline (as Benchmarks/run.py does), probes every
10 s, no registry. Prints a Markdown table.
"""
import json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import http  # noqa: E402  (one HTTP-over-Unix-socket client for the benchmark scripts)


def start(binary, tag):
    work = tempfile.mkdtemp(prefix=f"ektpd-cmp-{tag}-")
    sock = os.path.join(work, "control.sock")
    with open(os.path.join(ROOT, "scenarios/demo-kit.yaml")) as f:
        scen = f.read().split("    timeline:")[0]
    with open(os.path.join(work, "kit.yaml"), "w") as f:
        f.write(scen)
    cfg = os.path.join(work, "ektpd.yaml")
    with open(cfg, "w") as f:
        f.write(f"""station:
  id: cmp-{tag}
  site: {{province: Kalimantan Barat, regency: Sintang, district: Sintang}}
backend:
  type: simulated
  scenario: {work}/kit.yaml
  station: sintang-01
control:
  socket: {sock}
state_directory: {work}/state
""")
    p = subprocess.Popen([binary, "run", "--config", cfg], stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            if os.path.exists(sock) and http(sock, "GET", "/v1/ping")[0] == 200:
                return p, sock
        except OSError:
            pass
        time.sleep(0.025)
    raise SystemExit(f"{binary} did not answer on {sock}")


def status_field(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def main():
    old, new = sys.argv[1], sys.argv[2]
    idle = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    daemons = {"old": start(old, "old"), "new": start(new, "new")}
    bins = {"old": old, "new": new}
    res = {k: {"status": [], "hotplug": []} for k in daemons}
    try:
        for _ in range(300):
            for k, (_, sock) in daemons.items():
                t = time.perf_counter()
                subprocess.run([bins[k], "status", "--json", "--socket", sock], stdout=subprocess.DEVNULL, check=True)
                res[k]["status"].append((time.perf_counter() - t) * 1000)
        for i in range(100):
            fault = "unplug" if i % 2 == 0 else "replug"
            for k, (_, sock) in daemons.items():
                t = time.perf_counter()
                http(sock, "POST", "/v1/simulated/faults", json.dumps({"device": "fingerprint", "fault": fault}))
                while True:  # as Benchmarks/run.py: until the device's health shows the change
                    st, body = http(sock, "GET", "/v1/devices/1-1:05ba:000a")
                    health = json.loads(body)["health"]
                    if (health == "missing") == (fault == "unplug"):
                        break
                res[k]["hotplug"].append((time.perf_counter() - t) * 1000)
        time.sleep(5)
        start_ticks = {k: ticks(p.pid) for k, (p, _) in daemons.items()}
        rss = {k: [] for k in daemons}
        for _ in range(idle):
            time.sleep(1)
            for k, (p, _) in daemons.items():
                rss[k].append((status_field(p.pid, "VmRSS"), status_field(p.pid, "RssFile"), status_field(p.pid, "RssAnon")))
        cpu = {k: (ticks(p.pid) - start_ticks[k]) / os.sysconf("SC_CLK_TCK") / idle * 100 for k, (p, _) in daemons.items()}
    finally:
        for p, _ in daemons.values():
            p.terminate()
            p.wait(10)
    print(f"| what | old | new |\n|---|---|---|")
    print(f"| `ektpd status --json` wall, median of 300 (interleaved) | {median(res['old']['status']):.2f} ms | {median(res['new']['status']):.2f} ms |")
    print(f"| simulated hotplug to visible, median / p99 of 100 | {median(res['old']['hotplug']):.2f} / {p99(res['old']['hotplug']):.2f} ms | {median(res['new']['hotplug']):.2f} / {p99(res['new']['hotplug']):.2f} ms |")
    for i, name in enumerate(["RSS", "of which file-backed", "of which private"]):
        print(f"| idle {name}, median over {idle} s | {median([r[i] for r in rss['old']]):.1f} MB | {median([r[i] for r in rss['new']]):.1f} MB |")
    print(f"| idle CPU over {idle} s | {cpu['old']:.3f} % of a core | {cpu['new']:.3f} % of a core |")


if __name__ == "__main__":
    main()
