#!/usr/bin/env bash
# demo.sh — the README's main-job command. Installs Debian packages
# (idempotent), builds an optimized `gosr`, then runs `gosr demo`: a node,
# the arena game with 200 bots, a hot swap, an AI-written patch through the
# whole pipeline, rollbacks and the kill switch, ending with a report in
# out/demo (report.html, report.json). Extra arguments go to `gosr demo`
# (e.g. `--duration 10s`). Design: docs/demo.md.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target gosr_cli
exec build/release/gosr demo --out out/demo "$@"
