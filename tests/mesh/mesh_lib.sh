# mesh_lib.sh — helpers shared by the mesh's multi-process tests
# (test_mesh_cluster.sh, test_mesh_serve.sh): every node process started
# (PIDS) SIGKILLed and reaped on exit and T removed (kept with MESH_KEEP=1),
# `fail` with the nodes' stderr tails, a free port range on 127.0.0.1, JSON
# field extraction, polling with a deadline, timestamps. Source after
# setting T (the test's scratch directory; nodes log to $T/n*.err).
# Design: docs/mesh.md ("Tests").

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${MESH_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$T"/n*.err; do [ -f "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}

stamp() { echo "[$SECONDS s] $*" >&2; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# pick_base N: a base port with N free TCP+UDP ports above it on 127.0.0.1
# (below the ephemeral range), printed.
pick_base() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    b = random.randrange(20000, 32000)
    ok = True
    for i in range(n):
        for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, t)
            try: s.bind(("127.0.0.1", b + i))
            except OSError: ok = False
            finally: s.close()
    if ok:
        print(b); break
PY
}

# wait_until SECONDS CMD...: polls CMD every 0.3 s until it succeeds.
wait_until() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do
    if "$@"; then return 0; fi
    sleep 0.3
  done
  return 1
}
