#!/usr/bin/env bash
# The fuzz targets under libFuzzer (issue 13): builds ektp-fuzz with -sanitize=fuzzer,address in
# .build-fuzz, then runs each target for SECONDS (default 30) on a copy of its committed corpus.
# Exit 1 on the first crash, with the input libFuzzer saved (crash-*) named.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
seconds=${1:-30}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(config scenario time control usb batch bundle)
echo "==> building ektp-fuzz with libFuzzer and AddressSanitizer (.build-fuzz)"
swift build --product ektp-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library
bin=$(swift build --product ektp-fuzz --scratch-path .build-fuzz --show-bin-path \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library)/ektp-fuzz
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  echo "==> fuzzing $t for ${seconds}s"
  mkdir -p "$work/$t" "$work/artifacts-$t"
  # New inputs go to the scratch corpus (first folder); the committed one only seeds.
  if ! EKTP_FUZZ_TARGET=$t ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts-$t/" "$work/$t" "Fuzz/corpus/$t" \
       > "$work/$t.log" 2>&1; then
    tail -40 "$work/$t.log"
    for f in "$work/artifacts-$t"/*; do [ -e "$f" ] && { mkdir -p Fuzz/crashes; cp "$f" "Fuzz/crashes/$t-$(basename "$f")"; echo "input kept: Fuzz/crashes/$t-$(basename "$f")"; }; done
    echo "FUZZ FAILURE in target $t"; exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/$t.log" | sed "s/^/   $t /"
done
echo "==> no crash in ${targets[*]} (${seconds}s each)"
