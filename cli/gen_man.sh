#!/usr/bin/env bash
# gen_man.sh VMMU HELP2MAN OUT: the vmmu(1) man page from the --help texts.
# help2man makes the page from `vmmu --help` and `vmmu --version`; every
# command's and every bench kind's --help follows as a section of its own,
# so the page is the complete manual and cannot drift from the program.
set -euo pipefail
vmmu=$1 help2man=$2 out=$3
inc=$(mktemp)
trap 'rm -f "$inc"' EXIT
# Names listed under a heading ("COMMANDS", "KINDS") of a --help text.
listed() { sed -n "/^$1\$/,/^\$/p" | sed -n 's/^    \([a-z][a-z0-9-]*\) .*/\1/p'; }
section() { # title, command words...
  local title=$1; shift
  printf '[%s]\n' "$title"
  # Each help line verbatim (roff: no fill, no escapes for backslashes).
  printf '.nf\n'
  "$vmmu" "$@" --help | sed -e 's/\\/\\e/g' -e 's/^[.'"'"']/\\\&&/'
  printf '.fi\n\n'
}
{
  for c in $("$vmmu" --help | listed COMMANDS); do
    section "COMMAND: vmmu $c" "$c"
    if [ "$c" = bench ]; then
      for k in $("$vmmu" bench --help | listed KINDS); do
        section "COMMAND: vmmu bench $k" bench "$k"
      done
    fi
  done
  printf '[SEE ALSO]\nThe documentation in the source tree: README.md and docs/*.md.\n'
} >"$inc"
"$help2man" --no-info --no-discard-stderr --section 1 \
  --name "memory virtualization for hypervisors: EPT, NPT, shadow paging" \
  --include "$inc" --output "$out" "$vmmu"
