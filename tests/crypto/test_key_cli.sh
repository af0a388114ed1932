#!/usr/bin/env bash
# test_key_cli.sh — end-to-end test of `gosr key` and `gosr cert` through the
# real binary: key creation and modes, overwrite refused, loose permissions
# refused, certificate issue/show/verify (every rejection reason reachable
# from the command line) and revocation by serial and by key, with the exit
# codes 0 (ok), 1 (failure), 2 (usage) and 3 (rejected).
# Env: GOSR = path of the gosr binary. Design under test: docs/certs.md.
set -u

GOSR=${GOSR:?set GOSR to the gosr binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# expect CODE CMD... — runs the command, checks its exit code; output lands
# in $T/out and $T/err for later greps.
. "$(dirname "$0")/../lib.sh"


mode_of() { stat -c %a "$1"; }

# ---- keys ---------------------------------------------------------------
expect 0 "$GOSR" key new --out "$T/root"
root_hex=$(cat "$T/out")
[ ${#root_hex} -eq 64 ] && passes=$((passes + 1)) ||
  { echo "FAIL: key new printed '$root_hex'" >&2; fails=$((fails + 1)); }
expect 0 "$GOSR" key new --out "$T/dev" --json
has "$T/out" '"public_key":'
expect 0 "$GOSR" key new --out "$T/other"
[ "$(mode_of "$T/root/key.sec")" = 600 ] && [ "$(mode_of "$T/root")" = 700 ] &&
  [ "$(mode_of "$T/root/key.pub")" = 644 ] && passes=$((passes + 1)) ||
  { echo "FAIL: key modes" >&2; fails=$((fails + 1)); }
has "$T/root/key.pub" "gosr-ed25519-public-v1 $root_hex"
expect 0 "$GOSR" key show "$T/root"
has "$T/out" "$root_hex"
expect 0 "$GOSR" key show "$T/root/key.pub"
has "$T/out" "$root_hex"
cp "$T/root/key.sec" "$T/root.sec.bak"
expect 1 "$GOSR" key new --out "$T/root" --json
has "$T/out" '"reason":"key_exists"'
cmp -s "$T/root/key.sec" "$T/root.sec.bak" && passes=$((passes + 1)) ||
  { echo "FAIL: key.sec changed by refused overwrite" >&2; fails=$((fails + 1)); }
expect 2 "$GOSR" key new
expect 2 "$GOSR" key frobnicate
expect 1 "$GOSR" key show "$T/nonexistent"

# ---- issue --------------------------------------------------------------
expect 0 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name "Acme Studio" \
  --kinds game,mod --out "$T/dev.cert"
has "$T/out" "kinds:      game,mod"
expect 0 "$GOSR" cert issue --ca "$T/root" --key "$T/other/key.pub" \
  --name "Other" --out "$T/other.cert" --json
has "$T/out" '"kinds":"game,mod,patch"'
expect 2 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name x \
  --expires 2001-01-01T00:00:00Z --out "$T/old.cert"
expect 0 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name old \
  --not-before 2000-01-01T00:00:00Z --expires 2001-01-01T00:00:00Z \
  --allow-expired --out "$T/old.cert"
expect 0 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name future \
  --not-before 2090-01-01T00:00:00Z --expires 2091-01-01T00:00:00Z \
  --out "$T/future.cert"
expect 2 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name x \
  --kinds game,dlc --out "$T/x.cert"
expect 2 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --out "$T/x.cert"
expect 1 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" \
  --name "$(printf 'bad\tname')" --out "$T/x.cert" --json
has "$T/out" '"reason":"cert_bad_name"'
expect 1 "$GOSR" cert issue --ca "$T/nokey" --key "$T/dev" --name x \
  --out "$T/x.cert"

# A secret key readable by others is refused.
chmod 644 "$T/root/key.sec"
expect 1 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name x \
  --out "$T/x.cert" --json
has "$T/out" '"reason":"key_file_permissions"'
chmod 600 "$T/root/key.sec"

# ---- show and verify ----------------------------------------------------
expect 0 "$GOSR" cert show "$T/dev.cert" --json
has "$T/out" '"name":"Acme Studio"'
expect 0 "$GOSR" cert verify "$T/dev.cert" --trust "$T/root/key.pub"
has "$T/out" "ok:"
expect 0 "$GOSR" cert verify "$T/dev.cert" --trust "$T/root" --kind game,mod
expect 3 "$GOSR" cert verify "$T/dev.cert" --trust "$T/root" --kind patch --json
has "$T/out" '"reason":"cert_kind_not_allowed"'
expect 3 "$GOSR" cert verify "$T/dev.cert" --trust "$T/other" --json
has "$T/out" '"reason":"cert_untrusted_issuer"'
expect 3 "$GOSR" cert verify "$T/old.cert" --trust "$T/root" --json
has "$T/out" '"reason":"cert_expired"'
expect 0 "$GOSR" cert verify "$T/old.cert" --trust "$T/root" \
  --at 2000-06-01T00:00:00Z
expect 3 "$GOSR" cert verify "$T/future.cert" --trust "$T/root" --json
has "$T/out" '"reason":"cert_not_yet_valid"'
# Flip one byte of the name: signature no longer verifies.
cp "$T/dev.cert" "$T/tampered.cert"
printf 'B' | dd of="$T/tampered.cert" bs=1 seek=74 conv=notrunc 2>/dev/null
expect 3 "$GOSR" cert verify "$T/tampered.cert" --trust "$T/root" --json
has "$T/out" '"reason":"cert_signature_invalid"'
head -c 100 "$T/dev.cert" >"$T/short.cert"
expect 3 "$GOSR" cert verify "$T/short.cert" --trust "$T/root" --json
has "$T/out" '"reason":"cert_truncated"'
expect 3 "$GOSR" cert show "$T/root/key.pub" --json
has "$T/out" '"reason":"cert_bad_magic"'
expect 1 "$GOSR" cert verify "$T/missing.cert" --trust "$T/root"
expect 2 "$GOSR" cert verify "$T/dev.cert"
expect 2 "$GOSR" cert verify "$T/dev.cert" --trust "$T/root" --kind bogus
expect 2 "$GOSR" cert

# ---- revoke -------------------------------------------------------------
expect 0 "$GOSR" cert revoke --ca "$T/root" --cert "$T/dev.cert" \
  --out "$T/revoked.rvkl"
has "$T/out" "sequence 1"
expect 3 "$GOSR" cert verify "$T/dev.cert" --trust "$T/root" \
  --revoked "$T/revoked.rvkl" --json
has "$T/out" '"reason":"cert_revoked"'
expect 0 "$GOSR" cert verify "$T/other.cert" --trust "$T/root" \
  --revoked "$T/revoked.rvkl"
# Revoke the other key; the list at --out is extended and re-signed.
expect 0 "$GOSR" cert revoke --ca "$T/root" --key-pub "$T/other/key.pub" \
  --out "$T/revoked.rvkl" --json
has "$T/out" '"sequence":2'
expect 3 "$GOSR" cert verify "$T/other.cert" --trust "$T/root" \
  --revoked "$T/revoked.rvkl"
expect 3 "$GOSR" cert verify "$T/dev.cert" --trust "$T/root" \
  --revoked "$T/revoked.rvkl"
# --list reads one list and writes a new one.
expect 0 "$GOSR" cert revoke --ca "$T/root" --cert "$T/old.cert" \
  --list "$T/revoked.rvkl" --out "$T/revoked3.rvkl" --json
has "$T/out" '"sequence":3'
expect 0 "$GOSR" cert show "$T/revoked3.rvkl" --trust "$T/root"
has "$T/out" "signature:  verified"
# A list signed by another key is refused, for verify and for extension.
expect 0 "$GOSR" cert revoke --ca "$T/other" --key-pub "$T/dev" \
  --out "$T/foreign.rvkl"
expect 3 "$GOSR" cert verify "$T/dev.cert" --trust "$T/root" \
  --revoked "$T/foreign.rvkl" --json
has "$T/out" '"reason":"revocation_signature_invalid"'
expect 1 "$GOSR" cert revoke --ca "$T/root" --key-pub "$T/dev" \
  --list "$T/foreign.rvkl" --out "$T/x.rvkl" --json
has "$T/out" '"reason":"revocation_signature_invalid"'
# A tampered list (one bit of the sequence) is refused.
cp "$T/revoked.rvkl" "$T/tampered.rvkl"
printf '\x09' | dd of="$T/tampered.rvkl" bs=1 seek=41 conv=notrunc 2>/dev/null
expect 3 "$GOSR" cert verify "$T/other.cert" --trust "$T/root" \
  --revoked "$T/tampered.rvkl" --json
has "$T/out" '"reason":"revocation_signature_invalid"'
# The root may only revoke certificates it issued.
expect 0 "$GOSR" cert issue --ca "$T/other" --key "$T/dev" --name y \
  --out "$T/by_other.cert"
expect 1 "$GOSR" cert revoke --ca "$T/root" --cert "$T/by_other.cert" \
  --out "$T/revoked.rvkl" --json
has "$T/out" '"reason":"cert_untrusted_issuer"'
expect 2 "$GOSR" cert revoke --ca "$T/root" --out "$T/revoked.rvkl"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
