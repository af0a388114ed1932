#!/usr/bin/env bash
# test_pack_cli.sh — end-to-end test of `gosr pack`, `verify`, `inspect` and
# `unpack` through the real binary on examples/hello: deterministic pack,
# verify with and without --json, every rejection a user can provoke from
# the command line (untrusted root, revoked, expired, wrong kind, tampered,
# truncated, bad gmod.json), unpack refusing unverified input, and the exit
# codes 0 (ok), 1 (failure), 2 (usage), 3 (rejected).
# Env: GOSR = path of the gosr binary. Design under test: docs/gmod.md.
set -u

GOSR=${GOSR:?set GOSR to the gosr binary}
SRC=${GOSR_SOURCE_DIR:?set GOSR_SOURCE_DIR}/examples/hello
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# expect CODE CMD... — runs the command and checks its exit code; output
# lands in $T/out and $T/err.
. "$(dirname "$0")/../lib.sh"


# rejected REASON CMD... — exit 3 and {"ok":false,"reason":REASON} on stdout.
rejected() {
  local reason=$1
  shift
  expect 3 "$@" --json
  has "$T/out" '"ok":false'
  has "$T/out" "\"reason\":\"$reason\""
}

# ---- keys and certificates ------------------------------------------------
expect 0 "$GOSR" key new --out "$T/root"
expect 0 "$GOSR" key new --out "$T/dev"
expect 0 "$GOSR" key new --out "$T/stranger"
expect 0 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name dev \
  --kinds game,mod --out "$T/dev.cert"
expect 0 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name dev \
  --kinds patch --out "$T/patch-only.cert"

# ---- pack: deterministic ----------------------------------------------------
expect 0 "$GOSR" pack "$SRC" --key "$T/dev" --cert "$T/dev.cert" \
  --out "$T/hello.gmod"
has "$T/out" "hello@0.1.0 (game)"
expect 0 "$GOSR" pack "$SRC" --key "$T/dev" --cert "$T/dev.cert" \
  --out "$T/again.gmod" --json
has "$T/out" '"ok":true'
has "$T/out" '"id":"hello"'
if cmp -s "$T/hello.gmod" "$T/again.gmod"; then passes=$((passes + 1)); else
  echo "FAIL: two packs differ" >&2; fails=$((fails + 1)); fi
expect 2 "$GOSR" pack "$SRC" --key "$T/dev" --out "$T/x.gmod"
expect 2 "$GOSR" pack "$SRC" --key "$T/dev" --cert "$T/dev.cert" \
  --out "$T/x.gmod" --bogus
expect 1 "$GOSR" pack "$T/nowhere" --key "$T/dev" --cert "$T/dev.cert" \
  --out "$T/x.gmod"
mkdir -p "$T/badsrc"
cp -r "$SRC/." "$T/badsrc/"
sed 's/"kind": "game"/"kind": "game", "colour": "red"/' "$SRC/gmod.json" \
  >"$T/badsrc/gmod.json"
rejected manifest_unknown_field "$GOSR" pack "$T/badsrc" --key "$T/dev" \
  --cert "$T/dev.cert" --out "$T/x.gmod"
has "$T/out" '$.colour'

# ---- verify ----------------------------------------------------------------
expect 0 "$GOSR" verify "$T/hello.gmod" --trust "$T/root/key.pub"
has "$T/out" "ok: hello@0.1.0 (game) signed by dev"
expect 0 "$GOSR" verify "$T/hello.gmod" --trust "$T/root/key.pub" --json
has "$T/out" '"ok":true'
has "$T/out" '"kind":"game"'
expect 2 "$GOSR" verify "$T/hello.gmod"
expect 2 "$GOSR" verify --trust "$T/root/key.pub"
expect 2 "$GOSR" verify "$T/hello.gmod" --trust "$T/root/key.pub" --at never
expect 1 "$GOSR" verify "$T/missing.gmod" --trust "$T/root/key.pub"
rejected cert_untrusted_issuer "$GOSR" verify "$T/hello.gmod" \
  --trust "$T/stranger/key.pub"
rejected cert_expired "$GOSR" verify "$T/hello.gmod" \
  --trust "$T/root/key.pub" --at 2040-01-01T00:00:00Z
rejected cert_not_yet_valid "$GOSR" verify "$T/hello.gmod" \
  --trust "$T/root/key.pub" --at 2000-01-01T00:00:00Z
expect 0 "$GOSR" cert revoke --ca "$T/root" --cert "$T/dev.cert" \
  --out "$T/revoked.list"
rejected cert_revoked "$GOSR" verify "$T/hello.gmod" \
  --trust "$T/root/key.pub" --revoked "$T/revoked.list"
expect 0 "$GOSR" pack "$SRC" --key "$T/dev" --cert "$T/patch-only.cert" \
  --out "$T/wrongkind.gmod"
rejected cert_kind_not_allowed "$GOSR" verify "$T/wrongkind.gmod" \
  --trust "$T/root/key.pub"

# tampering: a byte in the header magic, the manifest, the last chunk
size=$(stat -c %s "$T/hello.gmod")
flip() { # flip FILE OFFSET OUT
  cp "$1" "$3"
  printf '\xff' | dd of="$3" bs=1 seek="$2" conv=notrunc status=none
}
flip "$T/hello.gmod" 0 "$T/t0.gmod"
rejected bundle_bad_magic "$GOSR" verify "$T/t0.gmod" --trust "$T/root/key.pub"
flip "$T/hello.gmod" 100 "$T/t1.gmod"
rejected signature_invalid "$GOSR" verify "$T/t1.gmod" \
  --trust "$T/root/key.pub"
flip "$T/hello.gmod" $((size - 5)) "$T/t2.gmod"
rejected chunk_hash_mismatch "$GOSR" verify "$T/t2.gmod" \
  --trust "$T/root/key.pub"
head -c $((size - 10)) "$T/hello.gmod" >"$T/t3.gmod"
rejected bundle_truncated "$GOSR" verify "$T/t3.gmod" \
  --trust "$T/root/key.pub"
{ cat "$T/hello.gmod"; printf 'x'; } >"$T/t4.gmod"
rejected trailing_bytes "$GOSR" verify "$T/t4.gmod" --trust "$T/root/key.pub"

# ---- inspect ---------------------------------------------------------------
expect 0 "$GOSR" inspect "$T/hello.gmod"
has "$T/out" "main.lua"
has "$T/out" "not verified"
expect 0 "$GOSR" inspect "$T/hello.gmod" --json
has "$T/out" '"verified":false'
has "$T/out" '"path":"assets/banner.txt"'
rejected bundle_bad_magic "$GOSR" inspect "$T/t0.gmod"
expect 2 "$GOSR" inspect

# ---- unpack ----------------------------------------------------------------
expect 2 "$GOSR" unpack "$T/hello.gmod" --out "$T/u0"
has "$T/err" "refusing to unpack an unverified bundle"
[ ! -e "$T/u0" ] && passes=$((passes + 1)) ||
  { echo "FAIL: u0 created" >&2; fails=$((fails + 1)); }
expect 2 "$GOSR" unpack "$T/hello.gmod" --out "$T/u0" \
  --trust "$T/root/key.pub" --no-verify
expect 0 "$GOSR" unpack "$T/hello.gmod" --out "$T/u1" \
  --trust "$T/root/key.pub"
if diff -r "$SRC" "$T/u1" >/dev/null; then passes=$((passes + 1)); else
  echo "FAIL: unpacked tree differs" >&2; fails=$((fails + 1)); fi
rejected cert_untrusted_issuer "$GOSR" unpack "$T/hello.gmod" \
  --out "$T/u2" --trust "$T/stranger/key.pub"
[ ! -e "$T/u2" ] && passes=$((passes + 1)) ||
  { echo "FAIL: u2 created" >&2; fails=$((fails + 1)); }
expect 0 "$GOSR" unpack "$T/hello.gmod" --out "$T/u3" --no-verify --json
has "$T/out" '"verified":false'
rejected chunk_hash_mismatch "$GOSR" unpack "$T/t2.gmod" --out "$T/u4" \
  --no-verify
[ ! -e "$T/u4" ] && passes=$((passes + 1)) ||
  { echo "FAIL: u4 created" >&2; fails=$((fails + 1)); }
expect 1 "$GOSR" unpack "$T/hello.gmod" --out "$T/u1" \
  --trust "$T/root/key.pub"

echo "test_pack_cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
