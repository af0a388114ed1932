#!/usr/bin/env bash
# test_ai_cli.sh — `gosr ai` end to end: every capability answers an empty
# input offline (ghost tier), same seed gives the same bytes, bad input is
# rejected with a reason, status lists tiers and breakers, and with a
# config pointing at the loopback LLM server (`gosr ai serve-mock`, port 0)
# the provider answers and the provenance log verifies.
set -euo pipefail
GOSR=${GOSR:?path of the gosr binary}
tmp=$(mktemp -d)
mock_pid=""
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for cap in npc_dialog quest_gen map_gen economy_tune moderation_classify patch_author; do
  out=$("$GOSR" ai ask "$cap" --json --seed 5)
  echo "$out" | grep -q '"ok":true' || fail "$cap: $out"
  echo "$out" | grep -q '"provider":"ghost"' || fail "$cap provider: $out"
  a=$("$GOSR" ai ask "$cap" --seed 11)
  b=$("$GOSR" ai ask "$cap" --seed 11)
  [ "$a" = "$b" ] || fail "$cap not deterministic"
done

set +e
"$GOSR" ai ask map_gen --input '{"width":2}' --json > "$tmp/bad.json"
rc=$?
set -e
[ "$rc" = 3 ] || fail "bad input exit $rc"
grep -q '"reason":"schema_range"' "$tmp/bad.json" || fail "bad input reason"

"$GOSR" ai status --json | grep -q '"enterprise"' || fail "status tiers"

"$GOSR" ai serve-mock --port 0 > "$tmp/mock.out" &
mock_pid=$!
for _ in $(seq 1 100); do grep -q listening "$tmp/mock.out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's#.*127.0.0.1:\([0-9]*\).*#\1#p' "$tmp/mock.out")
[ -n "$port" ] || fail "mock did not start"
cat > "$tmp/ai.json" <<JSON
{"providers":[
  {"name":"down","kind":"openai","url":"http://127.0.0.1:$port","model":"500","timeout_ms":2000},
  {"name":"local","kind":"ollama","url":"http://127.0.0.1:$port","model":"ok","stream":true,"timeout_ms":2000}],
 "chains":{"npc_dialog":["down","local"]},
 "provenance":"$tmp/prov.log"}
JSON
out=$("$GOSR" ai ask npc_dialog --config "$tmp/ai.json" --json)
echo "$out" | grep -q '"provider":"local"' || fail "provider answer: $out"
"$GOSR" ai ask quest_gen --config "$tmp/ai.json" --json | grep -q '"ok":true' || fail "quest via config"
"$GOSR" ai verify-log "$tmp/prov.log" --json | grep -q '"records":2' || fail "provenance"
"$GOSR" ai status --config "$tmp/ai.json" | grep -q 'down > local > ghost' || fail "status chain"
# patch_author writes a module directory that `gosr pack` signs and `gosr
# verify` accepts as a patch (the step before the patch pipeline)
"$GOSR" ai ask patch_author --input '{"goal":"make iron ore cheaper"}' --seed 3 \
  --out "$tmp/patch" > /dev/null || fail "patch_author --out"
[ -f "$tmp/patch/gmod.json" ] && [ -f "$tmp/patch/patch.lua" ] || fail "bundle files"
"$GOSR" key new --out "$tmp/root" > /dev/null
"$GOSR" key new --out "$tmp/ai" > /dev/null
"$GOSR" cert issue --ca "$tmp/root" --key "$tmp/ai" --name ghost --kinds patch \
  --out "$tmp/ai.cert" > /dev/null
"$GOSR" pack "$tmp/patch" --key "$tmp/ai" --cert "$tmp/ai.cert" \
  --out "$tmp/p.gmod" > /dev/null || fail "pack of the AI patch"
"$GOSR" verify "$tmp/p.gmod" --trust "$tmp/root/key.pub" --json > "$tmp/v.json" \
  || fail "verify: $(cat "$tmp/v.json")"
grep -q '"ok":true' "$tmp/v.json" || fail "verify output"
echo "ok test_ai_cli"
