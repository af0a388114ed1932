#!/usr/bin/env bash
# test_store_cli.sh — `gosr store` end to end: put a tree and a file, ls,
# get (tree, file, stdout), stat, fsck (clean, then a flipped byte is
# reported, quarantined and fixed by a re-put), ref delete + gc, usage and
# error exit codes, --json everywhere. Design: docs/store.md ("CLI").
set -euo pipefail
: "${GOSR:?GOSR must point at the gosr binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
S="$T/store"
fail() { echo "FAIL: $*" >&2; exit 1; }
jget() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

mkdir -p "$T/in/dir/deep"
head -c 200000 /dev/urandom > "$T/in/rand.bin"
seq 1 40000 > "$T/in/dir/numbers.txt"
printf 'x' > "$T/in/dir/deep/one"
: > "$T/in/empty"
printf '#!/bin/sh\necho hi\n' > "$T/in/run.sh"; chmod 755 "$T/in/run.sh"

# put a tree (small chunks so files have several) and a file
ROOT=$("$GOSR" store put --store "$S" --avg 4096 --ref tree1 "$T/in")
[[ $ROOT =~ ^[0-9a-f]{64}$ ]] || fail "put did not print an id: $ROOT"
J=$("$GOSR" store put --store "$S" --avg 4096 --json --ref nums "$T/in/dir/numbers.txt")
[ "$(echo "$J" | jget '["kind"]')" = file ] || fail "put --json kind"
[ "$(echo "$J" | jget '["bytes"]')" = "$(stat -c %s "$T/in/dir/numbers.txt")" ] || fail "put bytes"
[ "$(echo "$J" | jget '["new_stored_bytes"]')" = 0 ] || fail "re-put stored new bytes"
FID=$(echo "$J" | jget '["id"]')

# ls: refs, tree entries, file chunks, objects
"$GOSR" store ls --store "$S" | grep -q " tree1$" || fail "ls refs"
[ "$("$GOSR" store ls --store "$S" tree1 --json | jget '["items"].__len__()')" = 5 ] || fail "ls tree"
"$GOSR" store ls --store "$S" "$ROOT" | grep -q "0755 .* run.sh$" || fail "ls mode"
[ "$("$GOSR" store ls --store "$S" "$FID" | wc -l)" -gt 5 ] || fail "ls file chunks"
"$GOSR" store ls --store "$S" --objects --json | jget '["items"][0]["kind"]' >/dev/null

# get: tree into a dir, file to a path and to stdout
"$GOSR" store get --store "$S" tree1 "$T/out"
diff -r "$T/in" "$T/out" || fail "tree round trip"
[ -x "$T/out/run.sh" ] || fail "exec bit lost"
"$GOSR" store get --store "$S" nums "$T/n.txt"
cmp "$T/n.txt" "$T/in/dir/numbers.txt" || fail "file round trip"
"$GOSR" store get --store "$S" "$FID" - | cmp - "$T/in/dir/numbers.txt" || fail "stdout"

# stat
J=$("$GOSR" store stat --store "$S" --json)
[ "$(echo "$J" | jget '["ref_count"]')" = 2 ] || fail "stat refs"
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['dedup_ratio']>1.2 and d['compression_ratio']>1.0, d" "$J" || fail "stat ratios"
"$GOSR" store stat --store "$S" | grep -q "dedup ratio" || fail "stat text"

# fsck clean, then corrupt the last record's payload
"$GOSR" store fsck --store "$S" >/dev/null || fail "fsck clean"
PACK=$(ls "$S"/packs/*.pack | head -1)
SIZE=$(stat -c %s "$PACK")
python3 - "$PACK" $((SIZE - 5)) <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xff]))
PY
set +e
J=$("$GOSR" store fsck --store "$S" --json); rc=$?
set -e
[ $rc = 3 ] || fail "fsck on corruption exited $rc"
[ "$(echo "$J" | jget '["corrupt"]')" = 1 ] || fail "fsck corrupt count"
[ "$(ls "$S/quarantine" | wc -l)" = 1 ] || fail "quarantine"
# the damaged object was the tree's manifest or a chunk: re-putting heals
"$GOSR" store put --store "$S" --avg 4096 --ref tree1 "$T/in" >/dev/null
"$GOSR" store put --store "$S" --avg 4096 --ref nums "$T/in/dir/numbers.txt" >/dev/null
"$GOSR" store fsck --store "$S" >/dev/null || fail "fsck after repair"

# gc removes only what no ref reaches
"$GOSR" store ref --store "$S" tree1 --delete
J=$("$GOSR" store gc --store "$S" --json)
[ "$(echo "$J" | jget '["removed_objects"]')" -gt 0 ] || fail "gc removed nothing"
"$GOSR" store get --store "$S" nums - | cmp - "$T/in/dir/numbers.txt" || fail "gc lost a live file"
set +e
"$GOSR" store get --store "$S" "$ROOT" "$T/out2" 2>/dev/null; rc=$?
set -e
[ $rc = 1 ] || fail "get of collected tree exited $rc"
"$GOSR" store fsck --store "$S" >/dev/null || fail "fsck after gc"

# errors and usage
set +e
"$GOSR" store put "$T/in" 2>/dev/null; [ $? = 2 ] || fail "missing --store"
"$GOSR" store frob --store "$S" 2>/dev/null; [ $? = 2 ] || fail "unknown sub"
J=$("$GOSR" store get --store "$S" nosuchref "$T/x" --json); [ $? = 1 ] || fail "bad ref"
J2=$("$GOSR" store stat --store "$T/nostore" --json); [ $? = 1 ] || fail "stat of a non-store"
set -e
[ "$(echo "$J" | jget '["reason"]')" = ref_not_found ] || fail "reason: $J"
[ "$(echo "$J2" | jget '["reason"]')" = store_not_found ] || fail "reason: $J2"
[ ! -e "$T/nostore" ] || fail "read-only stat created a store"

# encrypted store from the CLI
E="$T/enc"
"$GOSR" store put --store "$E" --encrypt --ref n "$T/in/dir/numbers.txt" >/dev/null
[ "$(stat -c %a "$E/secret")" = 600 ] || fail "secret mode"
! grep -rqF "39999" "$E/packs" || fail "plaintext in encrypted packs"
"$GOSR" store get --store "$E" n - | cmp - "$T/in/dir/numbers.txt" || fail "encrypted get"
[ "$("$GOSR" store stat --store "$E" --json | jget '["encrypted"]')" = True ] || fail "stat encrypted"
echo "store CLI: ok"
