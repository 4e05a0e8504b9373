#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds one flavour of medic into build/<flavour>:
#   release  optimised, what the quick-start runs
#   ci       warnings as errors, debug info
#   asan     AddressSanitizer + UndefinedBehaviorSanitizer, warnings as errors
set -euo pipefail
cd "$(dirname "$0")/.."

flavour="${1:-release}"
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=Release -DMEDIC_BUILD_TESTS=OFF) ;;
  ci) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEDIC_WERROR=ON) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=Debug -DMEDIC_WERROR=ON -DMEDIC_SANITIZE=address,undefined) ;;
  *) echo "build.sh: unknown flavour '$flavour' (release, ci, asan)" >&2; exit 2 ;;
esac

cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" >/dev/null
cmake --build "build/$flavour" --parallel "$(nproc)"
