#!/usr/bin/env bash
# test_ledger_cli.sh — `gosr ledger` end to end: append rows, verify and
# list them, tamper with a row through the sqlite3 CLI, then verify reports
# the broken seq (exit 3) and append refuses an activation (safe mode) but
# still records a rollback.
set -euo pipefail
: "${GOSR:?path of the gosr binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/gosr-ledger-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
DB="$T/ledger.db"

for i in 1 2 3 4; do
  "$GOSR" ledger append "$DB" --actor operator:alice --action activate \
      --subject arena.combat --version "1.$i.0" --reason "rollout $i" \
      --evidence '{"canary": {"errors": 0}, "p99_ms": 3}' --json \
      >"$T/a$i.json" || fail "append $i"
  grep -q "\"seq\":$i" "$T/a$i.json" || fail "seq $i: $(cat "$T/a$i.json")"
done
"$GOSR" ledger verify "$DB" --json >"$T/v.json" || fail "verify intact"
grep -q '"rows":4' "$T/v.json" || fail "rows"
"$GOSR" ledger list "$DB" --json >"$T/l.json"
[ "$(wc -l <"$T/l.json")" -eq 4 ] || fail "list"
grep -q '"evidence":{"canary":{"errors":0},"p99_ms":3}' "$T/l.json" \
    || fail "canonical evidence: $(head -1 "$T/l.json")"

set +e; "$GOSR" ledger append "$DB" --actor a --action activate \
    --subject m --version 1 --evidence '[1]' --json >"$T/bad.json"
rc=$?; set -e
[ "$rc" -eq 1 ] && grep -q ledger_bad_evidence "$T/bad.json" || fail "evidence"

sqlite3 "$DB" "DROP TRIGGER ledger_no_update;
               UPDATE ledger SET reason='nothing to see' WHERE seq=3;"
set +e; "$GOSR" ledger verify "$DB" --json >"$T/v2.json" 2>/dev/null
rc=$?; set -e
[ "$rc" -eq 3 ] || fail "verify after tamper: exit $rc"
grep -q '"first_bad_seq":3' "$T/v2.json" || fail "first bad: $(cat "$T/v2.json")"
set +e; "$GOSR" ledger append "$DB" --actor a --action activate \
    --subject m --version 2 --json >"$T/deny.json" 2>/dev/null
rc=$?; set -e
[ "$rc" -eq 3 ] && grep -q ledger_chain_broken "$T/deny.json" \
    || fail "safe mode: exit $rc $(cat "$T/deny.json")"
"$GOSR" ledger append "$DB" --actor a --action rollback --subject m \
    --version 1 >/dev/null 2>&1 || fail "rollback in safe mode"
echo ok
