#!/usr/bin/env bash
# Installs what building and testing ektpd needs on Debian 12, when it is missing.
# Safe to run again: it installs nothing that is already there.
set -euo pipefail
#   scripts/install-deps.sh           what building, simulating and the demo need
#   scripts/install-deps.sh --tests   and what the tests need besides (a browser for the dashboard's test)
pkgs=(gcc libc6-dev libcurl4-openssl-dev zlib1g-dev openssl libusb-1.0-0-dev libudev-dev libsqlite3-dev pkg-config hwdata usbutils umockdev libumockdev-dev systemd python3 make postgresql prometheus gettext)
tests=0; [ "${1:-}" = "--tests" ] && tests=1
# Chromium and its WebDriver, for Tests/browser/dashboard_test.py (issue 15).
[ $tests = 1 ] && pkgs+=(chromium chromium-driver)
# HAProxy, the load balancer in front of several registries in the scale-out test (issue 17).
[ $tests = 1 ] && pkgs+=(haproxy)
# strace, to see every rt_sigaction of the daemon in the test that SIGTERM is never ignored.
[ $tests = 1 ] && pkgs+=(strace)
# man-db and groff render the manual pages the package check reads (scripts/check-package.sh).
[ $tests = 1 ] && pkgs+=(man-db groff-base)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "note: swift is at /opt/swift/usr/bin; the scripts add it to PATH" >&2
  else
    echo "error: no Swift toolchain found: install Swift 6 (swift.org) and put it on PATH" >&2
    exit 1
  fi
fi
# schemathesis (PyPI), for the registry's API test against docs/openapi.yaml.
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "==> installing schemathesis (pip)"
  python3 -m pip install -q "schemathesis==4.32.5"
fi
# selenium (PyPI), which drives Chromium in the dashboard's browser test.
if [ $tests = 1 ] && ! python3 -c "import selenium" 2>/dev/null; then
  echo "==> installing selenium (pip)"
  python3 -m pip install -q "selenium==4.51.0"
fi
