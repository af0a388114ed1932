#!/usr/bin/env bash
# test_hash_cli.sh — `gosr hash` against Debian's b3sum on the same files:
# plain, --keyed, --derive-key, --length, --threads, stdin "-", names that
# need escaping, a missing file (exit 1, others still printed), b3sum
# --check accepting our output, and usage errors (exit 2).
# Env: GOSR = path of the gosr binary. Design: docs/blake3.md ("gosr hash").
set -u
fail=0
check() { # check NAME COMMAND... : the command must succeed
    local name=$1; shift
    if ! "$@"; then echo "FAIL: $name"; fail=1; else echo "ok   $name"; fi
}
same() { # same NAME FILE_A FILE_B
    if cmp -s "$2" "$3"; then echo "ok   $1"; else
        echo "FAIL: $1"; diff "$2" "$3" | head -5; fail=1; fi
}

command -v b3sum >/dev/null || { echo "FAIL: b3sum not installed (scripts/install-deps.sh)"; exit 1; }
[ -x "${GOSR:-}" ] || { echo "FAIL: GOSR not set to the gosr binary"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# Files around block, chunk, mmap (64 KiB) and threading (1 MiB) edges.
: > empty
printf x > one
head -c 1024 /dev/urandom > chunk
head -c 1025 /dev/urandom > chunk_plus
head -c 65536 /dev/urandom > "with space"
head -c 65537 /dev/urandom > mmap_plus
head -c $((1048576 * 3 + 5)) /dev/urandom > big
head -c 5000 /dev/urandom > 'back\slash'
files=(empty one chunk chunk_plus "with space" mmap_plus big 'back\slash')

"$GOSR" hash "${files[@]}" > ours; rc=$?
b3sum "${files[@]}" > theirs
check "plain exit 0" test "$rc" -eq 0
same "plain output equals b3sum" ours theirs

for t in 1 3; do
    "$GOSR" hash --threads $t "${files[@]}" > ours_t
    same "--threads $t equals b3sum" ours_t theirs
done

"$GOSR" hash --length 100 "${files[@]}" > ours
b3sum --length 100 "${files[@]}" > theirs
same "--length 100 equals b3sum" ours theirs
"$GOSR" hash --length 0 one > ours
b3sum --length 0 one > theirs
same "--length 0 equals b3sum" ours theirs

key='whats the Elvish word for friend'
keyhex=$(printf '%s' "$key" | od -An -tx1 | tr -d ' \n')
"$GOSR" hash --keyed "$keyhex" "${files[@]}" > ours
printf '%s' "$key" | b3sum --keyed "${files[@]}" > theirs
same "--keyed equals b3sum" ours theirs

"$GOSR" hash --derive-key "gosr 2026 test context" --length 64 "${files[@]}" > ours
b3sum --derive-key "gosr 2026 test context" --length 64 "${files[@]}" > theirs
same "--derive-key equals b3sum" ours theirs

"$GOSR" hash - < big > ours
b3sum - < big > theirs
same "stdin '-' equals b3sum" ours theirs
cat chunk_plus | "$GOSR" hash > ours
cat chunk_plus | b3sum > theirs
same "stdin by default equals b3sum" ours theirs

"$GOSR" hash "${files[@]}" > sums
check "b3sum --check accepts our output" b3sum --check --quiet sums

"$GOSR" hash one missing-file chunk > ours 2> err; rc=$?
b3sum one chunk > theirs
check "missing file exits 1" test "$rc" -eq 1
same "other files still hashed" ours theirs
check "missing file reported with reason" grep -q "file_open_failed" err

"$GOSR" hash . > /dev/null 2>&1; rc=$?
check "directory exits 1" test "$rc" -eq 1

usage() { # usage NAME ARGS... : must exit 2 with a usage line on stderr
    local name=$1; shift
    "$GOSR" hash "$@" one > /dev/null 2> err; local rc=$?
    if [ "$rc" -eq 2 ] && grep -q "usage:" err; then echo "ok   usage: $name"
    else echo "FAIL: usage: $name (exit $rc)"; fail=1; fi
}
usage "short key" --keyed abcd
usage "non-hex key" --keyed "$(printf 'zz%.0s' {1..32})"
usage "keyed and derive-key" --keyed "$keyhex" --derive-key ctx
usage "bad length" --length ten
usage "negative threads" --threads -1
usage "unknown option" --bogus
usage "missing value" --length

exit $fail
