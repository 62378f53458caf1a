#!/usr/bin/env bash
# The shadow isolation fuzzer as a test: build it (the `fuzz` target:
# clang, libFuzzer, ASan+UBSan) and fuzz for SECONDS from the seed
# corpus, one job, new inputs kept in a scratch directory (the committed
# corpus is read only). Skips, saying why, when clang or libFuzzer's
# runtime is missing.
# Usage: fuzz_run.sh BUILD_DIR CORPUS_DIR SECONDS
set -u
build=$1 corpus=$2 secs=$3
cc=$(command -v clang || command -v clang-14) ||
  { echo "SKIP: shadow_fuzz: clang not installed (libFuzzer needs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$tmp/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" 2>"$tmp/err"; then
  echo "SKIP: shadow_fuzz: $cc cannot link -fsanitize=fuzzer (libFuzzer's runtime, e.g. Debian's libclang-rt-dev, missing): $(head -1 "$tmp/err")"
  exit 77
fi
cmake --build "$build" --target fuzz >"$tmp/build.log" 2>&1 ||
  { echo "FAIL: building the fuzzer"; tail -30 "$tmp/build.log"; exit 1; }
bin=$build/fuzz/tests/shadow/fuzz_shadow_isolation
mkdir "$tmp/new"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  "$tmp/new" "$corpus" >"$tmp/fuzz.log" 2>&1
rc=$?
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|^#[0-9]+.*DONE|cov:' "$tmp/fuzz.log" | tail -4
if [ "$rc" -ne 0 ]; then
  echo "FAIL: the fuzzer found a violation or crashed (exit $rc):"
  tail -40 "$tmp/fuzz.log"
  exit 1
fi
echo "shadow_fuzz: ${secs} s of fuzzing, no violation"
