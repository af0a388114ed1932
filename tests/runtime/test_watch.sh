#!/usr/bin/env bash
# test_watch.sh — end to end through the gosr command: `gosr world run`
# writes the arena while `gosr watch` (a second process mapping it
# read-only) follows epochs; `gosr replay` matches the recorded log, rejects
# a corrupted one, and a corrupt arena file gives a clean watch error.
set -euo pipefail
: "${GOSR:?path of the gosr binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/gosr-watch-XXXXXX")
trap 'kill $RUN 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Usage errors.
set +e; "$GOSR" watch --region entities >/dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "watch without --node: exit $rc, want 2"
set +e; "$GOSR" watch --node "$T" --region x >/dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "watch on a missing arena: exit $rc, want 1"

# A run long enough to watch: 400 ticks at 100 Hz (about 4 s).
"$GOSR" world run --data "$T/node" --ticks 400 --rate 100 --entities 300 \
    --inputs 100 --log "$T/session.log" >"$T/run.out" &
RUN=$!
for _ in $(seq 100); do [ -f "$T/node/world.arena" ] && break; sleep 0.05; done
[ -f "$T/node/world.arena" ] || fail "arena file not created"

"$GOSR" watch --node "$T/node" --region entities --count 5 --timeout 10000 \
    --json >"$T/watch.json"
[ "$(wc -l <"$T/watch.json")" -eq 5 ] || fail "expected 5 epoch lines"
python3 - "$T/watch.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
epochs = [r["epoch"] for r in rows]
assert epochs == sorted(epochs) and len(set(epochs)) == 5, epochs
for r in rows:
    assert r["region"] == "entities"
    assert r["alive"] >= 1 and r["tick"] >= 1, r
PY
"$GOSR" watch --node "$T/node" --region meta --count 3 --spin --timeout 10000 \
    >"$T/watch.txt"
[ "$(grep -c '^epoch ' "$T/watch.txt")" -eq 3 ] || fail "spin watch lines"
set +e; "$GOSR" watch --node "$T/node" --region nope --count 1 --json \
    >"$T/nope.json"; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "unknown region: exit $rc"
grep -q region_not_found "$T/nope.json" || fail "unknown region reason"

wait $RUN || fail "world run failed"
RUN=
grep -q "^ran 400 ticks" "$T/run.out" || fail "run summary: $(cat "$T/run.out")"

# Watching a closed arena ends with writer_closed, not a hang.
set +e; "$GOSR" watch --node "$T/node" --region entities --count 1 --json \
    --timeout 5000 >"$T/closed.json"; rc=$?; set -e
[ "$rc" -eq 1 ] && grep -q writer_closed "$T/closed.json" \
    || fail "closed arena: exit $rc $(cat "$T/closed.json")"

# Replay matches; a flipped hash byte is caught.
"$GOSR" replay "$T/session.log" --json >"$T/replay.json" || fail "replay"
grep -q '"ok":true' "$T/replay.json" || fail "replay json"
grep -q '"ticks":400' "$T/replay.json" || fail "replay ticks"
cp "$T/session.log" "$T/bad.log"
printf '\xff' | dd of="$T/bad.log" bs=1 seek=200 conv=notrunc 2>/dev/null
set +e; "$GOSR" replay "$T/bad.log" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "corrupt log: exit $rc, want 1"

# A corrupt arena: clean error with a reason, no crash.
printf 'garbage' | dd of="$T/node/world.arena" bs=1 seek=0 conv=notrunc 2>/dev/null
set +e; "$GOSR" watch --node "$T/node" --region entities --json >"$T/bad.json"
rc=$?; set -e
[ "$rc" -eq 1 ] && grep -q arena_bad_magic "$T/bad.json" || fail "corrupt arena"
truncate -s 100 "$T/node/world.arena"
set +e; "$GOSR" watch --node "$T/node" --region entities --json >"$T/bad.json"
rc=$?; set -e
[ "$rc" -eq 1 ] && grep -q arena_truncated "$T/bad.json" || fail "truncated"
echo "ok"
