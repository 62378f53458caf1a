#!/usr/bin/env bash
# `vmmu walk` with "backend": "shadow": tests/walk/walk_shadow.py, which
# needs python3 (skipped with a reason when it is missing).
# Usage: walk_shadow_cli.sh VMMU EXAMPLES_DIR [CONFORM] [--cases N] [--seed S]
set -u
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
exec python3 "$(dirname "$0")/walk_shadow.py" "$@"
