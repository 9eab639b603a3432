#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-deps.sh
echo "==> building (the first build fetches and compiles dependencies: a few minutes)"
swift build --build-tests
echo "==> running tests"
swift test
echo "==> systemd units: verify and exposure (staged make install)"
scripts/check-units.sh
