#!/usr/bin/env python3
"""The dashboard in a real browser (issue 15): Debian's chromium, driven by selenium.

    Tests/browser/dashboard_test.py BIN_DIR OUT_DIR

Runs `ektpd simulate scenarios/sintang-2018.yaml --serve` (the main job, with the dashboard kept
up), then, as a person would in Chromium:
  - a page without a session goes to the login page; a wrong password is refused;
  - the Cannot-enrol page lists exactly Sintang's 11 districts, each with its reason; the Repairs
    page counts the same broken devices by kind;
  - a station reports a repair: the open page drops that site within 5 s, with no reload;
  - a form posted without its CSRF token is refused;
  - a Sintang regency viewer does not see another regency's site, on the page or in the JSON;
and writes a screenshot of every page to OUT_DIR. Without chromium, chromedriver or selenium it
says so loudly and exits 0, unless EKTP_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

BIN, OUT = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def need_browser():
    missing = [p for p in ("chromium", "chromedriver") if shutil.which(p) is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        msg = "dashboard browser test: SKIPPED, missing " + ", ".join(missing) + " (scripts/install-deps.sh --tests installs them)"
        if os.environ.get("EKTP_REQUIRE_BROWSER") == "1":
            print("FAIL " + msg, file=sys.stderr)
            sys.exit(1)
        print("!" * 78 + "\n" + msg + "\n" + "!" * 78, file=sys.stderr)
        sys.exit(0)


def registry(*args, stdin=None):
    r = subprocess.run([os.path.join(BIN, "ektp-registry"), *args], capture_output=True, text=True, timeout=120, input=stdin)
    if r.returncode != 0:
        raise SystemExit(f"ektp-registry {' '.join(args)} failed: {r.stderr}")
    return r.stdout.strip()


def http(method, url, token=None, body=None):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def main():
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.common.by import By

    os.makedirs(OUT, exist_ok=True)
    sim = subprocess.Popen([os.path.join(BIN, "ektpd"), "simulate", os.path.join(ROOT, "scenarios/sintang-2018.yaml"),
                            "--serve", "--serve-on", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=open(os.path.join(OUT, "simulate.stderr"), "w"), text=True)
    driver = None
    try:
        base = password = database = None
        for line in sim.stdout:
            m = re.match(r"dashboard: (\S+)/\s+user: (\S+)\s+password: (\S+)", line)
            if m:
                base, user, password = m.group(1), m.group(2), m.group(3)
            m = re.match(r"database: sqlite:(\S+)", line)
            if m:
                database = "sqlite:" + m.group(1)
                break
        if not (base and database):
            raise SystemExit("ektpd simulate --serve did not print the dashboard's address (see simulate.stderr)")
        print(f"dashboard at {base}, database {database}", flush=True)

        # Accounts and tokens, as the centre's administrator makes them.
        pwfile = os.path.join(OUT, "sintang.password")
        with open(pwfile, "w") as f:
            f.write("sintang-password-1\n")
        os.chmod(pwfile, 0o600)
        registry("user", "add", "sintang-staff", "--province", "Kalimantan Barat", "--regency", "Sintang", "--database", database, "--password-file", pwfile)
        api = registry("token", "issue", "--viewer", "browser-test", "--database", database)

        opts = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000", "--disable-gpu"):
            opts.add_argument(a)
        opts.binary_location = shutil.which("chromium")
        # A browser set to Bahasa Indonesia, as in a Dukcapil office.
        opts.add_experimental_option("prefs", {"intl.accept_languages": "id-ID,id"})
        driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))
        driver.set_page_load_timeout(30)

        def wait_url(test, seconds=10):
            # A click that submits a form returns before the next page has loaded: wait for it.
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not test(driver.current_url):
                time.sleep(0.05)
            return test(driver.current_url)

        def shot(name):
            driver.save_screenshot(os.path.join(OUT, name + ".png"))

        def login(name, pw):
            driver.get(base + "/login")
            driver.find_element(By.ID, "user").clear()
            driver.find_element(By.ID, "user").send_keys(name)
            driver.find_element(By.ID, "password").send_keys(pw)
            driver.find_element(By.CSS_SELECTOR, "form.login button").click()

        def fetch(path, method="GET", body=None):
            return driver.execute_async_script(
                "var done = arguments[arguments.length - 1];"
                "fetch(arguments[0], {method: arguments[1], credentials: 'same-origin', body: arguments[2],"
                " headers: arguments[2] ? {'Content-Type': 'application/x-www-form-urlencoded'} : {}})"
                ".then(function (r) { return r.text().then(function (t) { done([r.status, t]); }); })"
                ".catch(function (e) { done([0, String(e)]); });", path, method, body)

        # A page without a session goes to the login page, in Bahasa Indonesia unless asked otherwise.
        driver.get(base + "/cannot-enrol")
        check("/login" in driver.current_url, "a page without a session goes to the login page")
        check(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "id" and "Kata sandi" in driver.page_source,
              "the login page is in Bahasa Indonesia by default")
        shot("login-id")
        driver.find_element(By.CSS_SELECTOR, 'nav.lang a[lang="en"]').click()
        check(wait_url(lambda u: "lang=en" in u) and "Password" in driver.page_source, "English is a choice")
        shot("login")
        login(user, "not-the-password")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "Wrong user name or password" not in driver.page_source:
            time.sleep(0.05)
        check("Wrong user name or password" in driver.page_source, "a wrong password is refused with a message")
        if "Wrong user name or password" not in driver.page_source:
            open(os.path.join(OUT, "wrong-password.html"), "w").write(driver.page_source)
        check("/login" in driver.current_url, "a wrong password stays on the login page")
        login(user, password)
        check(wait_url(lambda u: u.rstrip("/") == base), "the viewer lands on the overview after logging in")
        check("Sintang" in driver.page_source and "11 cannot enrol" in driver.page_source, "the overview shows Sintang with 11 sites that cannot enrol")
        shot("overview")

        # Cannot enrol: exactly the 11 districts, each with its reason.
        driver.get(base + "/cannot-enrol")
        rows = driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
        stations = {r.get_attribute("data-station") for r in rows}
        districts = {r.find_element(By.CSS_SELECTOR, "td a").text for r in rows}
        reasons = [r.find_elements(By.TAG_NAME, "td")[3].text for r in rows]
        check(len(districts) == 11 and len(stations) == 11, f"Cannot enrol lists 11 districts (got {len(districts)}: {sorted(districts)})")
        check(all(re.search(r"(unplugged: plug it back|failed: .+)", x) for x in reasons), "each has a reason a technician acts on")
        kinds_listed = sorted(r.find_elements(By.TAG_NAME, "td")[1].text.split("\n")[0] for r in rows)
        shot("cannot-enrol")

        # The same page in Bahasa Indonesia: the reasons too, though the stations run in English.
        driver.get(base + "/cannot-enrol?lang=id")
        check("Tidak dapat merekam" in driver.find_element(By.TAG_NAME, "h1").text, "the Cannot-enrol page in Bahasa Indonesia")
        check(any("colokkan kembali ke port" in r.text or "rusak:" in r.text for r in driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")),
              "its reasons in Bahasa Indonesia")
        shot("cannot-enrol-id")
        driver.get(base + "/?lang=id")
        shot("overview-id")
        driver.get(base + "/cannot-enrol?lang=en")
        # Repairs: the same devices counted by kind.
        driver.get(base + "/repairs")
        counted = {}
        for tr in driver.find_elements(By.CSS_SELECTOR, "tr[data-kind]"):
            tds = tr.find_elements(By.TAG_NAME, "td")
            counted[tds[0].text] = counted.get(tds[0].text, 0) + int(tds[2].text) + int(tds[3].text)
        listed = {}
        for k in kinds_listed:
            listed[k] = listed.get(k, 0) + 1
        check(counted == listed and sum(counted.values()) == 11, f"Repairs counts the broken devices by kind ({counted})")
        shot("repairs")
        for page in ("attention", "blanks"):
            driver.get(base + "/" + page)
            check(driver.find_element(By.TAG_NAME, "h1").text != "", f"/{page} renders")
            shot(page)
        first = sorted(stations)[0]
        driver.get(base + "/stations/" + first)
        check(len(driver.find_elements(By.CSS_SELECTOR, "figure.chart svg rect")) >= 1, "the station page draws the kit's 7 days")
        shot("station")
        driver.get(base + "/search?q=ketungau")
        check(len(driver.find_elements(By.CSS_SELECTOR, "ul.hits li")) == 3, "search finds Ketungau's 3 districts")

        # Live: a station reports its repair; the open page drops the site within 5 s, no reload.
        _, detail = http("GET", f"{base}/v1/stations/{first}", token=api)
        token = registry("token", "issue", "--station", first, "--database", database)
        status = detail["status"]
        status["kit"] = {"state": "ready", "problems": [], "since": status["now"]}
        for d in status["devices"]:
            d["health"], d["reason"] = "ok", None
        seq = detail["view"]["stored_through"] + 1
        driver.get(base + "/cannot-enrol")
        driver.execute_script("window.__ektpMarker = 42;")
        started = time.monotonic()
        code, reply = http("POST", base + "/v1/reports", token=token,
                           body={"station": first, "sent_at": status["now"],
                                 "reports": [{"sequence": seq, "kind": "snapshot", "time": status["now"], "status": status}]})
        check(code == 200, f"the repair report is stored ({code} {reply})")
        gone = None
        while time.monotonic() - started < 10:
            if not driver.find_elements(By.CSS_SELECTOR, f'tr[data-station="{first}"]'):
                gone = time.monotonic() - started
                break
            time.sleep(0.1)
        check(gone is not None and gone <= 5.0, f"the open page dropped the repaired site in {gone if gone is None else round(gone, 2)} s (<= 5)")
        check(driver.execute_script("return window.__ektpMarker;") == 42, "without a reload")
        check(len({r.get_attribute("data-station") for r in driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")}) == 10, "10 sites remain")
        shot("cannot-enrol-after-repair")

        # Another regency's site, as a station there reports it.
        other = dict(status)
        other["station"], other["site"] = "kapuas-01", {"province": "Kalimantan Barat", "regency": "Kapuas Hulu", "district": "Putussibau Utara"}
        other["kit"] = {"state": "broken", "problems": [{"kind": "iris", "severity": "broken", "reason": "no iris scanner connected"}], "since": status["now"]}
        ktoken = registry("token", "issue", "--station", "kapuas-01", "--database", database)
        code, _ = http("POST", base + "/v1/reports", token=ktoken,
                       body={"station": "kapuas-01", "sent_at": status["now"], "reports": [{"sequence": 1, "kind": "snapshot", "time": status["now"], "status": other}]})
        check(code == 200, "a Kapuas Hulu station reports")
        driver.get(base + "/cannot-enrol")
        check('data-station="kapuas-01"' in driver.page_source, "the national viewer sees the Kapuas Hulu site")

        # CSRF: a logout posted without the form's token is refused (the session stays).
        code, _ = fetch("/logout", "POST", "x=1")
        check(code == 403, f"a form posted without its CSRF token is refused ({code})")
        driver.get(base + "/repairs")
        check("/login" not in driver.current_url, "the session survived the forged post")
        driver.find_element(By.CSS_SELECTOR, "form.who button").click()
        check(wait_url(lambda u: "/login" in u), f"logging out goes to the login page ({driver.current_url})")
        driver.get(base + "/repairs")
        check("/login" in driver.current_url, "after logging out a page needs a login again")

        # A Sintang regency viewer sees Sintang only: page and JSON.
        login("sintang-staff", "sintang-password-1")
        wait_url(lambda u: "/login" not in u)
        driver.get(base + "/cannot-enrol")
        check('data-station="kapuas-01"' not in driver.page_source and "Kapuas" not in driver.page_source,
              "a Sintang viewer does not see the Kapuas Hulu site on the page")
        check(len({r.get_attribute("data-station") for r in driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")}) == 10, "...but sees Sintang's 10")
        code, text = fetch("/v1/sites")
        check(code == 200 and "kapuas-01" not in text and first in text, "nor in /v1/sites")
        code, _ = fetch("/v1/stations/kapuas-01")
        check(code == 404, f"nor at /v1/stations/kapuas-01 ({code})")
        driver.get(base + "/")
        shot("overview-regency-viewer")
        driver.set_window_size(412, 915)
        driver.get(base + "/cannot-enrol")
        shot("cannot-enrol-phone")
    finally:
        if driver:
            driver.quit()
        sim.send_signal(signal.SIGTERM)
        try:
            code = sim.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sim.kill()
            code = "killed"
        check(code == 0, f"ektpd simulate --serve stops on SIGTERM with 0 ({code})")
    print(f"screenshots: {OUT}", flush=True)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


main()
