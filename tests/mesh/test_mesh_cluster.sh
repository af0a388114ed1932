#!/usr/bin/env bash
# test_mesh_cluster.sh — the mesh end to end with real node processes on
# 127.0.0.1 (each with its own OpenDHT runner): 5 nodes; a 4 MiB module
# published on one reaches RF=3; two holders killed -> back at RF=3; a
# non-holder fetches it byte-exact; a root pledged at RF=2 whose holders are
# all killed is reported unavailable and nothing is written (no partial
# install); a node started with the test-only fault flag `--fault corrupt`
# is detected (bad chunks, banned) and avoided while the fetch still
# succeeds; a node with `--fault drop` fails its storage proof and the root
# is re-replicated elsewhere; Debian's `dhtnode` (a third-party OpenDHT
# client) reads the provider records. Every process started here is killed
# and reaped on exit, pass or fail. Design: docs/mesh.md ("Tests").
set -euo pipefail
: "${GOSR:?GOSR must point at the gosr binary}"
T=$(mktemp -d)
[ -n "${MESH_KEEP:-}" ] && echo "tmp: $T"
. "$(dirname "$0")/mesh_lib.sh"
BASE=$(pick_base 12)
addr() { echo "127.0.0.1:$((BASE + $1))"; }
# every node's DHT port: a node started late must reach whoever is alive
BOOT=$(for i in 1 2 3 4 5 6 7 8 9 10; do printf '%s,' "$(addr $i)"; done)
BOOT=${BOOT%,}
declare -A PID ID

# start_node I [extra args...]: node I with data dir n I, bootstrapped to 1.
start_node() {
  local i=$1; shift
  GOSR_LOG=info "$GOSR" mesh node --data "$T/n$i" --listen "$(addr "$i")" \
    --bootstrap "$BOOT" --proof-ms 800 --repair-ms 500 --dead-ms 8000 "$@" \
    > "$T/n$i.out" 2> "$T/n$i.err" &
  PID[$i]=$!
  PIDS+=("$!")
  for _ in $(seq 1 100); do
    [ -s "$T/n$i.out" ] && break
    sleep 0.1
  done
  ID[$i]=$(jget 'd["node_id"]' < "$T/n$i.out") || fail "node $i did not start"
}
kill_node() { kill -9 "${PID[$1]}"; wait "${PID[$1]}" 2>/dev/null || true; }
ctl() { local i=$1; shift; "$GOSR" mesh "$@" --node "$(addr "$i")" --json; }
replicas() { ctl "$1" replicas "$2" | jget 'd["count"]'; }
holders() { ctl "$1" replicas "$2" | jget '" ".join(d["holders"])'; }
idx_of() {
  for k in "${!ID[@]}"; do if [ "${ID[$k]}" = "$1" ]; then echo "$k"; fi; done
}

has_replicas() { [ "$(replicas "$1" "$2")" -ge "$3" ]; }
links_up() { [ "$(ctl "$1" status | jget 'd["links_up"]')" -ge "$2" ]; }

for i in 1 2 3 4 5; do start_node "$i"; done
wait_until 60 links_up 1 4 || fail "node 1 did not link to the 4 others"

# ---- 1. publish a module (4 MiB, or MESH_MIB), RF=3 -------------------------
head -c $((${MESH_MIB:-4} << 20)) /dev/urandom > "$T/mod1.bin"
R1=$(ctl 1 publish "$T/mod1.bin" | jget 'd["id"]')
[[ $R1 =~ ^[0-9a-f]{64}$ ]] || fail "publish did not return an id"
LIMIT=$((60 + ${MESH_MIB:-4}))
wait_until $LIMIT has_replicas 1 "$R1" 3 || fail "RF=3 not reached"
echo "[$SECONDS s] ok: RF=3 reached"

# ---- 2. kill two holders (not the publisher): healed to RF=3 ------------------
KILLED=()
for h in $(holders 1 "$R1"); do
  k=$(idx_of "$h")
  if [ "$k" != 1 ] && [ ${#KILLED[@]} -lt 2 ]; then KILLED+=("$k"); fi
done
[ ${#KILLED[@]} -eq 2 ] || fail "expected two holders besides the publisher"
for k in "${KILLED[@]}"; do kill_node "$k"; done
wait_until $LIMIT has_replicas 1 "$R1" 3 || fail "not healed back to RF=3"
for h in $(holders 1 "$R1"); do
  for k in "${KILLED[@]}"; do
    if [ "$h" = "${ID[$k]}" ]; then fail "dead holder counted"; fi
  done
done
echo "[$SECONDS s] ok: healed to RF=3 after killing nodes ${KILLED[*]}"
LIVE=()
for i in 1 2 3 4 5; do
  [[ " ${KILLED[*]} " == *" $i "* ]] || LIVE+=("$i")
done

# ---- 3. fetch from a live node, byte-exact ---------------------------------
ctl "${LIVE[1]}" fetch "$R1" --out "$T/got1.bin" > /dev/null || fail "fetch failed"
cmp -s "$T/mod1.bin" "$T/got1.bin" || fail "fetched bytes differ"
echo "[$SECONDS s] ok: fetch byte-exact"

# ---- 4. Debian's dhtnode reads the provider records --------------------------
KEY=$("$GOSR" mesh key "$R1")
DHT_OUT=$( (sleep 2; echo "g $KEY"; sleep 3; echo "x") |
  timeout 20 dhtnode -p $((BASE + 11)) -b "$(addr "${LIVE[1]}")" 2>&1 || true)
python3 - "$R1" <<EOF || fail "dhtnode did not see a provider record"
import re, sys
root = sys.argv[1]
vals = re.findall(r"data\(gosr-mesh\):([0-9a-f]+)", """$DHT_OUT""")
texts = [bytes.fromhex(v).decode() for v in vals]
assert any(t.startswith("gosr-mesh/1 provider " + root) for t in texts), texts
EOF
echo "[$SECONDS s] ok: dhtnode sees provider records"

# ---- 5. kill every holder of an RF=2 root: unavailable, nothing written -------
head -c $((2 << 20)) /dev/urandom > "$T/mod2.bin"
R2=$(ctl "${LIVE[2]}" publish "$T/mod2.bin" --rf 2 | jget 'd["id"]')
stamp "mod2 published"
wait_until 60 has_replicas "${LIVE[2]}" "$R2" 2 || fail "RF=2 not reached"
stamp "mod2 at RF=2"
OTHER=""
for i in "${LIVE[@]}"; do
  if [[ " $(holders "${LIVE[2]}" "$R2") " != *" ${ID[$i]} "* ]]; then OTHER=$i; fi
done
[ -n "$OTHER" ] || fail "no live non-holder for the RF=2 root"
wait_until 30 has_replicas "$OTHER" "$R2" 2 || fail "non-holder does not see holders"
for h in $(holders "${LIVE[2]}" "$R2"); do kill_node "$(idx_of "$h")"; done
stamp "mod2 holders killed"
if J=$(ctl "$OTHER" fetch "$R2" --out "$T/got2.bin" --timeout 3000 --json); then
  fail "fetch of an unavailable root succeeded"
fi
[ "$(echo "$J" | jget 'd["reason"]')" = unavailable ] || fail "reason: $J"
[ ! -e "$T/got2.bin" ] || fail "partial install: output exists"
[ "$(replicas "$OTHER" "$R2")" = 0 ] || fail "replicas of dead root not 0"
echo "[$SECONDS s] ok: unavailable root refused, nothing written"

# ---- 6. a corrupting peer is detected and avoided --------------------------------
start_node 6 --fault corrupt
start_node 7
start_node 8
stamp "nodes 6-8 started"
head -c $((16 << 20)) /dev/urandom > "$T/mod3.bin"
R3=$(ctl 6 publish "$T/mod3.bin" --rf 1 | jget 'd["id"]')
ctl 7 publish "$T/mod3.bin" --rf 1 > /dev/null
stamp "mod3 published twice"
# (node 8 may already have met node 6's corruption while repairing mod1 and
# banned it; then node 6 is not counted and the fetch avoids it outright)
# The fetch must be able to reach the corrupt holder: wait until node 8
# knows both holders, unless it has banned node 6 already. (Fetching as soon
# as one holder is known let it take every chunk from honest node 7 alone.)
banned_by_8() {
  [ "$(ctl 8 peers | jget "[p['banned'] for p in d['peers'] if p['id']=='${ID[6]}'][0]" 2>/dev/null)" = True ]
}
both_holders_or_banned() { has_replicas 8 "$R3" 2 || banned_by_8; }
wait_until 30 both_holders_or_banned || fail "fetcher does not see both holders"
stamp "fetcher sees the holders"
ctl 8 fetch "$R3" --out "$T/got3.bin" > /dev/null || fail "fetch with a corrupt peer failed"
cmp -s "$T/mod3.bin" "$T/got3.bin" || fail "corrupt bytes were installed"
BAD=$(ctl 8 peers | jget "[p['bad_chunks'] for p in d['peers'] if p['id']=='${ID[6]}'][0]")
[ "$BAD" -ge 1 ] || fail "corrupt peer not detected"
# Chunks go to whichever holder has fewer in flight, so how many the
# corrupt one served before its ban varies; at 3 bad chunks it is banned.
BANNED=$(ctl 8 peers | jget "[p['banned'] for p in d['peers'] if p['id']=='${ID[6]}'][0]")
if [ "$BAD" -ge 3 ] && [ "$BANNED" != True ]; then fail "corrupt peer not banned after $BAD bad chunks"; fi
GOODBAD=$(ctl 8 peers | jget "[p['bad_chunks'] for p in d['peers'] if p['id']=='${ID[7]}'][0]")
[ "$GOODBAD" = 0 ] || fail "honest peer blamed"
echo "[$SECONDS s] ok: corrupt peer detected ($BAD bad chunks, banned: $BANNED), fetch byte-exact"

# ---- 7. a peer that dropped a chunk fails its proof; root re-replicated ------------
kill_node 6
start_node 9 --fault drop
head -c $((3 << 20)) /dev/urandom > "$T/mod4.bin"
R4=$(ctl 7 publish "$T/mod4.bin" --rf 2 | jget 'd["id"]')
stamp "mod4 published"
ctl 9 fetch "$R4" > /dev/null || fail "drop node could not fetch"
stamp "mod4 on the drop node"
proof_failed() {
  [ "$(ctl 7 peers | jget "[p['proofs_failed'] for p in d['peers'] if p['id']=='${ID[9]}'][0]")" -ge 1 ]
}
wait_until 60 proof_failed || fail "dropped chunk not caught by a proof"
stamp "proof failed"
healed_without_9() {
  local hs; hs=$(holders 7 "$R4")
  [[ " $hs " != *" ${ID[9]} "* ]] && [ "$(replicas 7 "$R4")" -ge 2 ]
}
wait_until 60 healed_without_9 || fail "not re-replicated after failed proof"
echo "[$SECONDS s] ok: failed proof detected and root re-replicated"

# ---- 7b. a hung holder (SIGSTOP: silent, socket still open) is detected by
# the heartbeat and replaced ------------------------------------------------
X=""
for h in $(holders 7 "$R4"); do
  k=$(idx_of "$h")
  if [ "$k" != 7 ]; then X=$k; fi
done
[ -n "$X" ] || fail "no second holder of mod4"
kill -STOP "${PID[$X]}"
stamp "node $X stopped (SIGSTOP)"
replaced_x() {
  local hs; hs=$(holders 7 "$R4")
  [[ " $hs " != *" ${ID[$X]} "* ]] && [ "$(replicas 7 "$R4")" -ge 2 ]
}
wait_until 60 replaced_x || { kill -CONT "${PID[$X]}"; fail "hung holder not replaced"; }
kill -CONT "${PID[$X]}"
echo "[$SECONDS s] ok: hung holder (node $X) dropped by heartbeat and replaced"

# ---- 8. kill every holder of the first module: unavailable, nothing written --
alive() { kill -0 "${PID[$1]}" 2>/dev/null; }
VIEW=7
for h in $(holders "$VIEW" "$R1"); do
  k=$(idx_of "$h")
  if [ "$k" = "$VIEW" ]; then VIEW=8; fi
done
for h in $(holders "$VIEW" "$R1"); do kill_node "$(idx_of "$h")"; done
holds_r1() { ctl "$1" status | jget "any(r['id']=='$R1' for r in d['roots'])" | grep -q True; }
# node 9 (fault drop) may hold mod1 without being counted after failed
# proofs: every node that holds it goes, whatever the view said
for i in "${!PID[@]}"; do
  if alive "$i" && holds_r1 "$i"; then kill_node "$i"; fi
done
ASK=""
for i in "${!PID[@]}"; do
  if alive "$i" && ! holds_r1 "$i"; then ASK=$i; fi
done
if [ -z "$ASK" ]; then start_node 10; ASK=10; fi
stamp "holders of mod1 killed; asking node $ASK"
if J=$(ctl "$ASK" fetch "$R1" --out "$T/got1b.bin" --timeout 3000 --json); then
  fail "fetch of the dead module succeeded"
fi
[ "$(echo "$J" | jget 'd["reason"]')" = unavailable ] || fail "reason: $J"
[ ! -e "$T/got1b.bin" ] || fail "partial install of the dead module"
echo "[$SECONDS s] ok: every holder of mod1 killed -> unavailable, nothing written"

# ---- 9. clean shutdown (SIGTERM -> exit 0, no leaks under ASan) -----------------
for i in "${!PID[@]}"; do
  kill -0 "${PID[$i]}" 2>/dev/null || continue
  kill -TERM "${PID[$i]}"
  if ! wait "${PID[$i]}"; then fail "node $i did not exit cleanly"; fi
done
echo "PASS"
