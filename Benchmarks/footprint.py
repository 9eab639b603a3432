#!/usr/bin/env python3
"""Issue 14's footprint comparison, side by side in one run: `ektpd status` wall time against
`monit status` and `usbguard list-devices`, and idle memory (PSS / RSS / private) of ektpd with and
without libcurl loaded, against the monit and usbguard daemons.

    apt-get install monit usbguard umockdev    # the peers
    swift build -c release --product ektpd --scratch-path .build-release
    swift build --product ektp-registry        # the HTTPS peer (debug is enough: it is not measured)
    python3 Benchmarks/footprint.py [RUNS] [IDLE_SECONDS]

ektpd loads libcurl with dlopen at its first request (Sources/CEKTPCurl/include/ektp_curl.h), so the
client commands never map it; the daemon maps it once it delivers. Prints a Markdown table.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EKTPD = os.path.join(ROOT, ".build-release/release/ektpd")
REGISTRY = os.path.join(ROOT, ".build/debug/ektp-registry")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
IDLE = int(sys.argv[2]) if len(sys.argv) > 2 else 40  # seconds idle before memory is read
UMOCKDEV = os.path.join(ROOT, "Tests/EktpdIntegrationTests/umockdev")


def wait_for(cond, what, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def smaps(pid, own=None):
    """(PSS, RSS, private) in MB. `own`: a file that only this process maps on a station (ektpd's
    binary): its resident pages count whole, not shared with the other ektpd daemons and `ektpd
    status` clients this script runs at the same time (measured that way, the binary's pages were
    halved between two daemons: 10.5 MB reported, about 20 MB a station's only ektpd held)."""
    out = {"Pss": 0, "Rss": 0, "Private_Clean": 0, "Private_Dirty": 0}
    mine = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):
                mine = own is not None and len(parts) > 5 and os.path.realpath(parts[5]) == own
            elif parts[0] == "Rss:":
                out["Rss"] += int(parts[1])
                if mine:
                    out["Pss"] += int(parts[1])
            elif parts[0] == "Pss:" and not mine:
                out["Pss"] += int(parts[1])
            elif parts[0] in ("Private_Clean:", "Private_Dirty:"):
                out[parts[0].rstrip(":")] += int(parts[1])
    return out["Pss"] / 1024, out["Rss"] / 1024, (out["Private_Clean"] + out["Private_Dirty"]) / 1024


def biggest(pid, n=6):
    """The mappings holding most of a process's resident memory: [(RSS MB, name)]."""
    rss, name = {}, "?"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anonymous]"
            elif parts[0] == "Rss:":
                rss[name] = rss.get(name, 0) + int(parts[1])
    return sorted(((v / 1024, k) for k, v in rss.items()), reverse=True)[:n]


def maps_has(pid, name):
    with open(f"/proc/{pid}/maps") as f:
        return name in f.read()


def delivered(socket):
    """Whether the daemon says the registry stored its reports (`ektpd status --json`)."""
    r = subprocess.run([EKTPD, "status", "--json", "--socket", socket], capture_output=True, text=True)
    if r.returncode != 0:
        return False
    d = json.loads(r.stdout).get("delivery") or {}
    return d.get("stored_through", 0) > 0 and d.get("pending", 1) == 0


def helpers_of(pid):
    """The `ektpd http-helper` processes `pid` started that are still running."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmd = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and cmd[1:2] == [b"http-helper"]:
            out.append(int(entry))
    return out


def with_helpers(pid):
    """The daemon's smaps() plus those of the helpers it has running (the daemon's delivery cost whole)."""
    total = list(smaps(pid, own=os.path.realpath(EKTPD)))
    for h in helpers_of(pid):
        for i, v in enumerate(smaps(h)):
            total[i] += v
    return tuple(total)


def wall(argv):
    t = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1000, r.returncode


def main():
    for tool in ["monit", "usbguard", "usbguard-daemon", "umockdev-run", "openssl"]:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install monit usbguard umockdev openssl")
    work = tempfile.mkdtemp(prefix="ektp-footprint-")
    procs = []
    try:
        subprocess.run(["bash", os.path.join(ROOT, "Tests/EktpdIntegrationTests/helpers/make-test-pki.sh"), work + "/pki"], check=True)
        # The registry over HTTPS, and a token for the station.
        reg = subprocess.Popen([REGISTRY, "serve", "--database", f"sqlite:{work}/r.db", "--listen", "127.0.0.1:0",
                                "--port-file", work + "/port", "--tls-cert", work + "/pki/server.crt",
                                "--tls-key", work + "/pki/server.key", "--log-level", "warning"])
        procs.append(reg)
        wait_for(lambda: os.path.exists(work + "/port"), "the registry")
        port = open(work + "/port").read().strip()
        token = subprocess.run([REGISTRY, "token", "issue", "--database", f"sqlite:{work}/r.db", "--station", "fp-tls"],
                               capture_output=True, text=True, check=True).stdout.strip()
        with open(work + "/token", "w") as f:
            f.write(token + "\n")
        os.chmod(work + "/token", 0o600)
        # The demo kit without its timeline.
        kit = open(os.path.join(ROOT, "scenarios/demo-kit.yaml")).read().split("\ntimeline:")[0] + "\n"
        with open(work + "/kit.yaml", "w") as f:
            f.write(kit)
        daemons = {}
        for name, extra in [("plain", ""), ("tls", f'registry: {{url: "https://localhost:{port}", token_file: {work}/token, ca_file: {work}/pki/centre-ca.crt}}\n')]:
            d = f"{work}/{name}"
            os.makedirs(d)
            with open(d + "/ektpd.yaml", "w") as f:
                f.write(f"station:\n  id: fp-{name}\n  site: {{province: P, regency: R, district: D}}\n"
                        f"backend: {{type: simulated, scenario: {work}/kit.yaml}}\ncontrol: {{socket: {d}/control.sock}}\n"
                        f"state_directory: {d}/state\n{extra}")
            p = subprocess.Popen([EKTPD, "run", "--config", d + "/ektpd.yaml"], stderr=subprocess.DEVNULL)
            procs.append(p)
            wait_for(lambda: wall([EKTPD, "status", "--socket", d + "/control.sock"])[1] == 0, f"ektpd {name}")
            daemons[name] = (p, d + "/control.sock")
        # The TLS daemon has delivered (the registry stored its reports) before anything is measured.
        wait_for(lambda: delivered(daemons["tls"][1]), "the first delivery over HTTPS")
        # monit with one check, status over its Unix socket.
        rc = work + "/monitrc"
        with open(rc, "w") as f:
            f.write(f"set daemon 10\nset pidfile {work}/monit.pid\nset idfile {work}/monit.id\nset statefile {work}/monit.state\n"
                    f"set httpd unixsocket {work}/monit.sock allow admin:monit\ncheck file passwd with path /etc/passwd\n")
        os.chmod(rc, 0o600)
        monit = subprocess.Popen(["monit", "-c", rc, "-I"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(monit)
        wait_for(lambda: wall(["monit", "-c", rc, "status"])[1] == 0, "monit")
        # usbguard-daemon on the emulated kit (umockdev), list-devices over its IPC.
        devs = [os.path.join(UMOCKDEV, f) for f in sorted(os.listdir(UMOCKDEV)) if f.endswith(".umockdev") and "no-driver" not in f]
        argv = ["umockdev-run"] + sum([["-d", x] for x in devs], []) + ["--", "usbguard-daemon", "-k", "-c", "/etc/usbguard/usbguard-daemon.conf"]
        ug = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ug)
        wait_for(lambda: wall(["usbguard", "list-devices"])[1] == 0, "usbguard-daemon")
        ug_pid = int(subprocess.run(["pgrep", "-n", "usbguard-daemon"], capture_output=True, text=True).stdout.split()[0])

        commands = {
            "ektpd status --json": [EKTPD, "status", "--json", "--socket", daemons["tls"][1]],
            "ektpd status (text, in the reader's language)": [EKTPD, "status", "--socket", daemons["tls"][1]],
            "monit status": ["monit", "-c", rc, "status"],
            "usbguard list-devices": ["usbguard", "list-devices"],
            "/bin/true (the spawn floor)": ["/bin/true"],
        }
        times = {k: [] for k in commands}
        for _ in range(RUNS):  # interleaved: each round runs every command once
            for k, a in commands.items():
                times[k].append(wall(a)[0])
        time.sleep(IDLE)  # idle
        mem = {
            "ektpd run, no registry (libcurl never loaded)": smaps(daemons["plain"][0].pid, own=os.path.realpath(EKTPD)),
            "ektpd run, delivering over HTTPS (from `ektpd http-helper`), after the status runs; "
            f"with its helpers alive then ({len(helpers_of(daemons['tls'][0].pid))})": with_helpers(daemons["tls"][0].pid),
            "monit daemon, one check": smaps(monit.pid),
            "usbguard-daemon, the emulated kit": smaps(ug_pid),
        }
        detail = {k: biggest(daemons[k][0].pid) for k in daemons}
        client_maps_curl = "libcurl" in subprocess.run(["ldd", EKTPD], capture_output=True, text=True).stdout
        daemon_maps_tls = maps_has(daemons["tls"][0].pid, "libssl") or maps_has(daemons["tls"][0].pid, "libcurl")

        cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": ")
        print(f"- Machine: {os.cpu_count()} cores ({cpu}); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
              f"`python3 Benchmarks/footprint.py {RUNS} {IDLE}`\n")
        print(f"| wall, median of {RUNS} interleaved (p90) | ms |\n|---|---|")
        for k, xs in times.items():
            xs.sort()
            print(f"| `{k}` | {statistics.median(xs):.2f} ({xs[int(len(xs) * 0.9)]:.2f}) |")
        print(f"\n| idle memory, {IDLE} s after the status runs | PSS MB (ektpd's binary counted whole) | RSS MB | private MB |\n|---|---|---|---|")
        for k, (pss, rss, priv) in mem.items():
            print(f"| {k} | {pss:.1f} | {rss:.1f} | {priv:.1f} |")
        for k, top in detail.items():
            print(f"\nektpd ({k}), resident by mapping: " + ", ".join(f"{name} {mb:.1f}" for mb, name in top))
        print(f"\n`ektpd`'s own libraries (ldd) include libcurl: {'yes' if client_maps_curl else 'no'}; "
              f"the daemon delivering over HTTPS maps libcurl or libssl: {'yes' if daemon_maps_tls else 'no'}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["pkill", "-f", "usbguard-daemon -k -c /etc/usbguard"], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
