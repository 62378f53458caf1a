#!/usr/bin/env bash
# scripts/run.sh must leave build/ as README's "Building by hand" expects
# it: configured with the tests (it used to pass -DBUILD_TESTING=OFF, and
# `ctest --test-dir build` then found no tests). Runs the real run.sh and
# build.sh in a copy of the scripts, with setup.sh, cmake and the vmmu it
# would build replaced by stubs that record what they were asked.
# Usage: run_sh.sh SOURCE_DIR
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/top/scripts" "$tmp/top/examples" "$tmp/bin"
cp "$src/scripts/run.sh" "$src/scripts/build.sh" "$tmp/top/scripts/"
cp "$src/examples/walk-4level.json" "$tmp/top/examples/"
printf '#!/bin/sh\nexit 0\n' >"$tmp/top/scripts/setup.sh"
cat >"$tmp/bin/cmake" <<'STUB'
#!/bin/sh
# Record the call; "--build DIR" makes DIR/vmmu, a stub that succeeds.
echo "$*" >>"$CMAKE_LOG"
if [ "$1" = "--build" ]; then
  printf '#!/bin/sh\necho "vmmu stub $*"\n' >"$2/vmmu"
  chmod +x "$2/vmmu"
fi
case "$*" in *" -B "*) d=$(echo "$*" | sed 's/.* -B \([^ ]*\).*/\1/'); mkdir -p "$d" ;; esac
exit 0
STUB
chmod +x "$tmp/top/scripts/"*.sh "$tmp/bin/cmake"
export CMAKE_LOG="$tmp/cmake.log"
PATH="$tmp/bin:$PATH" bash "$tmp/top/scripts/run.sh" >"$tmp/out" 2>&1 ||
  { echo "FAIL: run.sh exited $?"; cat "$tmp/out"; exit 1; }
fails=0
conf=$(grep -e "-B $tmp/top/build\( \|$\)" "$tmp/cmake.log")
[ -n "$conf" ] || { echo "FAIL: run.sh did not configure build/"; cat "$tmp/cmake.log"; exit 1; }
case "$conf" in
  *BUILD_TESTING=OFF*) echo "FAIL: run.sh configures build/ without tests: $conf"; fails=1 ;;
esac
case "$conf" in
  *BUILD_TESTING=ON*) ;;
  *) echo "FAIL: run.sh must turn the tests on in build/ (a cache left OFF stays OFF): $conf"; fails=1 ;;
esac
grep -q "vmmu stub detect" "$tmp/out" || { echo "FAIL: run.sh did not run vmmu detect"; fails=1; }
grep -q "vmmu stub walk --case" "$tmp/out" || { echo "FAIL: run.sh did not run vmmu walk"; fails=1; }
[ "$fails" -eq 0 ] && echo "run_sh: build/ is configured with the tests"
exit "$fails"
