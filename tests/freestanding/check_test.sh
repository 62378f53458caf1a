#!/usr/bin/env bash
# usage: check_test.sh CHECK_SH CC FIXTURE_DIR OUT_DIR
set -uo pipefail
check=$1 cc=$2 fx=$3 out=$4
fail=0
bash "$check" "$cc" "$out/good" "$fx" -- core/good.c ||
	{ echo "FAIL: the allowed subset was rejected"; fail=1; }
for bad in header symbol; do
	if bash "$check" "$cc" "$out/$bad" "$fx" -- "core/$bad.c" 2>"$out/$bad.log"; then
		echo "FAIL: core/$bad.c passed the freestanding check"; fail=1
	else
		echo "ok: core/$bad.c rejected: $(tail -1 "$out/$bad.log")"
	fi
done
exit $fail
