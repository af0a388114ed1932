#!/usr/bin/env bash
# test_mesh_long.sh — opt-in (GOSR_LONG_TESTS=1): the cluster scenario of
# test_mesh_cluster.sh with a 256 MiB module (publish, RF=3, kill two
# holders -> healed, fetch byte-exact, kill every holder -> unavailable,
# corrupt peer, failed proof), then the serve scenario of
# test_mesh_serve.sh with a 256 MiB asset in the module. Without the variable it reports a skip and
# passes. Design: docs/mesh.md ("Tests").
set -euo pipefail
if [ -z "${GOSR_LONG_TESTS:-}" ]; then
  echo "skipped: set GOSR_LONG_TESTS=1 to run the 256 MiB mesh scenario"
  exit 0
fi
MESH_MIB=256 bash "$(dirname "$0")/test_mesh_cluster.sh"
MESH_MIB=256 exec bash "$(dirname "$0")/test_mesh_serve.sh"
