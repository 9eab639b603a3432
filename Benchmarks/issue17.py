#!/usr/bin/env python3
"""Issue 17's comparisons side by side, in one run, written into BENCHMARKS.md (the section
"Issue 17: side by side, one run"): each script below in turn on the release builds, nothing else
running, and its tables pasted under its heading.

    python3 Benchmarks/issue17.py          # about 15 minutes on 2 cores; needs monit, usbguard, umockdev, PostgreSQL 15

1. the station against monit and usbguard: `ektpd status` wall time, idle PSS/RSS (footprint.py 200 40);
2. the station against the size of its kit: 6, 60 and 600 devices (scale.py 30);
3. ingest against a fair raw baseline on both stores, fleet reads, /metrics (registry.py; it also
   rewrites its own section, "Registry and outbox");
4. a national catch-up over HTTP: 1,000 stations x 24 h on SQLite and PostgreSQL (catchup.py 1000 24 both);
5. 15,000 stations reconnecting within a minute (catchup.py 15000 0.2 sqlite).

Builds first: swift build -c release --product ektpd|ektp-registry|ektp-bench --scratch-path .build-release
"""
import os, platform, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = "## Issue 17: side by side, one run"
STEPS = [
    ("The station against monit and usbguard", ["footprint.py", "200", "40"]),
    ("The station against the size of its kit", ["scale.py", "30"]),
    ("Ingest against a fair baseline, fleet reads", ["registry.py"]),
    ("A national catch-up over HTTP", ["catchup.py", "1000", "24", "both"]),
    ("15,000 stations reconnecting within a minute", ["catchup.py", "15000", "0.2", "sqlite"]),
]


def main():
    env = dict(os.environ)
    if "/opt/swift/usr/bin" not in env.get("PATH", ""):
        env["PATH"] = "/opt/swift/usr/bin:" + env.get("PATH", "")
    for product in ("ektpd", "ektp-registry", "ektp-bench"):
        print(f"==> building {product} (release)", file=sys.stderr, flush=True)
        subprocess.run(["swift", "build", "-c", "release", "--product", product, "--scratch-path", ".build-release"],
                       cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL)
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
    start = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    parts = []
    for i, (title, argv) in enumerate(STEPS, 1):
        print(f"==> [{i}/{len(STEPS)}] {title}: python3 Benchmarks/{' '.join(argv)}", file=sys.stderr, flush=True)
        t = time.time()
        out = subprocess.run([sys.executable, os.path.join(ROOT, "Benchmarks", argv[0])] + argv[1:], cwd=ROOT, env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr[-4000:])
            raise SystemExit(f"Benchmarks/{argv[0]} failed ({out.returncode})")
        text = out.stdout.strip()
        if argv[0] == "registry.py":  # its section's heading and preamble are its own
            text = text[text.index("| what |"):] if "| what |" in text else text
        parts.append(f"### {i}. {title} (`python3 Benchmarks/{' '.join(argv)}`, {time.time() - t:.0f} s)\n\n{text}\n")
    lines = [MARK, "",
             f"Written by `python3 Benchmarks/issue17.py` from {start} to {time.strftime('%H:%M UTC', time.gmtime())}, "
             f"commit {commit}, release builds, one script after the other with nothing else running.", "",
             f"- Machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}", ""] + parts
    path = os.path.join(ROOT, "BENCHMARKS.md")
    old = open(path).read()
    section = "\n".join(lines)
    if MARK in old:
        head = old[:old.index(MARK)]
        after = old[old.index(MARK) + len(MARK):]
        rest = after[after.index("\n## "):].lstrip("\n") if "\n## " in after else ""
        new = head + section + ("\n" + rest if rest else "")
    else:
        # After the summary at the top, before the older sections.
        at = old.index("\n## ") + 1
        new = old[:at] + section + "\n" + old[at:]
    with open(path, "w") as f:
        f.write(new)
    print(section)


if __name__ == "__main__":
    main()
