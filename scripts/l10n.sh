#!/usr/bin/env bash
# Translations (issue 18), with GNU gettext's own tools (Debian's `gettext` package):
#   scripts/l10n.sh            refresh po/ektpd.pot from the sources, merge it into every po/*.po,
#                              check each catalogue, compile it to .build/locale/LANG/LC_MESSAGES/ektpd.mo
#   scripts/l10n.sh --compile  only compile po/*.po to .build/locale (what building for a run needs)
#   scripts/l10n.sh --check    the same as the first without touching po/: fails when the template is out of date,
#                              a catalogue is not 100 % translated, has fuzzy entries, or a translation
#                              drops or adds a {placeholder} of its English (the tests run this)
# Messages are marked in Swift with tr("...") and N_("..."). xgettext has no Swift parser; its C
# lexer reads Swift's ordinary string literals, so a copy of each source with Swift's multi-line
# ("""...""") and raw (#"..."#) literals blanked out (lines kept, so references stay right) is
# what it reads.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0; [ "${1:-}" = "--check" ] && check=1
if [ "${1:-}" = "--compile" ]; then
  command -v msgfmt >/dev/null || { echo "note: msgfmt is missing (apt-get install gettext): messages stay in English" >&2; exit 0; }
  for po in po/*.po; do
    lang=$(basename "$po" .po); mkdir -p ".build/locale/$lang/LC_MESSAGES"
    msgfmt -o ".build/locale/$lang/LC_MESSAGES/ektpd.mo" "$po"
  done
  exit 0
fi
for t in xgettext msgmerge msgfmt msgattrib; do
  command -v $t >/dev/null || { echo "error: $t is missing: apt-get install gettext" >&2; exit 1; }
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
files=$(grep -rlE '\b(tr|N_)\("' Sources --include='*.swift' | sort)
python3 - "$work" $files <<'EOF'
import os, re, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8").read()
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    text = re.sub(r'(#+)"""[\s\S]*?"""\1', blank, text)        # raw multi-line
    text = re.sub(r'"""[\s\S]*?"""', blank, text)              # multi-line
    text = re.sub(r'(#+)"[^\n]*?"\1', blank, text)              # raw single-line
    dest = os.path.join(out, path)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    open(dest, "w", encoding="utf-8").write(text)
EOF
(cd "$work" && xgettext --language=C --from-code=UTF-8 --keyword=tr --keyword=N_ --add-comments=TRANSLATORS: \
   --package-name=ektpd --package-version=0.1 --msgid-bugs-address=ektpd@dukcapil.example \
   --no-wrap --sort-by-file --omit-header -o ektpd.pot $files 2>xgettext.log) \
  || { cat "$work/xgettext.log" >&2; exit 1; }
{ printf 'msgid ""\nmsgstr ""\n"Project-Id-Version: ektpd 0.1\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Content-Transfer-Encoding: 8bit\\n"\n\n'; cat "$work/ektpd.pot"; } > "$work/template.pot"
status=0
if [ $check = 1 ]; then
  if ! diff -q <(grep -v '^#:' "$work/template.pot") <(grep -v '^#:' po/ektpd.pot) >/dev/null; then
    echo "po/ektpd.pot is out of date with the sources: run scripts/l10n.sh and translate what is new" >&2
    diff <(grep '^msgid' po/ektpd.pot) <(grep '^msgid' "$work/template.pot") | sed 's/^/  /' >&2 || true
    status=1
  fi
else
  cp "$work/template.pot" po/ektpd.pot
fi
for po in po/*.po; do
  lang=$(basename "$po" .po)
  if [ $check = 1 ]; then
    cp "$po" "$work/$lang.po"; msgmerge --quiet --update --backup=none --no-fuzzy-matching "$work/$lang.po" "$work/template.pot"; target="$work/$lang.po"
  else
    msgmerge --quiet --update --backup=none --no-fuzzy-matching --no-wrap "$po" po/ektpd.pot; target="$po"
  fi
  mkdir -p ".build/locale/$lang/LC_MESSAGES"
  echo "$lang: $(msgfmt --check --statistics -o ".build/locale/$lang/LC_MESSAGES/ektpd.mo" "$target" 2>&1)"
  untranslated=$(msgattrib --untranslated --no-obsolete "$target" | grep -c '^msgid' || true)
  fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$target" | grep -c '^msgid' || true)
  # Less the header entry msgattrib always prints.
  [ "$untranslated" -gt 1 ] && { echo "$po: $((untranslated - 1)) message(s) not translated:" >&2; msgattrib --untranslated --no-obsolete "$target" | grep '^msgid' | tail -n +2 | head -20 >&2; status=1; }
  [ "$fuzzy" -gt 1 ] && { echo "$po: $((fuzzy - 1)) fuzzy message(s)" >&2; status=1; }
  python3 - "$target" <<'EOF' || status=1
import re, sys
entries, cur, key = [], {}, None
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if line.startswith("#~"):
        continue
    if line.startswith("msgid "):
        if cur: entries.append(cur)
        cur, key = {"msgid": ""}, "msgid"
        line = line[6:]
    elif line.startswith("msgstr "):
        key, cur["msgstr"] = "msgstr", ""
        line = line[7:]
    elif not line.startswith('"'):
        continue
    if key and line.startswith('"'):
        cur[key] = cur.get(key, "") + eval(line)
if cur: entries.append(cur)
bad = 0
for e in entries:
    if not e.get("msgid") or not e.get("msgstr"):
        continue
    a, b = sorted(set(re.findall(r"\{\w+\}", e["msgid"]))), sorted(set(re.findall(r"\{\w+\}", e["msgstr"])))
    if a != b:
        print(f"{sys.argv[1]}: placeholders differ: {e['msgid']!r} has {a}, the translation {b}", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
EOF
done
exit $status
