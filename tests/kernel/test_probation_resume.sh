#!/usr/bin/env bash
# test_probation_resume.sh — a node SIGKILLed while a new version is on
# probation puts it back on probation at restart: mover v3 (faults on its
# third tick) is activated over v2 at 2 Hz, the node is killed before the
# fault, and after the restart the fault still rolls v3 back to v2 (a
# rollback row, v2 active) instead of leaving a faulted v3 running
# unprotected. Env: GOSR, GOSR_SOURCE_DIR. Design: docs/kernel.md ("Swap
# state machine", "After a crash").
set -u
GOSR=${GOSR:?set GOSR to the gosr binary}
SRC=${GOSR_SOURCE_DIR:?set GOSR_SOURCE_DIR}/examples/mover
T=$(mktemp -d)
D=$T/node
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"

start_node() {
  "$GOSR" serve --data "$D" --trust "$T/root/key.pub" --admin 127.0.0.1:0 \
    --rate 2 --quarantine 10 >"$T/serve.out" 2>>"$T/serve.err" &
  PID=$!
  wait_node "$D" "$T/serve.err"
}

dev_keys game,mod
for v in 2 3; do
  expect 0 "$GOSR" pack "$SRC/v$v" --key "$T/dev" --cert "$T/dev.cert" \
    --out "$T/m$v.gmod"
done
start_node || exit 1
expect 0 "$GOSR" publish "$T/m2.gmod" --activate --data "$D"
expect 0 "$GOSR" publish "$T/m3.gmod" --activate --data "$D"
kill -9 $PID # v3 has run at most one tick of its probation (2 Hz)
wait $PID 2>/dev/null
PID=
expect 0 "$GOSR" ledger --data "$D"
has "$T/out" "activate mover 3.0.0"
start_node || exit 1
grep -q "probation restarts" "$T/serve.err" && ok || bad "no resume logged"
for _ in $(seq 1 100); do
  "$GOSR" modules --data "$D" >"$T/mods" 2>/dev/null
  grep -q "mover  active 2.0.0" "$T/mods" && break
  sleep 0.1
done
has "$T/mods" "mover  active 2.0.0"
expect 0 "$GOSR" ledger --data "$D" --verify
has "$T/out" "rollback mover 2.0.0"
kill -TERM $PID
wait $PID
PID=
[ "$fails" -eq 0 ] && echo "test_probation_resume: $passes checks passed"
exit $((fails > 0))
