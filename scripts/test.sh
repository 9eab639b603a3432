#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-deps.sh --tests
echo "==> translations: po/ektpd.pot current, every catalogue complete (scripts/l10n.sh --check)"
scripts/l10n.sh --check
echo "==> building (the first build fetches and compiles dependencies: a few minutes)"
swift build --build-tests
echo "==> running tests"
# One test at a time: the integration harness blocks threads while it waits on real processes, and
# on a 2-core machine Swift's cooperative pool has two; run in parallel, they starve the async tests.
swift test --no-parallel
echo "==> the dashboard in a real browser (Chromium and selenium): screenshots in .build/test-output/dashboard"
python3 Tests/browser/dashboard_test.py "$(swift build --show-bin-path)" .build/test-output/dashboard
echo "==> the registry against docs/openapi.yaml (schemathesis)"
scripts/schemathesis.sh 50 7
echo "==> fuzzing: each libFuzzer target for ${EKTP_FUZZ_SECONDS:-30} s (scripts/fuzz.sh)"
scripts/fuzz.sh "${EKTP_FUZZ_SECONDS:-30}"
echo "==> manual pages current with the argument parser, and the .deb's pages, completions and catalogues"
scripts/manpages.sh --check
scripts/check-package.sh
echo "==> systemd units: verify and exposure (staged make install)"
scripts/check-units.sh
