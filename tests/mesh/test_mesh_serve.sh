#!/usr/bin/env bash
# test_mesh_serve.sh — the mesh inside real `gosr serve --listen` nodes (5
# processes on 127.0.0.1, each with its own OpenDHT runner): a module
# published on one node is pledged as a package and reaches RF=3; a node
# that never saw the bundle installs it from the mesh and runs it; forged
# packages (a head signed under an untrusted CA, files that are not the
# signed ones, a tree without a head) are refused with their reasons and
# nothing is recorded; every holder of an RF=2 package is killed and its
# install is refused as unavailable with no partial install (registry and
# ledger unchanged) while the RF=3 package heals on the survivors; SIGTERM
# stops the rest cleanly and removes DIR/mesh.json.
# Env: GOSR, GOSR_SOURCE_DIR. Design: docs/mesh.md ("Embedded in gosr
# serve"), docs/kernel.md ("Mesh packages"). MESH_MIB=N adds an N MiB asset
# to v1 (test_mesh_long.sh runs it with 256).
set -euo pipefail
: "${GOSR:?GOSR must point at the gosr binary}"
SRC=${GOSR_SOURCE_DIR:?set GOSR_SOURCE_DIR}/examples/mover
T=$(mktemp -d)
. "$(dirname "$0")/mesh_lib.sh"
BASE=$(pick_base 8)
addr() { echo "127.0.0.1:$((BASE + $1))"; }
BOOT=$(for i in 1 2 3 4 5; do printf '%s,' "$(addr $i)"; done)
BOOT=${BOOT%,}
declare -A PID ID

# ---- keys, bundles, config --------------------------------------------------
G() { "$GOSR" "$@"; }
G key new --out "$T/root" > /dev/null
G key new --out "$T/dev" > /dev/null
G key new --out "$T/stranger" > /dev/null
G cert issue --ca "$T/root" --key "$T/dev" --name dev --kinds game,mod \
  --out "$T/dev.cert" > /dev/null
G cert issue --ca "$T/stranger" --key "$T/dev" --name dev --kinds game,mod \
  --out "$T/bad.cert" > /dev/null
# v1 carries an asset of MESH_MIB MiB when set (test_mesh_long.sh: 256)
cp -r "$SRC/v1" "$T/v1"
if [ -n "${MESH_MIB:-}" ]; then
  mkdir -p "$T/v1/assets"
  head -c $((MESH_MIB << 20)) /dev/urandom > "$T/v1/assets/big.bin"
fi
G pack "$T/v1" --key "$T/dev" --cert "$T/dev.cert" --out "$T/m1.gmod" > /dev/null
G pack "$SRC/v2" --key "$T/dev" --cert "$T/dev.cert" --out "$T/m2.gmod" > /dev/null
LIMIT=$((60 + ${MESH_MIB:-0}))
stamp "bundles packed ($(stat -c %s "$T/m1.gmod") bytes for v1)"
G pack "$SRC/v2" --key "$T/dev" --cert "$T/bad.cert" --out "$T/untrusted.gmod" > /dev/null
cat > "$T/config.json" <<'EOF'
{"rate_hz": 20, "mesh": {"repair_ms": 500, "proof_ms": 800, "dead_ms": 8000}}
EOF

# start_node I: `gosr serve` on n I with the mesh on BASE+I.
start_node() {
  local i=$1
  GOSR_LOG=info "$GOSR" serve --data "$T/n$i" --trust "$T/root/key.pub" \
    --admin 127.0.0.1:0 --config "$T/config.json" --listen "$(addr "$i")" \
    --bootstrap "$BOOT" --json > "$T/n$i.out" 2> "$T/n$i.err" &
  PID[$i]=$!
  PIDS+=("$!")
  for _ in $(seq 1 100); do
    [ -s "$T/n$i/mesh.json" ] && [ -s "$T/n$i/admin.json" ] && break
    sleep 0.1
  done
  ID[$i]=$(jget 'd["node_id"]' < "$T/n$i/mesh.json") || fail "node $i did not start"
}
kill_node() { kill -9 "${PID[$1]}"; wait "${PID[$1]}" 2>/dev/null || true; }
alive() { kill -0 "${PID[$1]}" 2>/dev/null; }
mesh() { local i=$1; shift; G mesh "$@" --data "$T/n$i" --json; }
replicas() { mesh "$1" replicas "$2" | jget 'd["count"]'; }
holders() { mesh "$1" replicas "$2" | jget '" ".join(d["holders"])'; }
has_replicas() { [ "$(replicas "$1" "$2")" -ge "$3" ]; }
links_up() { [ "$(mesh "$1" status | jget 'd["links_up"]')" -ge "$2" ]; }
idx_of() {
  for k in "${!ID[@]}"; do if [ "${ID[$k]}" = "$1" ]; then echo "$k"; fi; done
}
# non_holder PKG [EXCEPT]: a live node that does not hold PKG.
non_holder() {
  local hs; hs=" $(holders "$VIEW" "$1") "
  for i in 1 2 3 4 5; do
    alive "$i" || continue
    [ "$i" = "${2:-}" ] && continue
    [[ $hs == *" ${ID[$i]} "* ]] || { echo "$i"; return 0; }
  done
  return 1
}
versions_of() { G modules --data "$T/n$1" --json | jget '[v["version"] for m in d["modules"] for v in m["versions"]]'; }
ledger_count() { G ledger --data "$T/n$1" --json | jget 'd["count"]'; }

# ---- usage: mesh flags need --listen -----------------------------------------
if G serve --data "$T/x" --trust "$T/root/key.pub" --bootstrap "$BOOT" 2> "$T/err"; then
  fail "--bootstrap without --listen accepted"
fi
grep -q "need --listen" "$T/err" || fail "usage message: $(cat "$T/err")"

for i in 1 2 3 4 5; do start_node "$i"; done
wait_until 60 links_up 1 4 || fail "node 1 did not link to the 4 others"
stamp "5 serve nodes up and linked"

# a second node on a taken mesh port fails with its reason
if G serve --data "$T/dup" --trust "$T/root/key.pub" --admin 127.0.0.1:0 \
  --listen "$(addr 1)" --json > "$T/dup.out" 2>&1; then
  fail "second node on a taken mesh port started"
fi
grep -q listen_failed "$T/dup.out" || fail "taken port: $(cat "$T/dup.out")"

# ---- 1. publish on node 1: package pledged, RF=3 ------------------------------
G publish "$T/m1.gmod" --data "$T/n1" --json > "$T/pub1" || fail "publish v1: $(cat "$T/pub1")"
P1=$(jget 'd["package"]' < "$T/pub1")
stamp "mover@1.0.0 published on node 1"
ROOT1=$(jget 'd["root"]' < "$T/pub1")
[ "$(jget 'd["pledged"]' < "$T/pub1")" = True ] || fail "v1 not pledged: $(cat "$T/pub1")"
[[ $P1 =~ ^[0-9a-f]{64}$ ]] || fail "no package id"
wait_until $LIMIT has_replicas 1 "$P1" 3 || fail "package not at RF=3"
stamp "ok: package of mover@1.0.0 at RF=3"

# ---- 2. a node that never saw the bundle installs it from the mesh -----------
VIEW=1
X=$(non_holder "$P1") || fail "every node holds the package (RF=3 of 5?)"
G install "$P1" --activate --data "$T/n$X" --json > "$T/inst1" || fail "install on $X: $(cat "$T/inst1")"
[ "$(jget 'd["root"]' < "$T/inst1")" = "$ROOT1" ] || fail "installed root differs"
G modules --data "$T/n$X" --json | jget 'd["modules"][0]["active"]' | grep -qx 1.0.0 ||
  fail "mover not active on node $X"
entities() { [ "$(G status --data "$T/n$X" --json | jget 'd["entities"]')" = 8 ]; }
wait_until 20 entities || fail "installed module does not run on node $X"
has_replicas 1 "$P1" 4 || wait_until 20 has_replicas 1 "$P1" 4 || fail "installer not a holder"
stamp "ok: node $X installed mover@1.0.0 from the mesh and runs it"

# ---- 3. forged packages are refused, nothing recorded -------------------------
# (a) the files of v2 with the signed head of a bundle under an untrusted CA
head_of() { python3 - "$1" "$2" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
ilen, slen = struct.unpack_from("<II", b, 16)
open(sys.argv[2], "wb").write(b[:64 + ilen + slen])
PY
}
forge() { # forge NAME BUNDLE_FOR_FILES BUNDLE_FOR_HEAD -> package id
  G unpack "$2" --out "$T/$1" --no-verify > /dev/null
  mkdir -p "$T/$1/.gosr"
  head_of "$3" "$T/$1/.gosr/bundle-head"
  mesh 1 publish "$T/$1" --rf 1 | jget 'd["id"]'
}
BEFORE=$(versions_of "$X"); LEDGER=$(ledger_count "$X")
expect_refused() { # PKG REASON
  if G install "$1" --data "$T/n$X" --json --wait 5000 > "$T/ref"; then
    fail "forged package $1 installed"
  fi
  [ "$(jget 'd["reason"]' < "$T/ref")" = "$2" ] || fail "reason: $(cat "$T/ref"), want $2"
}
F1=$(forge forged1 "$T/m2.gmod" "$T/untrusted.gmod")
expect_refused "$F1" cert_untrusted_issuer
# (b) the trusted head of v1 over the files of v2
F2=$(forge forged2 "$T/m2.gmod" "$T/m1.gmod")
expect_refused "$F2" package_root_mismatch
# (c) a plain tree: no head at all
mkdir -p "$T/plain" && echo data > "$T/plain/f"
F3=$(mesh 1 publish "$T/plain" --rf 1 | jget 'd["id"]')
expect_refused "$F3" package_no_head
[ "$(versions_of "$X")" = "$BEFORE" ] || fail "a forged package was recorded"
for f in "$F1" "$F2" "$F3"; do # RF=1 on node 1: fetched by X, refused, not held
  [ "$(mesh "$X" status | jget "any(r['id']=='$f' for r in d['roots'])")" = False ] ||
    fail "node $X holds the refused package $f"
done
# the installed package is held (served) by the installer
[ "$(mesh "$X" status | jget "any(r['id']=='$P1' for r in d['roots'])")" = True ] ||
  fail "node $X does not hold the package it installed"
[ "$(ledger_count "$X")" = "$LEDGER" ] || fail "the ledger moved"
stamp "ok: forged packages refused (cert_untrusted_issuer, package_root_mismatch, package_no_head)"

# ---- 4. kill every holder of an RF=2 package: unavailable, nothing installed --
G publish "$T/m2.gmod" --rf 2 --data "$T/n1" --json > "$T/pub2" || fail "publish v2"
P2=$(jget 'd["package"]' < "$T/pub2")
wait_until 60 has_replicas 1 "$P2" 2 || fail "v2 package not at RF=2"
Y=$(non_holder "$P2" 1) || fail "no live non-holder of the RF=2 package"
wait_until 30 has_replicas "$Y" "$P2" 2 || fail "node $Y does not see the holders"
VIEW=$Y
for h in $(holders "$Y" "$P2"); do kill_node "$(idx_of "$h")"; done
stamp "holders of the v2 package killed; asking node $Y"
BEFORE=$(versions_of "$Y"); LEDGER=$(ledger_count "$Y")
if G install "$P2" --activate --wait 3000 --data "$T/n$Y" --json > "$T/inst2"; then
  fail "install of an unavailable package succeeded"
fi
[ "$(jget 'd["reason"]' < "$T/inst2")" = module_unavailable ] || fail "reason: $(cat "$T/inst2")"
[ "$(versions_of "$Y")" = "$BEFORE" ] || fail "partial install: a version was recorded"
[ "$(ledger_count "$Y")" = "$LEDGER" ] || fail "partial install: the ledger moved"
[ "$(mesh "$Y" replicas "$P2" | jget 'd["available"]')" = False ] || fail "v2 still reported available"
stamp "ok: every holder killed -> unavailable, install refused, nothing recorded"

# ---- 5. the RF=3 package heals on the survivors --------------------------------
LIVE=0
for i in 1 2 3 4 5; do alive "$i" && LIVE=$((LIVE + 1)); done
WANT=$((LIVE < 3 ? LIVE : 3))
wait_until $LIMIT has_replicas "$Y" "$P1" "$WANT" || fail "v1 package not back at $WANT replicas"
stamp "ok: v1 package at $(replicas "$Y" "$P1") replicas on $LIVE live nodes"

# ---- 6. SIGTERM: clean exit, DIR/mesh.json removed ----------------------------
for i in 1 2 3 4 5; do
  alive "$i" || continue
  kill -TERM "${PID[$i]}"
  wait "${PID[$i]}" || fail "node $i did not exit cleanly"
  [ ! -e "$T/n$i/mesh.json" ] || fail "node $i left mesh.json"
done
echo "ok: mesh in gosr serve"
