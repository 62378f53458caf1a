#!/usr/bin/env bash
# `vmmu walk`: malformed input must exit 2 with a message on stderr (never
# crash); the examples must give the translations derived by hand from the
# SDM rules (see the comments in each check); arrays of cases give arrays.
# Usage: walk_cli.sh VMMU EXAMPLES_DIR
set -u
vmmu=$1
ex=$2
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# A valid 4-level register set to build malformed cases around.
pg='"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":46}'

malformed=(
  '{'
  '[1]'
  '"just a string"'
  '{}'
  '{"paging":{}}'
  "{$pg}"
  "{$pg,\"accesses\":{}}"
  "{$pg,\"accesses\":[{}]}"
  "{$pg,\"accesses\":[{\"gva\":\"0x1000\"}]}"
  "{$pg,\"accesses\":[{\"gva\":\"0x1000\",\"access\":\"exec\"}]}"
  "{$pg,\"accesses\":[{\"gva\":\"0x1000\",\"access\":\"read\",\"cpl\":4}]}"
  "{$pg,\"accesses\":[{\"gva\":\"0x1000\",\"access\":\"read\",\"cpl\":-1}]}"
  "{$pg,\"accesses\":[{\"gva\":\"0xzz\",\"access\":\"read\"}]}"
  "{$pg,\"accesses\":[{\"gva\":\"0x1000\",\"access\":\"read\",\"implicit\":1}]}"
  "{$pg,\"accesses\":[{\"gva\":\"0x1000\",\"access\":\"read\",\"typo\":1}]}"
  "{$pg,\"memory\":[{\"gpa\":\"0x0\",\"hex\":\"0g\"}],\"accesses\":[]}"
  "{$pg,\"memory\":[{\"gpa\":\"0x0\",\"hex\":\"123\"}],\"accesses\":[]}"
  "{$pg,\"memory\":[{\"gpa\":\"0x0\"}],\"accesses\":[]}"
  "{$pg,\"memory\":[{\"gpa\":\"0x0\",\"hex\":\"00\",\"qwords\":[]}],\"accesses\":[]}"
  "{$pg,\"memory\":[{\"gpa\":\"0xffffffffffffffff\",\"hex\":\"0000\"}],\"accesses\":[]}"
  "{$pg,\"memory\":[{\"gpa\":\"0x0\",\"dwords\":[\"0x100000000\"]}],\"accesses\":[]}"
  "{$pg,\"memory\":{},\"accesses\":[]}"
  '{"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":31},"accesses":[]}'
  '{"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":53},"accesses":[]}'
  '{"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500"},"accesses":[]}'
  '{"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":46,"pkru":"0x100000000"},"accesses":[]}'
  '{"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":46,"vendor":"via"},"accesses":[]}'
  '{"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":46,"gbpages":"no"},"accesses":[]}'
  '{"paging":{"cr0":"0x80010011","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":46,"a_bits_on_fault":1},"accesses":[]}'
  '{"paging":{"cr0":"0x80000000","cr3":"0x1000","cr4":"0x20","efer":"0x500","maxphyaddr":46},"accesses":[]}'
  '{"paging":{"cr0":"0x80000001","cr3":"0x1000","cr4":"0x0","efer":"0x500","maxphyaddr":46},"accesses":[]}'
  "[{$pg,\"accesses\":[]},{$pg,\"accesses\":[{\"gva\":1,\"access\":\"x\"}]}]"
  "[{$pg,\"accesses\":[]},null]"
  "{$pg,\"memory\":[null],\"accesses\":[]}"
  "{$pg,\"memory\":[{\"gpa\":\"0x0\",\"qwords\":\"0x1\"}],\"accesses\":[]}"
  "{$pg,\"memory\":[{\"gpa\":\"0x0\",\"qwords\":[{}]}],\"accesses\":[]}"
  "{$pg,\"memory\":[{\"gpa\":\"0xfffffffffffffff8\",\"qwords\":[\"0x1\",\"0x2\"]}],\"accesses\":[]}"
  "{$pg,\"accesses\":[{\"gva\":\"0x1000\",\"access\":\"read\",\"cpl\":\"0xffffffffffffffff\"}]}"
  "{$pg,\"accesses\":[{\"gva\":\"18446744073709551616\",\"access\":\"read\"}]}"
  "{$pg,\"accesses\":[{\"gva\":1.5,\"access\":\"read\"}]}"
  "{$pg,\"accesses\":[{\"gva\":\"0x1000\",\"access\":1}]}"
  "{$pg,\"accesses\":[]}trailing"
  ''
)
i=0
for input in "${malformed[@]}"; do
  printf '%s' "$input" >"$tmp/in.json"
  "$vmmu" walk --case "$tmp/in.json" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ "$rc" -eq 2 ] || fail "malformed input $i exited $rc: $input"
  [ -s "$tmp/err" ] || fail "malformed input $i printed no message: $input"
  [ -s "$tmp/out" ] && fail "malformed input $i printed output: $input"
  i=$((i + 1))
done

# Nesting far deeper than any case, and bytes that are not UTF-8: the
# JSON parser refuses them (exit 2), it must not exhaust the stack.
python3 -c 'print("[" * 200000 + "]" * 200000)' >"$tmp/deep.json" 2>/dev/null &&
  { "$vmmu" walk --case "$tmp/deep.json" >/dev/null 2>"$tmp/err"
    [ $? -eq 2 ] && [ -s "$tmp/err" ] || fail "deeply nested input"; }
printf '{"paging":"\xff"}' >"$tmp/utf8.json"
"$vmmu" walk --case "$tmp/utf8.json" >/dev/null 2>&1; [ $? -eq 2 ] || fail "non-UTF-8 input should exit 2"
"$vmmu" walk --case / >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] || fail "a directory should exit 2"
grep -q "is a directory" "$tmp/err" || fail "a directory: message does not say so: $(cat "$tmp/err")"

# Input bounds: at most 16 MiB of input, at most 65536 pages touched, and
# memory in proportion to the data given (65536 one-dword items on as many
# pages took 318 MB when every touched page cost 4 KiB; the bound leaves
# room for sanitizer builds).
items() { # n: a case with n one-dword items, one per page
  python3 -c "import json,sys
n=int(sys.argv[1])
pg={'cr0':'0x80010011','cr3':'0x1000','cr4':'0x20','efer':'0x500','maxphyaddr':46}
print(json.dumps({'paging':pg,'memory':[{'gpa':hex(0x100000+i*4096),'dwords':['0x1']} for i in range(n)],'accesses':[]}))" "$1"
}
items 65537 >"$tmp/pages.json"
"$vmmu" walk --case "$tmp/pages.json" >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] || fail "65537 pages should exit 2"
grep -q "more than 65536 pages" "$tmp/err" || fail "page bound: message: $(cat "$tmp/err")"
items 65536 >"$tmp/pages.json"
rss=$(python3 -c "import resource,subprocess,sys
r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)" "$vmmu" walk --case "$tmp/pages.json")
set -- $rss
[ "$1" -eq 0 ] || fail "65536 pages exited $1"
[ "$2" -lt 200 ] || fail "65536 one-dword items took $2 MiB"
head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$tmp/huge.json"
"$vmmu" walk --case "$tmp/huge.json" >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] || fail "16 MiB + 1 should exit 2"
grep -q "larger than the 16777216 bytes" "$tmp/err" || fail "size bound: message: $(cat "$tmp/err")"
"$vmmu" walk --case - <"$tmp/huge.json" >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] || fail "16 MiB + 1 on stdin should exit 2"
grep -q "larger than" "$tmp/err" || fail "size bound on stdin: message: $(cat "$tmp/err")"

# Bad usage.
"$vmmu" walk >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --case should exit 2"
"$vmmu" walk --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option should exit 2"
# The message names the option refused, also inside a cluster ("-xh").
"$vmmu" walk -xh >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] || fail "-xh should exit 2"
grep -q "'-x'" "$tmp/err" || fail "-xh: message does not name -x: $(cat "$tmp/err")"
"$vmmu" walk --case /nonexistent >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing file should exit 2"
"$vmmu" walk --help >"$tmp/help" || fail "--help failed"
"$vmmu" help walk >"$tmp/help2" || fail "vmmu help walk failed"
cmp -s "$tmp/help" "$tmp/help2" || fail "vmmu help walk is not vmmu walk --help"
"$vmmu" help bench walk | grep -q "vmmu bench walk" || fail "vmmu help bench walk"
"$vmmu" help nosuch >/dev/null 2>&1; [ $? -eq 2 ] || fail "vmmu help nosuch should exit 2"
for s in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT "EXIT STATUS" EXAMPLES; do
  grep -q "^$s" "$tmp/help" || fail "--help lacks $s"
done

# examples/walk-4level.json: expected values from the tables it builds
# (PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000; PD[2] -> PT 0x4000, PD[3] a
# 2 MiB page at 0x200000; PT[0] user RW 0x5000, PT[1] user RO 0x6000).
out=$("$vmmu" walk --case "$ex/walk-4level.json") || fail "walk-4level failed"
check() { # jq-filter expected description
  got=$(printf '%s' "$out" | jq -c "$1")
  [ "$got" = "$2" ] || fail "$3: got $got, want $2"
}
check '[.results[] | .ok]' '[true,true,true,false,false,false]' "4level ok flags"
check '.results[0].gpa' '"0x5123"' "4level user 4 KiB read"
check '.results[2] | [.gpa, .page_size]' '["0x2abcde",2097152]' "4level 2 MiB page"
# Not present, user read: P=0, U=1 -> 0x4. User write to RO: P|W|U -> 0x7.
# Supervisor write to RO with CR0.WP=1: P|W -> 0x3.
check '[.results[3:][] | .error_code]' '["0x4","0x7","0x3"]' "4level error codes"
check '.results[3].cr2' '"0x800000"' "4level CR2"
# A on the four entries, then D on the PTE, then A on the 2 MiB PDE; the
# faulting accesses write nothing.
check '[.memory_writes[] | .value]' '["0x2027","0x3027","0x4027","0x5027","0x5067","0x2000a7"]' "4level A/D writes"

# Per-mode examples (expected values derived in the comments of
# docs/walker.md's example section from the SDM tables).
out=$("$vmmu" walk --case "$ex/walk-2level.json") || fail "walk-2level failed"
# PSE-36: PDE 0x00424087, bits 20:13 = 0x12 -> physical bits 39:32.
check '.results[1] | [.gpa, .page_size]' '["0x12004abcde",4194304]' "2level PSE-36"
check '[.memory_writes[] | .size] | unique' '[4]' "2level 4-byte A/D writes"
out=$("$vmmu" walk --case "$ex/walk-pae.json") || fail "walk-pae failed"
check '[.results[] | .error_code // .gpa]' '["0x4010","0x15","0x7","0xf003fffff","0x4"]' "pae results"
check '[.memory_writes[] | .gpa] | index("0x1000")' 'null' "pae: no A on PDPTEs"
out=$("$vmmu" walk --case "$ex/walk-pae-gp.json") || fail "walk-pae-gp failed"
check '[.results[] | .vector]' '[13,13]' "pae PDPTE #GP"
out=$("$vmmu" walk --case "$ex/walk-5level.json") || fail "walk-5level failed"
check '[.results[] | .vector // .gpa]' '["0xabcdef0000234","0xedcba76543210",13,14]' "5level results"
out=$("$vmmu" walk --case "$ex/walk-protection.json") || fail "walk-protection failed"
# SMAP 0x1, SMEP+NXE 0x11, ok, implicit SMAP 0x1, ok, PK 0x27, ok, ok, NX 0x15.
check '[.results[] | .error_code // "ok"]' '["0x1","0x11","ok","0x1","ok","0x27","ok","ok","0x15"]' "protection error codes"
out=$("$vmmu" walk --case "$ex/walk-amd.json") || fail "walk-amd failed"
check '[.results[] | .error_code // .gpa]' '["0xd","0xd","0x6000"]' "amd quirks"

# Overlapping memory items: the later one wins (documented in --help).
# PML4E, PDPTE, PDE and PTE chain a 4 KiB page at gva 0; the second item
# rewrites the PTE's frame from 0x5000 to 0x7000.
ov="{$pg,\"memory\":[{\"gpa\":\"0x1000\",\"qwords\":[\"0x2003\"]},
  {\"gpa\":\"0x2000\",\"qwords\":[\"0x3003\"]},{\"gpa\":\"0x3000\",\"qwords\":[\"0x4003\"]},
  {\"gpa\":\"0x4000\",\"qwords\":[\"0x5003\"]},{\"gpa\":\"0x4000\",\"hex\":\"0370\"}],
  \"accesses\":[{\"gva\":\"0x123\",\"access\":\"read\"}]}"
out=$(printf '%s' "$ov" | "$vmmu" walk --case -) || fail "overlapping memory items exited $?"
check '.results[0].gpa' '"0x7123"' "overlapping memory: later item wins"

# a_bits_on_fault: the PTE of gva 0 is not present (0x5002). With the
# option the walk sets A on PML4E, PDPTE and PDE (0x20 added), in that
# order, and the PTE stays; without it (the default) nothing is written.
af="\"memory\":[{\"gpa\":\"0x1000\",\"qwords\":[\"0x2003\"]},
  {\"gpa\":\"0x2000\",\"qwords\":[\"0x3003\"]},{\"gpa\":\"0x3000\",\"qwords\":[\"0x4003\"]},
  {\"gpa\":\"0x4000\",\"qwords\":[\"0x5002\"]}],
  \"accesses\":[{\"gva\":\"0x123\",\"access\":\"write\"}]}"
out=$(printf '%s' "{$pg,$af" | sed 's/"maxphyaddr":46/&,"a_bits_on_fault":true/' |
  "$vmmu" walk --case -) || fail "a_bits_on_fault exited $?"
check '[.results[0].error_code, [.memory_writes[] | .gpa, .value]]' '["0x2",["0x1000","0x2023","0x2000","0x3023","0x3000","0x4023"]]' "a_bits_on_fault: A above the fault, no D"
out=$(printf '%s' "{$pg,$af" | "$vmmu" walk --case -) || fail "default A/D exited $?"
check '[.results[0].error_code, .memory_writes]' '["0x2",[]]' "default: no A/D on a fault"

# Every example runs; an array of cases gives an array of results.
for f in "$ex"/walk-*.json; do
  "$vmmu" walk --case "$f" >/dev/null || fail "$f exited $?"
done
jq -s '.' "$ex/walk-4level.json" "$ex/walk-4level.json" >"$tmp/arr.json"
n=$("$vmmu" walk --case - <"$tmp/arr.json" | jq 'length')
[ "$n" = 2 ] || fail "array of 2 cases gave $n results"
# Each case of an array gets fresh memory: both report the same A writes.
a=$("$vmmu" walk --case "$tmp/arr.json" | jq -c '[.[].memory_writes | length]')
[ "$a" = "[6,6]" ] || fail "array cases share memory: $a"

# The walk benchmark runs every mode (a smoke test, not a measurement).
n=$("$vmmu" bench walk --walks 1000 --json 2>/dev/null | jq '[.modes[] | select(.ns_per_walk > 0)] | length')
[ "$n" = 6 ] || fail "bench walk reported $n modes"
"$vmmu" bench walk --walks x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bench walk bad --walks should exit 2"
n=$("$vmmu" bench walk --quick --json 2>/dev/null | jq '.walks')
[ "$n" = 100000 ] || fail "bench walk --quick ran $n walks per round"
n=$("$vmmu" bench walk --quick --walks 500 --json 2>/dev/null | jq '.walks')
[ "$n" = 500 ] || fail "bench walk --quick --walks 500 ran $n"

[ "$fails" -eq 0 ] && echo "walk_cli: all checks passed"
[ "$fails" -eq 0 ]
