#!/usr/bin/env bash
# The examples KVM on this machine can run (4-level paging, no PKU/LA57):
# `kvm_oracle --case` (a real vCPU) and `vmmu walk` must give the same
# results and the same A/D writes. page_size is vmmu's alone (KVM cannot
# report it), so it is left out of the comparison.
# Usage: cli_case_diff.sh KVM_ORACLE VMMU EXAMPLES_DIR
set -u
oracle=$1 vmmu=$2 ex=$3
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
for name in walk-4level walk-amd; do
  "$oracle" --case "$ex/$name.json" >"$tmp/kvm.json" 2>"$tmp/err"
  rc=$?
  [ "$rc" -eq 77 ] && { cat "$tmp/err"; exit 77; }
  [ "$rc" -eq 0 ] || { echo "FAIL: kvm_oracle --case $name exited $rc"; cat "$tmp/err"; fails=$((fails + 1)); continue; }
  "$vmmu" walk --case "$ex/$name.json" >"$tmp/vmmu.json" || { echo "FAIL: vmmu walk $name"; fails=$((fails + 1)); continue; }
  norm='del(.results[].page_size)'
  if ! diff <(jq -S "$norm" "$tmp/kvm.json") <(jq -S "$norm" "$tmp/vmmu.json"); then
    echo "FAIL: $name: KVM and vmmu walk disagree (< KVM, > vmmu)"
    fails=$((fails + 1))
  fi
  n=$(jq '.results | length' "$tmp/kvm.json")
  [ "$n" -gt 0 ] || { echo "FAIL: $name: KVM gave no results"; fails=$((fails + 1)); }
done
[ "$fails" -eq 0 ] && echo "cli_case_diff: KVM and vmmu walk agree on the examples"
[ "$fails" -eq 0 ]
