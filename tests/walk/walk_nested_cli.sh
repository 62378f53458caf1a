#!/usr/bin/env bash
# `vmmu walk` with "nested" (EPT, NPT): tests/walk/walk_nested.py, which
# needs python3 (skipped with a reason when it is missing).
# Usage: walk_nested_cli.sh VMMU [--cases N] [--seed S]
set -u
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
exec python3 "$(dirname "$0")/walk_nested.py" "$@"
