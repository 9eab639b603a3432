#!/usr/bin/env bash
# The main job, for now: the daemon on the bundled simulated kit, and what an operator sees.
#   scripts/demo.sh
# It starts `ektpd run` on scenarios/demo-kit.yaml, shows `ektpd status`, unplugs the fingerprint
# scanner through the control socket, shows the broken kit and the events, plugs it back, and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-deps.sh
scripts/l10n.sh --compile
echo "==> building ektpd (the first build takes a few minutes)"
swift build --product ektpd >/dev/null
B=$(swift build --show-bin-path)/ektpd
SOCK=/tmp/ektpd-demo/control.sock
LOG=$(mktemp)
"$B" check-config examples/ektpd-demo.yaml
echo "==> starting: ektpd run --config examples/ektpd-demo.yaml (log: $LOG)"
"$B" run --config examples/ektpd-demo.yaml 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  if ! kill -0 $PID 2>/dev/null; then echo "ektpd did not start; its log:"; cat "$LOG"; exit 1; fi
  rc=3; [ -S "$SOCK" ] && { "$B" status --socket "$SOCK" >/dev/null 2>&1; rc=$?; }
  [ $rc -ne 3 ] && break
  sleep 0.1
done
show() { echo; echo "\$ ektpd $*"; "$B" "$@" --socket "$SOCK" || echo "(exit code $?)"; }
show status
echo; echo "==> unplugging the fingerprint scanner (ektpd inject fingerprint unplug)"
"$B" inject --socket "$SOCK" fingerprint unplug
sleep 0.2
show status
show events --since 0
echo; echo "==> plugging it back in"
"$B" inject --socket "$SOCK" fingerprint replug
sleep 0.3
show status
kill -TERM $PID; wait $PID && echo && echo "==> ektpd stopped cleanly (exit 0)"
trap - EXIT
