#!/usr/bin/env bash
# The main job with defaults: build vmmu, show which paging backend it
# picks for this machine and why, then run the default workloads through
# every backend of the build and compare them (vmmu run, docs/run.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" "$top/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
vmmu="$top/build/vmmu"
echo "== vmmu detect"
"$vmmu" detect
echo
echo "== vmmu run"
"$vmmu" run
