# mesh_lib.sh — helpers shared by the mesh's multi-process tests
# (test_mesh_cluster.sh, test_mesh_serve.sh): a free port range on
# 127.0.0.1, JSON field extraction, polling with a deadline, timestamps.
# Source after setting T (the test's scratch directory) and `fail`.
# Design: docs/mesh.md ("Tests").

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
