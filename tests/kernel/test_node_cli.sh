#!/usr/bin/env bash
# test_node_cli.sh — the issue's done-when, end to end through real
# processes: `gosr serve` on a fresh directory, publish v1 of
# examples/mover, hot swap to v2, v3 that faults in probation is rolled back
# to v2 automatically, the ledger shows it and verifies, bad requests get
# 4xx and change nothing, SIGTERM stops cleanly and a restart comes back
# with the same active version, and SIGKILL at random points during swaps
# always leaves exactly one active version matching a valid ledger chain.
# Env: GOSR = path of the gosr binary. Design under test: docs/kernel.md.
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
    --rate 100 --quarantine 10 >"$T/serve.out" 2>"$T/serve.err" &
  PID=$!
  wait_node "$D" "$T/serve.err"
}

# wait_status KEY VALUE — polls `gosr status --json` until "KEY":VALUE.
wait_status() {
  for _ in $(seq 1 200); do
    "$GOSR" status --data "$D" --json >"$T/st" 2>/dev/null
    if grep -qF "\"$1\":$2" "$T/st"; then ok; return 0; fi
    sleep 0.05
  done
  bad "status never had \"$1\":$2"; cat "$T/st" >&2
}

# The version the ledger says is active (last activate/rollback row).
ledger_active() {
  "$GOSR" ledger --data "$D" 2>/dev/null |
    awk '($3=="activate"||$3=="rollback") && $4=="mover" {v=$5} END {print v}'
}

# ---- keys and bundles ---------------------------------------------------
expect 0 "$GOSR" key new --out "$T/root"
expect 0 "$GOSR" key new --out "$T/dev"
expect 0 "$GOSR" key new --out "$T/stranger"
expect 0 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name dev \
  --kinds game,mod --out "$T/dev.cert"
expect 0 "$GOSR" cert issue --ca "$T/stranger" --key "$T/dev" --name dev \
  --kinds game,mod --out "$T/bad.cert"
for v in 1 2 3; do
  expect 0 "$GOSR" pack "$SRC/v$v" --key "$T/dev" --cert "$T/dev.cert" \
    --out "$T/m$v.gmod"
done
expect 0 "$GOSR" pack "$SRC/v2" --key "$T/dev" --cert "$T/bad.cert" \
  --out "$T/untrusted.gmod"

# ---- usage errors -------------------------------------------------------
expect 2 "$GOSR" serve --data "$D"
expect 2 "$GOSR" activate mover --data "$D"
expect 2 "$GOSR" modules
expect 1 "$GOSR" status --data "$D" # not running

# ---- publish, swap, automatic rollback ----------------------------------
start_node || exit 1
expect 0 "$GOSR" publish "$T/m1.gmod" --activate --data "$D"
has "$T/out" "mover@1.0.0"
expect 0 "$GOSR" modules --data "$D"
has "$T/out" "mover  active 1.0.0"
wait_status entities 8
expect 0 "$GOSR" publish "$T/m2.gmod" --data "$D" --json
has "$T/out" '"activated":false'
expect 0 "$GOSR" modules --data "$D" --json
has "$T/out" '"active":"1.0.0"'
expect 0 "$GOSR" activate mover@2.0.0 --data "$D"
has "$T/out" "mover now at 2.0.0"
wait_status retires 1
expect 0 "$GOSR" publish "$T/m3.gmod" --activate --data "$D"
wait_status rollbacks 1
expect 0 "$GOSR" modules --data "$D"
has "$T/out" "mover  active 2.0.0  (running)"
expect 0 "$GOSR" ledger --verify --data "$D"
has "$T/out" "activate mover 3.0.0"
has "$T/out" "rollback mover 2.0.0 by kernel: fault during probation"
has "$T/out" "broken on its third tick"
has "$T/out" "ledger intact: 5 rows"
expect 0 "$GOSR" ledger --verify --data "$D" --json
has "$T/out" '"intact":true'
"$GOSR" status --data "$D" --json >"$T/st"
has "$T/st" '"safe_mode":false'

# ---- bad requests: 4xx, nothing changes ----------------------------------
expect 1 "$GOSR" activate mover@9.9.9 --data "$D" --json
has "$T/out" '"reason":"version_unknown"'
expect 3 "$GOSR" publish "$T/untrusted.gmod" --data "$D" --json
has "$T/out" '"ok":false'
printf 'not a bundle' >"$T/junk.gmod"
expect 1 "$GOSR" publish "$T/junk.gmod" --data "$D" --json
has "$T/out" '"ok":false'
expect 1 "$GOSR" activate mover@2.0.0 --data "$D" --json
has "$T/out" '"reason":"already_active"'
expect 0 "$GOSR" modules --data "$D"
has "$T/out" "mover  active 2.0.0"
has "$T/out" "versions: 1.0.0 2.0.0 3.0.0"
expect 0 "$GOSR" ledger --verify --data "$D"
has "$T/out" "ledger intact: 5 rows"
if command -v curl >/dev/null; then
  url=$(sed -n 's/.*"url" *: *"\([^"]*\)".*/\1/p' "$D/admin.json")
  curl -s -H "Authorization: Bearer $(tr -d '\n' <"$D/admin.token")" \
    "$url/metrics" >"$T/metrics"
  has "$T/metrics" "gosr_tick_seconds_bucket"
  has "$T/metrics" 'gosr_module_script_seconds_count{module="mover"}'
  has "$T/metrics" "gosr_swaps_total 3"
  has "$T/metrics" "gosr_rollbacks_total 1"
  has "$T/metrics" "gosr_faults_total 1"
  auth="Authorization: Bearer $(tr -d '\n' <"$D/admin.token")"
  code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$auth" -X POST \
    -d '{"version": 5}' "$url/v1/modules/mover/activate")
  [ "$code" = 400 ] && ok || bad "numeric version: HTTP $code"
  code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$auth" -X POST \
    -d '{not json' "$url/v1/modules/mover/activate")
  [ "$code" = 400 ] && ok || bad "bad JSON: HTTP $code"
  code=$(curl -s -o "$T/body" -w '%{http_code}' -X GET "$url/v1/modules")
  [ "$code" = 401 ] && ok || bad "no token: HTTP $code"
  code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$auth" -X POST \
    "$url/v1/modules")
  [ "${code:0:1}" = 4 ] && ok || bad "empty upload: HTTP $code"
  code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$auth" -X POST \
    -d '{"name":"game:player_joined:v1:completed","user":"ada"}' \
    "$url/v1/events")
  [ "$code" = 202 ] && ok || bad "input event: HTTP $code"
  code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$auth" -X POST \
    -d '{"name":"Not An Event"}' "$url/v1/events")
  [ "$code" = 400 ] && ok || bad "bad event name: HTTP $code"
fi

# ---- SIGTERM: clean stop, same active version after restart --------------
kill -TERM $PID
wait $PID
code=$?
PID=
[ "$code" -eq 0 ] && ok || bad "serve exited $code after SIGTERM"
[ ! -e "$D/admin.json" ] && ok || bad "admin.json left after SIGTERM"
# every published version is pinned: gc keeps what the restart loads
expect 0 "$GOSR" store ls --store "$D/store"
has "$T/out" "module/mover@2.0.0"
has "$T/out" "package/mover@3.0.0"
expect 0 "$GOSR" store gc --store "$D/store"
start_node || exit 1
expect 0 "$GOSR" modules --data "$D"
has "$T/out" "mover  active 2.0.0"
expect 0 "$GOSR" activate mover@1.0.0 --data "$D"

# ---- SIGKILL at random points during swaps --------------------------------
for round in 1 2 3 4 5 6; do
  if [ $((round % 2)) -eq 1 ]; then want=1.0.0; else want=2.0.0; fi
  "$GOSR" activate mover@$want --data "$D" >/dev/null 2>&1 &
  cli=$!
  sleep "0.0$((RANDOM % 10))"
  kill -9 $PID
  wait $PID 2>/dev/null
  PID=
  wait $cli 2>/dev/null
  expect 0 "$GOSR" ledger --verify --data "$D"
  has "$T/out" "ledger intact"
  before=$(ledger_active)
  start_node || exit 1
  expect 0 "$GOSR" modules --data "$D" --json
  n=$(grep -o '"active":"[0-9.]*"' "$T/out" | wc -l)
  [ "$n" -eq 1 ] && ok || bad "round $round: $n active versions"
  has "$T/out" "\"active\":\"$before\""
  # let any probation finish so the next round can swap
  wait_status swap_in_progress false
done
expect 0 "$GOSR" ledger --verify --data "$D"
has "$T/out" "ledger intact"
kill -TERM $PID
wait $PID
PID=

# ---- --config ------------------------------------------------------------
printf '{"rate_hz": 50, "quarantine_ticks": 7, "admin": "127.0.0.1:0"}' \
  >"$T/node.json"
"$GOSR" serve --data "$D" --trust "$T/root/key.pub" --config "$T/node.json" \
  >"$T/serve.out" 2>"$T/serve.err" &
PID=$!
wait_status rate_hz 50
expect 0 "$GOSR" modules --data "$D"
has "$T/out" "mover  active"
kill -TERM $PID
wait $PID
PID=
printf '{"rate_hz": ' >"$T/broken.json"
expect 2 "$GOSR" serve --data "$D" --trust "$T/root/key.pub" \
  --config "$T/broken.json"

echo "test_node_cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
