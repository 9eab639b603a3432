#!/usr/bin/env bash
# What the .deb ships besides the binaries (issue 18): manual pages that render without a warning,
# bash/zsh/fish completions that name the commands, the Indonesian catalogue. Built from the
# tests' debug build; the release .deb (make deb) is built the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
deb=$(CONFIG=debug SCRATCH=.build scripts/build-deb.sh)
list=$(dpkg-deb -c "$deb" | awk '{print $6}')
status=0
for f in ./usr/share/man/man8/ektpd.8.gz ./usr/share/man/man8/ektp-registry.8.gz ./usr/share/man/man5/ektpd.yaml.5.gz ./usr/share/man/id/man5/ektpd.yaml.5.gz \
         ./usr/share/bash-completion/completions/ektpd ./usr/share/bash-completion/completions/ektp-registry \
         ./usr/share/zsh/vendor-completions/_ektpd ./usr/share/fish/vendor_completions.d/ektpd.fish \
         ./usr/share/locale/id/LC_MESSAGES/ektpd.mo; do
  grep -qxF "$f" <<<"$list" || { echo "$deb lacks $f" >&2; status=1; }
done
x=$(mktemp -d); trap 'rm -rf "$x"' EXIT
dpkg-deb -x "$deb" "$x"
for page in "$x"/usr/share/man/man*/*.gz "$x"/usr/share/man/id/man*/*.gz; do
  warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
  [ -z "$warnings" ] || { echo "$(basename "$page"): $warnings" >&2; status=1; }
  MANWIDTH=80 man -l "$page" 2>/dev/null | grep -qE "^(SYNOPSIS|RINGKASAN)" || { echo "$(basename "$page") has no SYNOPSIS" >&2; status=1; }
done
# The completions know the subcommands (bash: the words it offers).
grep -q "check-config" "$x/usr/share/bash-completion/completions/ektpd" || { echo "bash completion lacks check-config" >&2; status=1; }
grep -q "user" "$x/usr/share/bash-completion/completions/ektp-registry" || { echo "bash completion lacks user" >&2; status=1; }
bash -n "$x/usr/share/bash-completion/completions/ektpd" || status=1
[ $status = 0 ] && echo "package: $(basename "$deb"): manual pages, completions and catalogues ok"
exit $status
