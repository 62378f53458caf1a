#!/usr/bin/env bash
# The installed man page: generated from the --help texts (every command
# and every bench kind has its section, with its own NAME line), and
# `cmake --install` puts it in share/man/man1.
# Usage: man_page.sh VMMU MANPAGE BUILD_DIR
set -u
vmmu=$1 page=$2 build=$3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
[ -s "$page" ] || { echo "FAIL: no man page at $page"; exit 1; }
names() { sed -n "/^$1\$/,/^\$/p" | sed -n 's/^    \([a-z][a-z0-9-]*\) .*/\1/p'; }
check() { # section title (upper case), command words...
  local title=$1; shift
  grep -q "^\.SH \"COMMAND: $title\"" "$page" || fail "no section $title"
  # The NAME line of that --help must be in the page, word for word.
  line=$("$vmmu" "$@" --help | sed -n 2p | sed 's/^ *//')
  grep -qF -- "$line" "$page" || fail "$title: '$line' missing"
}
for c in $("$vmmu" --help | names COMMANDS); do
  check "VMMU ${c^^}" "$c"
done
for k in $("$vmmu" bench --help | names KINDS); do
  check "VMMU BENCH ${k^^}" bench "$k"
done
n=$(grep -c '^\.SH "COMMAND:' "$page")
[ "$n" -ge 8 ] || fail "only $n command sections"
if command -v man >/dev/null; then
  man -l "$page" >/dev/null 2>&1 || fail "man cannot format the page"
fi
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null ||
  fail "cmake --install failed"
[ -s "$prefix/share/man/man1/vmmu.1" ] || fail "not installed in share/man/man1"
[ "$fails" -eq 0 ] && echo "man_page: $n command sections, installed"
[ "$fails" -eq 0 ]
