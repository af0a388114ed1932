#!/usr/bin/env bash
# test_checkpoint.sh — world checkpoints end to end through real `gosr
# serve` processes running examples/mover (its `state` table says whether
# it already spawned its 8 entities, so a reset state shows as 16):
#   SIGTERM  -> restart: the world hash right after restore equals the one
#               the stop checkpoint recorded, same tick, 8 entities
#   SIGKILL  -> restart: restored from the last checkpoint, tick between
#               that checkpoint's and the kill's
#   flip a byte of DIR/checkpoint -> falls back to checkpoint.prev, the bad
#               file kept as checkpoint.bad-*
#   both corrupt -> fresh world, status says why, both files kept
# Env: GOSR = path of the gosr binary. Design under test: docs/kernel.md
# ("Checkpoints").
set -u

GOSR=${GOSR:?set GOSR to the gosr binary}
SRC=${GOSR_SOURCE_DIR:?set GOSR_SOURCE_DIR}/examples/mover
T=$(mktemp -d)
D=$T/node
PID=
WATCH=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; [ -n "$WATCH" ] && kill $WATCH 2>/dev/null; rm -rf "$T"' EXIT

. "$(dirname "$0")/../lib.sh"

cat >"$T/config.json" <<EOF
{"rate_hz": 100, "checkpoint_ticks": 20}
EOF

RUN=0
start_node() {
  RUN=$((RUN + 1))
  GOSR_LOG=info "$GOSR" serve --data "$D" --trust "$T/root/key.pub" \
    --admin 127.0.0.1:0 --config "$T/config.json" \
    >"$T/serve$RUN.out" 2>"$T/serve$RUN.err" &
  PID=$!
  for _ in $(seq 1 200); do
    if "$GOSR" status --data "$D" --json >"$T/st" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  bad "node did not come up"; cat "$T/serve$RUN.err" >&2
  return 1
}

status() { "$GOSR" status --data "$D" --json >"$T/st" 2>/dev/null; }
# jqs FILTER — a field of the last status
jqs() { jq -r "$1" "$T/st"; }

# wait_for FILTER — polls status until the jq FILTER is true.
wait_for() {
  for _ in $(seq 1 300); do
    if status && [ "$(jqs "$1")" = true ]; then ok; return 0; fi
    sleep 0.05
  done
  bad "status never satisfied $1"; cat "$T/st" >&2
  return 1
}

stop_node() { # SIGTERM and wait
  kill -TERM "$PID"
  wait "$PID"
  local rc=$?
  PID=
  [ "$rc" -eq 0 ] && ok || bad "serve exited $rc after SIGTERM"
}

# last_written RUN [N] — "tick hash" of the Nth-from-last checkpoint line.
last_written() {
  grep -o 'checkpoint written: tick [0-9]* world_hash [0-9a-f]*' \
    "$T/serve$1.err" | tail -n "${2:-1}" | head -n 1 | awk '{print $4, $6}'
}

flip_byte() { # FILE OFFSET — xor one byte with 0x01
  local b
  b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
  printf "\\$(printf %03o $((b ^ 1)))" |
    dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# ---- keys and bundle -----------------------------------------------------
dev_keys game,mod
expect 0 "$GOSR" pack "$SRC/v1" --key "$T/dev" --cert "$T/dev.cert" \
  --out "$T/m1.gmod"

# ---- first run: fresh, checkpoints every 20 ticks ------------------------
start_node || exit 1
[ "$(jqs .checkpoint.restored)" = false ] && ok || bad "restored on a new dir"
[ "$(jqs .checkpoint.reason)" = no_checkpoint ] && ok ||
  bad "reason $(jqs .checkpoint.reason)"
expect 0 "$GOSR" publish "$T/m1.gmod" --activate --data "$D"
wait_for '.entities == 8 and .checkpoint.written >= 2'
[ -f "$D/checkpoint" ] && [ -f "$D/checkpoint.prev" ] && ok ||
  bad "checkpoint files missing: $(ls "$D")"
stop_node
read -r STOP_TICK STOP_HASH <<<"$(last_written 1)"
[ -n "$STOP_HASH" ] && ok || bad "no checkpoint line at stop"

# ---- SIGTERM -> restart: same world hash and tick, state continues -------
start_node || exit 1
[ "$(jqs .checkpoint.restored)" = true ] && ok || { bad "not restored"; cat "$T/st" >&2; }
[ "$(jqs .checkpoint.source)" = checkpoint ] && ok || bad "source $(jqs .checkpoint.source)"
[ "$(jqs .checkpoint.tick)" = "$STOP_TICK" ] && ok ||
  bad "restored tick $(jqs .checkpoint.tick), stop checkpoint $STOP_TICK"
[ "$(jqs .checkpoint.world_hash)" = "$STOP_HASH" ] && ok ||
  bad "restored hash $(jqs .checkpoint.world_hash), at stop $STOP_HASH"
[ "$(jqs .checkpoint.modules.mover)" = restored ] && ok ||
  bad "mover state: $(jqs .checkpoint.modules.mover)"
[ "$(jqs '.checkpoint.age_s >= 0')" = true ] && ok || bad "no age"
grep -q "checkpoint restored from checkpoint: tick $STOP_TICK world_hash $STOP_HASH" \
  "$T/serve$RUN.err" && ok || bad "no restore log line"
# mover's state.spawned came back: it does not spawn a second batch, and
# time goes on from the restored tick
wait_for ".tick > $STOP_TICK + 30"
[ "$(jqs .entities)" = 8 ] && ok || bad "entities $(jqs .entities) (state reset?)"

# ---- SIGKILL mid-run -> restored from the last checkpoint ----------------
"$GOSR" watch --node "$D" --region meta --json >"$T/watch.json" 2>/dev/null &
WATCH=$!
wait_for ".checkpoint.written >= 3"
LAST=$(jqs .checkpoint.last_tick)
sleep 0.13 # not right at a checkpoint boundary
kill -STOP "$PID"
sleep 0.3 # the watcher catches up with the last committed tick
KILL_TICK=$(tail -n 1 "$T/watch.json" | jq -r .tick)
kill -KILL "$PID"
wait "$PID" 2>/dev/null
PID=
wait "$WATCH" 2>/dev/null
WATCH=
start_node || exit 1
R=$(jqs .checkpoint.tick)
[ "$(jqs .checkpoint.restored)" = true ] && ok || bad "not restored after SIGKILL"
if [ -n "$KILL_TICK" ] && [ "$R" -ge "$LAST" ] && [ "$R" -le "$KILL_TICK" ]; then
  ok
else
  bad "restored tick $R not within [$LAST, $KILL_TICK]"
fi
[ "$(jqs .entities)" = 8 ] && ok || bad "entities $(jqs .entities) after SIGKILL"
wait_for ".checkpoint.written >= 2"
stop_node
read -r PREV_TICK PREV_HASH <<<"$(last_written "$RUN" 2)"

# ---- corrupt checkpoint -> falls back to checkpoint.prev ----------------
flip_byte "$D/checkpoint" 200
start_node || exit 1
[ "$(jqs .checkpoint.restored)" = true ] && ok || bad "no fallback"
[ "$(jqs .checkpoint.source)" = checkpoint.prev ] && ok ||
  bad "source $(jqs .checkpoint.source)"
[ "$(jqs .checkpoint.tick)" = "$PREV_TICK" ] && ok ||
  bad "fallback tick $(jqs .checkpoint.tick), prev was $PREV_TICK"
[ "$(jqs .checkpoint.world_hash)" = "$PREV_HASH" ] && ok || bad "fallback hash"
[ "$(jqs .checkpoint.errors.checkpoint)" = checkpoint_checksum ] && ok ||
  bad "error $(jqs .checkpoint.errors.checkpoint)"
ls "$D"/checkpoint.bad-* >/dev/null 2>&1 && ok || bad "bad file not kept"
[ "$(jqs .entities)" = 8 ] && ok || bad "entities after fallback"
wait_for ".checkpoint.written >= 2"
stop_node

# ---- both corrupt -> fresh world, status says why ------------------------
flip_byte "$D/checkpoint" 300
flip_byte "$D/checkpoint.prev" 300
start_node || exit 1
[ "$(jqs .checkpoint.restored)" = false ] && ok || bad "restored a corrupt file"
[ "$(jqs .checkpoint.reason)" = checkpoint_checksum ] && ok ||
  bad "reason $(jqs .checkpoint.reason)"
[ "$(jqs '.checkpoint.bad_files | length')" = 2 ] && ok ||
  bad "bad_files $(jqs .checkpoint.bad_files)"
ls "$D"/checkpoint.prev.bad-* >/dev/null 2>&1 && ok || bad "prev not kept"
[ "$(ls "$D"/checkpoint.bad-* | wc -l)" -eq 2 ] && ok ||
  bad "first bad file overwritten: $(ls "$D")"
grep -q "no usable checkpoint" "$T/serve$RUN.err" && ok || bad "no error logged"
[ "$(jqs '.tick < 100')" = true ] && ok || bad "tick $(jqs .tick) not fresh"
wait_for ".entities == 8"
stop_node

# ---- checkpoint_ticks 0: none written, none restored ---------------------
echo '{"rate_hz": 100, "checkpoint_ticks": 0}' >"$T/config.json"
rm -f "$D"/checkpoint "$D"/checkpoint.prev
start_node || exit 1
[ "$(jqs .checkpoint.reason)" = checkpoints_off ] && ok ||
  bad "reason $(jqs .checkpoint.reason)"
wait_for ".tick > 30"
stop_node
[ ! -e "$D/checkpoint" ] && ok || bad "checkpoint written while off"

echo "test_checkpoint: $passes passed, $fails failed"
exit $((fails > 0))
