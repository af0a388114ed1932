#!/usr/bin/env bash
# test.sh — the README's test command: installs Debian packages (idempotent),
# builds GOSR with ASan + UBSan in build/debug and runs every test with CTest.
# Design: docs/build.md.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DGOSR_SANITIZE=ON \
      -DGOSR_BENCH=OFF >/dev/null
cmake --build build/debug -j "$jobs"
cd build/debug
ctest --output-on-failure -j "$jobs" "$@"
