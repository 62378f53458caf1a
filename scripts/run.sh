#!/usr/bin/env bash
# The main job with defaults: build vmmu, then show what it decides for this
# machine and walk a sample guest page table.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" "$top/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
vmmu="$top/build/vmmu"
for cmd in detect walk run; do
  case "$cmd" in
    detect) [ -f "$top/cli/cmd_detect.c" ] && "$vmmu" detect ;;
    walk)   [ -f "$top/cli/cmd_walk.c" ] && "$vmmu" walk --case "$top/examples/walk-4level.json" ;;
    run)    [ -f "$top/cli/cmd_run.c" ] && "$vmmu" run ;;
  esac
done
exit 0
