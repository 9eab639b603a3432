#!/usr/bin/env bash
# The command manual pages, ektpd(8) and ektp-registry(8), generated from the argument parser's
# definitions by swift-argument-parser's GenerateManual plugin (issue 18), kept in man/ beside the
# hand-written ektpd.yaml(5).
#   scripts/manpages.sh           regenerate man/ektpd.8 and man/ektp-registry.8
#   scripts/manpages.sh --check   fail when they differ from what the parser says now (the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
# The pages' date: the release's, so a regeneration changes nothing else.
date=2026-11-30
swift package generate-manual --configuration debug --section 8 --date "$date" \
  --authors "ektpd developers<ektpd@dukcapil.example>" >/dev/null
status=0
for tool in ektpd ektp-registry; do
  page=".build/plugins/GenerateManual/outputs/$tool/$tool.8"
  [ -s "$page" ] || { echo "no $page: the plugin failed" >&2; exit 1; }
  if [ "${1:-}" = "--check" ]; then
    if ! diff -q "$page" "man/$tool.8" >/dev/null; then
      echo "man/$tool.8 is out of date with $tool's options: run scripts/manpages.sh" >&2
      diff "man/$tool.8" "$page" | head -20 >&2 || true
      status=1
    fi
  else
    cp "$page" "man/$tool.8"
  fi
done
# Every page renders without a warning (man-db with groff).
for page in man/*.[1-8] man/*/*.[1-8]; do
  warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
  if [ -n "$warnings" ]; then echo "$page: $warnings" >&2; status=1; fi
done
exit $status
