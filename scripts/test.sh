#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, from a fresh Debian 12 machine: installs packages, builds with warnings
# as errors and runs every test, then does the same under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# The storage suite also runs against a real PostgreSQL: a throw-away server on 127.0.0.1,
# stopped when this script ends, however it ends.
eval "$(scripts/pg_test_server.sh start)"
trap 'scripts/pg_test_server.sh stop' EXIT

status=0
for flavour in ci asan; do
  echo "=== build: $flavour"
  scripts/build.sh "$flavour"
  echo "=== test: $flavour"
  set +e
  ctest --test-dir "build/$flavour" --parallel "$(nproc)" --timeout 300 --output-on-failure \
    2>&1 | tee "build/$flavour/ctest.log"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || status=1
done

# The decoder's libFuzzer target, built with clang, run for a bounded 60 s.
echo "=== fuzz: decode (clang, libFuzzer, 60 s)"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMEDIC_BUILD_FUZZ=ON -DMEDIC_BUILD_TESTS=OFF >/dev/null
cmake --build build/fuzz --target medic-fuzz-decode
set +e
ctest --test-dir build/fuzz -L fuzz --output-on-failure 2>&1 | tee build/fuzz/ctest.log
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || status=1

echo "=== summary"
for flavour in ci asan fuzz; do
  # ctest's summary line, e.g. "100% tests passed, 0 tests failed out of 65".
  grep -E "tests passed, .* tests failed out of" "build/$flavour/ctest.log" | sed "s/^/[$flavour] /"
done
exit "$status"
