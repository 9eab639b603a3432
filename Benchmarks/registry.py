#!/usr/bin/env python3
"""Registry and outbox benchmarks: writes the "Registry and outbox" section of BENCHMARKS.md.

    python3 Benchmarks/registry.py      # release build of ektp-bench, a throwaway PostgreSQL, then the runs

Ingest: 20,000 events in batches of 500 through Registry.ingest (validation, JSON bodies, the station
upsert, multi-row INSERT ... ON CONFLICT DO NOTHING, the high-water update) against fair baselines of the
same rows in the same run and database: encoded beforehand, a transaction per batch, multi-row INSERTs
(250 rows a statement), and on PostgreSQL one COPY FROM STDIN per batch.
Fleet: GET /v1/fleet's query and tree for 15,000 stations in 7,300 districts (514 regencies, 38
provinces, 500 printing offices with a week of stock readings), median of 21, and its JSON encoding.
Metrics: the work of the registry's GET /metrics at the same size (tallies by province and regency, the
stock views, the Prometheus text).
Outbox: 2,000 appends with WAL and synchronous=FULL (each append is on disk when it returns); then 2,000
events through the EventJournal (numbered, encoded, appended the same way, kept and fanned out).
"""
import json, os, platform, shutil, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = "## Registry and outbox"


def start_postgres(settings=None):
    """A throwaway PostgreSQL on 127.0.0.1:55499; `settings` (or $EKTP_PG_SETTINGS, "name=value ...")
    are passed to the server as -c options."""
    versions = sorted(os.listdir("/usr/lib/postgresql")) if os.path.isdir("/usr/lib/postgresql") else []
    if not versions:
        return None, None
    bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
    d = tempfile.mkdtemp(prefix="ektp-bench-pg-")
    su = (lambda c: ["su", "postgres", "-s", "/bin/sh", "-c", c]) if os.getuid() == 0 else (lambda c: ["sh", "-c", c])
    if os.getuid() == 0:
        shutil.chown(d, "postgres")
    subprocess.run(su(f"{bin}/initdb -D {d}/data -A trust -U postgres --no-sync >/dev/null"), check=True)
    settings = settings if settings is not None else os.environ.get("EKTP_PG_SETTINGS", "").split()
    extra = "".join(f" -c {kv}" for kv in settings)
    subprocess.run(su(f"{bin}/pg_ctl -D {d}/data -l {d}/log -w start -o '-p 55499 -k {d} -c listen_addresses=127.0.0.1{extra}' >/dev/null"), check=True)
    for db in ("ingest", "fleet"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", "55499", "-U", "postgres", "-q", "-c", f"CREATE DATABASE {db}"], check=True)
    stop = lambda: (subprocess.run(su(f"{bin}/pg_ctl -D {d}/data -m fast stop >/dev/null")), shutil.rmtree(d, ignore_errors=True))
    stop.postmaster = int(open(f"{d}/data/postmaster.pid").readline())  # for the server's CPU (catchup.py)
    return "postgres://postgres@127.0.0.1:55499/", stop


def main():
    env = dict(os.environ)
    if shutil.which("swift") is None:
        env["PATH"] = "/opt/swift/usr/bin:" + env["PATH"]
    build = ["swift", "build", "-c", "release", "--scratch-path", os.path.join(ROOT, ".build-release")]
    print("==> building ektp-bench (release)", flush=True)
    subprocess.run(build + ["--product", "ektp-bench"], cwd=ROOT, check=True, env=env)
    binpath = subprocess.run(build + ["--show-bin-path"], cwd=ROOT, check=True, env=env, capture_output=True, text=True).stdout.strip()
    pg, stop = start_postgres()
    try:
        args = [os.path.join(binpath, "ektp-bench")] + ([pg + "ingest", pg + "fleet"] if pg else [])
        r = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    finally:
        if stop:
            stop()
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        cpu = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")][0]
    si, sf, ob = r["sqlite_ingest"], r["sqlite_fleet"], r["outbox"]
    yes = lambda c: "yes" if c else "no"
    lines = [MARK, "",
             "Written by `python3 Benchmarks/registry.py` (release build of `ektp-bench`; a throwaway PostgreSQL 15",
             "on 127.0.0.1 with default settings). Re-run it after a change that could move these numbers.", "",
             f"- Machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "| what | measured | target | met |", "|---|---|---|---|",
             f"| ingest, SQLite: reports/s (batches of 500) | {si['ingest_per_s']:,.0f} | | |",
             f"| plain multi-row INSERT of the same rows (encoded beforehand), SQLite: rows/s | {si['raw_per_s']:,.0f} | | |",
             f"| ingest / multi-row INSERT, SQLite | {si['ratio']:.2f} | >= 0.5 | {yes(si['ratio'] >= 0.5)} |"]
    if "postgres_ingest" in r:
        pi, pf = r["postgres_ingest"], r["postgres_fleet"]
        lines += [f"| ingest, PostgreSQL: reports/s | {pi['ingest_per_s']:,.0f} | | |",
                  f"| plain multi-row INSERT of the same rows, PostgreSQL: rows/s | {pi['raw_per_s']:,.0f} | | |",
                  f"| ingest / multi-row INSERT, PostgreSQL | {pi['ratio']:.2f} | | |"]
        if "copy_per_s" in pi:
            lines += [f"| COPY FROM STDIN of the same rows, PostgreSQL: rows/s | {pi['copy_per_s']:,.0f} | | |",
                      f"| ingest / COPY, PostgreSQL | {pi['copy_ratio']:.2f} | >= 0.5 | {yes(pi['copy_ratio'] >= 0.5)} |"]
    lines += [f"| fleet summary, 15,000 stations in 7,300 districts, SQLite: median | {sf['fleet_ms_median']:.1f} ms | <= 50 ms | {yes(sf['fleet_ms_median'] <= 50)} |",
              f"| ... of which the counts by district (from the fleet index), and the stock views, SQLite: medians | {sf.get('fleet_tallies_ms_median', 0):.1f} ms, {sf.get('fleet_stock_ms_median', 0):.1f} ms | | |",
              f"| ... the same counts as a GROUP BY in the database (what the index replaced), SQLite: median | {sf.get('fleet_stored_tallies_ms_median', 0):.1f} ms | | |",
              f"| fleet summary at the first read of a minute (the index loaded from the database), SQLite: median | {sf.get('fleet_first_of_minute_ms_median', 0):.1f} ms | <= 50 ms | {yes(sf.get('fleet_first_of_minute_ms_median', 99) <= 50)} |",
              f"| the same summary's JSON (written directly, FleetJSON.swift): median | {sf['fleet_json_ms_median']:.1f} ms | | |"]
    if "postgres_fleet" in r:
        pf = r["postgres_fleet"]
        lines += [f"| fleet summary, PostgreSQL: median | {pf['fleet_ms_median']:.1f} ms | <= 50 ms | {yes(pf['fleet_ms_median'] <= 50)} |",
                  f"| ... of which the counts by district (from the fleet index), and the stock views, PostgreSQL: medians | {pf.get('fleet_tallies_ms_median', 0):.1f} ms, {pf.get('fleet_stock_ms_median', 0):.1f} ms | | |",
                  f"| ... the same counts as a GROUP BY in the database (what the index replaced), PostgreSQL: median | {pf.get('fleet_stored_tallies_ms_median', 0):.1f} ms | | |",
                  f"| fleet summary at the first read of a minute (the index loaded from the database), PostgreSQL: median | {pf.get('fleet_first_of_minute_ms_median', 0):.1f} ms | <= 50 ms | {yes(pf.get('fleet_first_of_minute_ms_median', 99) <= 50)} |"]
    lines += [f"| `GET /metrics` work (tallies by regency, stock, text of {sf['metrics_kib']:.0f} KiB), SQLite: median | {sf['metrics_ms_median']:.1f} ms | <= 50 ms | {yes(sf['metrics_ms_median'] <= 50)} |"]
    if "postgres_fleet" in r:
        lines += [f"| `GET /metrics` work, PostgreSQL: median | {r['postgres_fleet']['metrics_ms_median']:.1f} ms | <= 50 ms | {yes(r['postgres_fleet']['metrics_ms_median'] <= 50)} |"]
    for label, key in (("SQLite", "sqlite_fleet"), ("PostgreSQL", "postgres_fleet")):
        if key not in r or "dashboard_overview_ms_median" not in r[key]:
            continue
        d = r[key]
        lines += [f"| dashboard Overview page, 15,000 stations, {label}, over HTTP: median | {d['dashboard_overview_ms_median']:.1f} ms, {d['dashboard_overview_kib']:.0f} KiB | <= 200 ms, <= 300 KB | {yes(d['dashboard_overview_ms_median'] <= 200 and d['dashboard_overview_kib'] * 1024 <= 300_000)} |",
                  f"| dashboard Cannot-enrol page (first 250 of 2,500 sites), {label}, over HTTP: median | {d['dashboard_cannot_enrol_ms_median']:.1f} ms, {d['dashboard_cannot_enrol_kib']:.0f} KiB | <= 200 ms | {yes(d['dashboard_cannot_enrol_ms_median'] <= 200)} |"]
        if "fleet_http_now_ms_median" in d:
            lines += [f"| `GET /v1/fleet` over HTTP, {label}, built for the request (`?at=`, or the first read after an ingest; counted from the fleet index): median | {d['fleet_http_built_ms_median']:.1f} ms | <= 50 ms | {yes(d['fleet_http_built_ms_median'] <= 50)} |",
                      f"| `GET /v1/fleet` over HTTP, {label}, the fleet now (built once per minute and ingest): median | {d['fleet_http_now_ms_median']:.1f} ms | <= 50 ms | {yes(d['fleet_http_now_ms_median'] <= 50)} |"]
    if "decoding" in r:
        dc = r["decoding"]
        lines += [f"| reading a batch of 200 ({dc['body_kib']:.0f} KiB, every fifth a 6-device snapshot) whole, `ReportBatch`: per report | {dc['whole_us_per_report']:.1f} us | | |",
                  f"| ... as ingest reads it, `IngestBatch` (older snapshots partially): per report | {dc['ingest_us_per_report']:.1f} us | | |"]
    lines += [f"| outbox appends with synchronous=FULL: per second | {ob['outbox_appends_per_s']:,.0f} | | |"]
    lines += [f"| events through the journal (number, encode, append with synchronous=FULL, show): per second | {ob['journal_events_per_s']:,.0f} | >= 2,800 | {yes(ob['journal_events_per_s'] >= 2800)} |", "",
              "The baselines are the fair ones issue 17 asks for: the same rows and durability (a transaction per",
              "batch of 500), encoded before the clock starts, inserted 250 rows a statement (SQLite, PostgreSQL) or",
              "with one COPY per batch (PostgreSQL). Ingest does more on top (decoding the request JSON, validation,",
              "the station upsert, idempotency): the ratio is what that costs.", ""]
    if not pg:
        lines += ["PostgreSQL: not measured (no /usr/lib/postgresql).", ""]
    path = os.path.join(ROOT, "BENCHMARKS.md")
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    # Only this section is replaced; the sections after it are kept.
    head = old[:old.index(MARK)] if MARK in old else old + "\n"
    rest = ""
    if MARK in old:
        after = old[old.index(MARK) + len(MARK):]
        rest = after[after.index("\n## "):] if "\n## " in after else ""
    with open(path, "w") as f:
        f.write(head + "\n".join(lines) + "\n" + (("\n" + rest.lstrip("\n")) if rest else ""))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
