#!/usr/bin/env bash
# Verifies the systemd units as installed (systemd-analyze verify on a staged root) and prints
# their exposure scores (systemd-analyze security --offline=true).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
command -v systemd-analyze >/dev/null || { echo "check-units: systemd-analyze is missing (apt-get install systemd)" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# The debug build the tests already made (CONFIG=release for what ships: make install).
make install DESTDIR="$stage" PREFIX=/usr CONFIG=debug SCRATCH=.build >/dev/null
# verify checks that ExecStart exists: point the units at the staged binaries.
check=$(mktemp -d)
trap 'rm -rf "$stage" "$check"' EXIT
for unit in ektpd.service ektp-registry.service; do
  sed "s|/usr/bin/|$stage/usr/bin/|g" "$stage/lib/systemd/system/$unit" > "$check/$unit"
  out=$(systemd-analyze verify "$check/$unit" 2>&1 || true)
  # verify also reports on host units it pulls in; only lines about our unit count.
  bad=$(printf '%s\n' "$out" | grep -F "$unit" || true)
  if [ -n "$bad" ]; then echo "systemd-analyze verify $unit:"; echo "$bad"; exit 1; fi
  echo "verify $unit: ok"
  systemd-analyze security --offline=true "$check/$unit" | tail -1
done
