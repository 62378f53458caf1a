#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds under ASan+UBSan,
# runs every ctest test (KVM and emulator references included).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" "$top/build-test" -DVMMU_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cd "$top/build-test"
ctest --output-on-failure -j"$(nproc)" "$@"
# The dirty-log race and migration tests under ThreadSanitizer (own tree).
cmake --build "$top/build-test" --target tsan
