#!/usr/bin/env bash
# test.sh — the README's test command: installs Debian packages (idempotent),
# builds GOSR with ASan + UBSan in build/debug, checks that the optimized
# build (build/release) and a clang build (build/clang) compile, and runs
# every test with CTest.
# Design: docs/build.md.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DGOSR_SANITIZE=ON \
      -DGOSR_BENCH=OFF >/dev/null
cmake --build build/debug -j "$jobs"
# The main job and the benches build optimized: gcc's -O2 flow analysis
# finds warnings (-Werror) a debug build does not, so compile that tree too.
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$jobs"
# clang warns where gcc does not (unused static inline functions ...), and
# the libFuzzer build uses clang: compile everything with it too (~10 s).
cmake -S . -B build/clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
      -DGOSR_BENCH=OFF >/dev/null
cmake --build build/clang -j "$jobs"
cd build/debug
ctest --output-on-failure -j "$jobs" "$@"
