#!/usr/bin/env bash
# The registry against its own OpenAPI document (issue 13): a live ektp-registry (SQLite, a
# temporary folder) with a station's token (writes) and a national viewer's (reads), schemathesis (PyPI) with a fixed seed and a bounded number
# of examples per operation; every check, no 5xx, no schema violation. Exit 1 on any failure.
#   scripts/schemathesis.sh [MAX_EXAMPLES] [SEED]      (defaults 50 and 7)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
examples=${1:-50}; seed=${2:-7}
command -v schemathesis >/dev/null || python3 -m pip install -q "schemathesis==4.32.5"
bin=$(swift build --show-bin-path)
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite:$work/registry.sqlite3"
export EKTP_STATION_TOKEN EKTP_VIEWER_TOKEN
EKTP_STATION_TOKEN=$("$bin/ektp-registry" token issue --database "$db" --station=st-1)
EKTP_VIEWER_TOKEN=$("$bin/ektp-registry" token issue --database "$db" --viewer=schemathesis)
"$bin/ektp-registry" serve --database "$db" --listen 127.0.0.1:0 --port-file "$work/port" --log-level warning 2> "$work/registry.log" & pid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$work/port")"
echo "==> schemathesis against $url/openapi.yaml (seed $seed, $examples examples an operation)"
if ! schemathesis --config-file scripts/schemathesis.toml run "$url/openapi.yaml" --url "$url" \
     --seed "$seed" --max-examples "$examples" --checks all --no-color; then
  echo "registry log:"; tail -20 "$work/registry.log"; exit 1
fi
