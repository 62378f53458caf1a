#!/usr/bin/env bash
# The main job with defaults: build vmmu, show which paging backend it
# picks for this machine and why, walk a sample guest page table, then run
# the default workloads through every backend of the build and compare
# them (vmmu run, docs/run.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
# build/ is the directory README's "Building by hand" uses: configure it the
# same way, tests included (ON also repairs a cache an older run.sh left OFF).
"$top/scripts/build.sh" "$top/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON
vmmu="$top/build/vmmu"
echo "== vmmu detect"
"$vmmu" detect
echo
echo "== vmmu walk --case examples/walk-4level.json --pretty"
"$vmmu" walk --case "$top/examples/walk-4level.json" --pretty
echo
echo "== vmmu run"
"$vmmu" run
