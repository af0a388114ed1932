#!/usr/bin/env bash
# bench.sh — builds an optimized GOSR and runs every bench/ program, or the
# ones named (e.g. `scripts/bench.sh bench_blake3`). Figures go to stdout and
# to out/bench/<name>.txt. Design: docs/build.md ("Benchmarks").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)"
mkdir -p out/bench
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in bench/bench_*.c; do names+=("$(basename "$f" .c)"); done
fi
for n in "${names[@]}"; do
  echo "== $n"
  ./build/release/"$n" | tee "out/bench/$n.txt"
done
