#!/usr/bin/env bash
# The main job: a simulated fleet reporting to an embedded registry, and what the centre sees.
#   scripts/simulate.sh                         the Sintang 2018 regency (11 of 14 district kits broken)
#   scripts/simulate.sh scenarios/boltim.yaml   any scenario; extra arguments go to `ektpd simulate`
# Installs what is missing (apt), builds ektpd and ektp-registry, then runs `ektpd simulate`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-deps.sh
echo "==> building ektpd and ektp-registry (the first build takes several minutes)" >&2
swift build --product ektpd 2>&1 | grep -E "error|warning: unre" >&2 || true
swift build --product ektp-registry 2>&1 | grep -E "error" >&2 || true
scripts/l10n.sh --compile   # the catalogues (po/*.po) beside the build, for the dashboard's Bahasa Indonesia
B=$(swift build --show-bin-path)
[ -x "$B/ektpd" ] && [ -x "$B/ektp-registry" ] || { echo "build failed: run swift build to see why" >&2; exit 1; }
[ $# -eq 0 ] && set -- scenarios/sintang-2018.yaml
# In a terminal the registry stays up afterwards with its dashboard (a page a person can open);
# EKTP_SIMULATE_SERVE=0 (or a pipe) prints the report and ends.
if [ -t 1 ] && [ "${EKTP_SIMULATE_SERVE:-1}" = 1 ] && [[ " $* " != *" --registry "* ]] && [[ " $* " != *" --serve "* ]]; then set -- "$@" --serve; fi
echo "==> ektpd simulate $*" >&2
exec "$B/ektpd" simulate "$@"
