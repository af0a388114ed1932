#!/usr/bin/env bash
# test_patch_cli.sh — the patch pipeline through real processes: `gosr
# serve` with the pipeline, `gosr patch submit` of the sample patch until
# it is active at 100 %, the kill switch off (submission refused) and on
# with its audit trail, a second patch then `gosr patch rollback`, a
# SIGTERM restart with the emergency override `--patch-ingest off`, and the
# privileged + TOTP override (codes from Debian's oathtool), and `gosr
# patch generate` (ghost-tier patch_author) taken to active, and a SIGKILL
# in the middle of a rollout advanced by command (it resumes at its
# stage). Env: GOSR =
# path of the gosr binary. Design under test: docs/patch.md.
set -u

GOSR=${GOSR:?set GOSR to the gosr binary}
SRC=${GOSR_SOURCE_DIR:?set GOSR_SOURCE_DIR}/examples/patches/good
T=$(mktemp -d)
D=$T/node
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT


. "$(dirname "$0")/../lib.sh"


start_node() {
  "$GOSR" serve --data "$D" --trust "$T/root/key.pub" --admin 127.0.0.1:0 \
    --rate 200 --config "$T/config.json" "$@" >"$T/serve.out" 2>"$T/serve.err" &
  PID=$!
  wait_node "$D" "$T/serve.err"
}

stop_node() {
  kill -TERM "$PID"; wait "$PID" 2>/dev/null; PID=
}

# wait_active ID PCT — polls `gosr patch list` until ID is active at PCT.
wait_active() {
  for _ in $(seq 1 400); do
    "$GOSR" patch list --data "$D" --json >"$T/list" 2>/dev/null
    if [ "$(jq -r '.active' "$T/list")" = "$1" ] &&
      [ "$(jq -r '.rollout_pct' "$T/list")" = "$2" ]; then ok; return 0; fi
    sleep 0.05
  done
  bad "patch $1 never active at $2%"; cat "$T/list" >&2
}

# ---- keys, config, bundles -------------------------------------------------
dev_keys game,mod,patch
echo '{"patch": {"replay_ticks": 20, "canary_ticks": 20, "stage_ticks": 5}}' \
  >"$T/config.json"
expect 0 "$GOSR" pack "$SRC" --key "$T/dev" --cert "$T/dev.cert" --out "$T/p1.gmod"
# a privileged token and a TOTP secret, made before the node starts
expect 0 "$GOSR" killswitch setup --data "$D" --json
SECRET=$(jq -r .totp_secret "$T/out")

# ---- a good patch all the way to active ------------------------------------
start_node
expect 0 "$GOSR" patch submit "$T/p1.gmod" --data "$D" --json
P1=$(jq -r .id "$T/out")
wait_active "$P1" 100
expect 0 "$GOSR" patch status "$P1" --data "$D"
has "$T/out" "approved"
has "$T/out" "rollout 50% -> 100%"

# ---- kill switch off: nothing new gets in; on again ----------------------
expect 2 "$GOSR" killswitch off --data "$D"
expect 0 "$GOSR" killswitch off --reason "incident 7" --data "$D"
expect 0 "$GOSR" killswitch status --data "$D"
has "$T/out" "ai_patch_ingest_enabled: off"
has "$T/out" "incident 7"
mkdir -p "$T/p2src" && cp -r "$SRC/." "$T/p2src/"
sed -i "s/\"parent_patch_id\": null/\"parent_patch_id\": \"$P1\"/; s/\"version\": \"1.0.0\"/\"version\": \"1.1.0\"/" \
  "$T/p2src/gmod.json"
expect 0 "$GOSR" pack "$T/p2src" --key "$T/dev" --cert "$T/dev.cert" --out "$T/p2.gmod"
expect 1 "$GOSR" patch submit "$T/p2.gmod" --data "$D"
has "$T/err" "policy_ingest_disabled"
expect 0 "$GOSR" killswitch on --reason "incident closed" --data "$D" --json
[ "$(jq '.audit | length' "$T/out")" -ge 2 ] && ok || bad "audit trail too short"

# ---- second patch, then an operator rollback -------------------------------
expect 0 "$GOSR" patch submit "$T/p2.gmod" --data "$D" --json
P2=$(jq -r .id "$T/out")
wait_active "$P2" 100
expect 0 "$GOSR" patch rollback --reason "bad balance" --data "$D" --json
[ "$(jq -r .active "$T/out")" = "$P1" ] && ok || bad "rollback did not restore $P1"
expect 0 "$GOSR" patch status "$P2" --data "$D" --json
[ "$(jq -r .state "$T/out")" = "rolled_back" ] && ok || bad "p2 not rolled_back"
expect 1 "$GOSR" patch approve "$P2" --data "$D"
has "$T/err" "policy_not_awaiting"
expect 0 "$GOSR" ledger --data "$D"
has "$T/out" "patch.rolled_back"
has "$T/out" "patch.killswitch"

# ---- restart with the emergency override -----------------------------------
stop_node
start_node --patch-ingest off
expect 0 "$GOSR" killswitch status --data "$D" --json
[ "$(jq -r .ai_patch_ingest_enabled "$T/out")" = "false" ] && ok || bad "override at start ignored"
[ "$(jq -r '.audit[-1].actor' "$T/out")" = "config:override" ] && ok || bad "override not audited"
expect 0 "$GOSR" patch list --data "$D" --json
[ "$(jq -r .active "$T/out")" = "$P1" ] && ok || bad "active patch lost over restart"

# ---- privileged + TOTP override ---------------------------------------------
expect 1 "$GOSR" killswitch on --reason "x" --totp 123456 --data "$D"
has "$T/err" "role_insufficient"
CODE=$(oathtool --totp -b "$SECRET")
expect 0 "$GOSR" killswitch on --reason "override verified" --totp "$CODE" \
  --data "$D" --token "$D/admin-privileged.token" --json
[ "$(jq -r .ai_patch_ingest_enabled "$T/out")" = "true" ] && ok || bad "override failed"
[ "$(jq -r '.audit[-1].actor' "$T/out")" = "operator:privileged" ] && ok || bad "override actor"

# ---- gosr patch generate: ghost-tier patch_author -> pack -> submit ----------
expect 2 "$GOSR" patch generate --data "$D"
expect 0 "$GOSR" patch generate --goal "make cheese a little cheaper" \
  --key "$T/dev" --cert "$T/dev.cert" --data "$D" --json
P3=$(jq -r .id "$T/out")
wait_active "$P3" 100
expect 0 "$GOSR" patch status "$P3" --data "$D" --json
[ "$(jq -r .parent "$T/out")" = "$P1" ] && ok || bad "generated patch lineage"
stop_node

# ---- SIGKILL in the middle of a rollout advanced by command ---------------
D=$T/node2
echo '{"patch": {"replay_ticks": 20, "canary_ticks": 20, "stage_ticks": 4294967295}}' \
  >"$T/config.json"
start_node
expect 0 "$GOSR" patch submit "$T/p1.gmod" --data "$D" --json
Q1=$(jq -r .id "$T/out")
wait_active "$Q1" 1
expect 0 "$GOSR" patch advance --data "$D" --json
[ "$(jq -r .rollout_pct "$T/out")" = "10" ] && ok || bad "advance to 10%"
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
rm -f "$D/admin.json"
start_node
wait_active "$Q1" 10
expect 0 "$GOSR" patch advance --data "$D" --json
[ "$(jq -r .rollout_pct "$T/out")" = "50" ] && ok || bad "advance after restart"
stop_node

echo "patch cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
