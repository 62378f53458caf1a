#!/usr/bin/env bash
# Malformed cases are refused by kvm_oracle --case as by vmmu walk. Then
# the examples KVM on this machine can run (4-level paging, no PKU/LA57):
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
# Both read a case with one parser (cli/walk_case.c): a typo or a wrong
# type is refused by both (exit 2) before KVM is even opened.
pg='"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":46}'
for bad in "{$pg,\"memory\":[{\"gpa\":\"0x0\",\"qword\":[\"0x1\"]}],\"accesses\":[]}" \
           "{$pg,\"memory\":{},\"accesses\":[]}" \
           "{$pg,\"accesses\":[{\"gva\":\"0x1000\",\"access\":\"read\",\"implicit\":1}]}"; do
  for tool in "$oracle" "$vmmu walk"; do
    printf '%s' "$bad" | $tool --case - >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 2 ] || { echo "FAIL: $tool exited $rc on $bad"; fails=$((fails + 1)); }
  done
done
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
# Protection keys (examples/walk-protection.json sets CR4.PKE and PKRU):
# run where this KVM keeps them (then compared with vmmu walk, one access
# per case: docs/kvm-oracle.md), refused with the probe's reason elsewhere.
jq -c '. as $c | [range(0; .accesses | length)] | map($c + {accesses: [$c.accesses[.]]})' \
  "$ex/walk-protection.json" >"$tmp/pk.json"
"$oracle" --case "$tmp/pk.json" >"$tmp/kvm.json" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ]; then
  grep -q "cannot run protection keys" "$tmp/err" ||
    { echo "FAIL: PKE case refused without the reason: $(cat "$tmp/err")"; fails=$((fails + 1)); }
  echo "note: protection keys not compared on this KVM: $(cat "$tmp/err")"
elif [ "$rc" -eq 0 ]; then
  "$vmmu" walk --case "$tmp/pk.json" >"$tmp/vmmu.json" || { echo "FAIL: vmmu walk pk"; fails=$((fails + 1)); }
  # The verdicts only: KVM adds notes (a fetch from a page without memory).
  norm='map(.results | map({ok, vector, error_code, cr2}))'
  diff <(jq -S "$norm" "$tmp/kvm.json") <(jq -S "$norm" "$tmp/vmmu.json") ||
    { echo "FAIL: protection keys: KVM and vmmu walk disagree (< KVM, > vmmu)"; fails=$((fails + 1)); }
else
  echo "FAIL: kvm_oracle --case with PKE exited $rc"; cat "$tmp/err"; fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] && echo "cli_case_diff: KVM and vmmu walk agree on the examples"
[ "$fails" -eq 0 ]
