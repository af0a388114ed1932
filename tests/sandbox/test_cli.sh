#!/usr/bin/env bash
# test_cli.sh — `gosr sandbox run`: results, fault records in JSON, exit
# codes (0 ok, 4 fault, 2 usage, 1 failure). Design: docs/sandbox.md.
set -u
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # name expected-exit actual-exit
    if [ "$2" != "$3" ]; then echo "FAIL $1: exit $3, want $2"; fail=1; fi
}
expect_json() { # name file pattern
    if ! grep -q -- "$3" "$2"; then echo "FAIL $1: no '$3' in: $(cat "$2")"; fail=1; fi
}

printf 'print("hi")\nreturn {a = 1, b = world.get(0, 0) ~= nil}\n' > "$tmp/ok.lua"
"$GOSR" sandbox run "$tmp/ok.lua" > "$tmp/out" 2> "$tmp/err"; check ok 0 $?
expect_json ok "$tmp/out" '"a":1'
expect_json ok-log "$tmp/err" 'hi'
"$GOSR" sandbox run "$tmp/ok.lua" --json --mode production > "$tmp/out"; check ok-json 0 $?
expect_json ok-json "$tmp/out" '"ok":true'

echo 'while true do end' > "$tmp/loop.lua"
"$GOSR" sandbox run "$tmp/loop.lua" --json --mode production --deadline-ms 100 > "$tmp/out"; check loop-prod 4 $?
expect_json loop-prod "$tmp/out" '"reason":"deadline"'
expect_json loop-prod-where "$tmp/out" 'loop.lua:1'
"$GOSR" sandbox run "$tmp/loop.lua" --json --fuel 100000 > "$tmp/out"; check loop-det 4 $?
expect_json loop-det "$tmp/out" '"reason":"fuel"'

echo 'local s = "x" while true do s = s .. s end' > "$tmp/mem.lua"
"$GOSR" sandbox run "$tmp/mem.lua" --json --mem 1M > "$tmp/out"; check mem 4 $?
expect_json mem "$tmp/out" '"reason":"memory"'

echo 'return string.dump(print)' > "$tmp/dump.lua"
"$GOSR" sandbox run "$tmp/dump.lua" --json > "$tmp/out"; check dump 4 $?
expect_json dump "$tmp/out" '"reason":"forbidden"'

echo 'error("boom")' > "$tmp/err.lua"
"$GOSR" sandbox run "$tmp/err.lua" > "$tmp/out" 2> "$tmp/err"; check error 4 $?
expect_json error "$tmp/err" 'boom'

echo 'return +' > "$tmp/syntax.lua"
"$GOSR" sandbox run "$tmp/syntax.lua" --json > "$tmp/out"; check syntax 4 $?
expect_json syntax "$tmp/out" '"reason":"error"'

printf '\033Lua' > "$tmp/bin.lua"
"$GOSR" sandbox run "$tmp/bin.lua" --json > "$tmp/out"; check binary 4 $?
expect_json binary "$tmp/out" '"reason":"forbidden"'

# Deterministic mode: same result and fuel in separate processes (string
# hash seeds differ per process; pairs iterates in canonical order).
cat > "$tmp/det.lua" <<'LUA'
local t = {}
for i = 1, 300 do t["key" .. i] = math.random(1, 1000) end
local s = {}
for k, v in pairs(t) do s[#s + 1] = k .. "=" .. v end
return table.concat(s, ","):sub(1, 80) .. "|" .. collectgarbage("count")
LUA
"$GOSR" sandbox run "$tmp/det.lua" --json --seed 9 > "$tmp/d1"; check det1 0 $?
"$GOSR" sandbox run "$tmp/det.lua" --json --seed 9 > "$tmp/d2"; check det2 0 $?
if ! cmp -s "$tmp/d1" "$tmp/d2"; then
    echo "FAIL determinism: $(cat "$tmp/d1") vs $(cat "$tmp/d2")"; fail=1
fi

"$GOSR" sandbox run > /dev/null 2>&1; check usage 2 $?
"$GOSR" sandbox run "$tmp/ok.lua" --mode fast > /dev/null 2>&1; check bad-mode 2 $?
"$GOSR" sandbox run "$tmp/ok.lua" --fuel x > /dev/null 2>&1; check bad-fuel 2 $?
"$GOSR" sandbox run "$tmp/missing.lua" > /dev/null 2>&1; check missing 1 $?
exit $fail
