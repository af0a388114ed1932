# lib.sh — assertions shared by the end-to-end shell tests (tests/*/test_*.sh).
# Source it after setting T (the test's scratch directory). Counts go to
# `passes` and `fails`; each script prints its summary and exits
# $((fails > 0)). Design: docs/testing.md.
fails=0
passes=0

ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect CODE CMD... — runs CMD, checks its exit code; output in $T/out and
# $T/err (printed on failure).
expect() {
  local want=$1
  shift
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    bad "exit $got, want $want: $*"
    sed 's/^/  stdout: /' "$T/out" >&2
    sed 's/^/  stderr: /' "$T/err" >&2
  else
    ok
  fi
}

# has FILE TEXT — checks FILE contains TEXT (prints FILE on failure).
has() {
  if grep -qF -- "$2" "$1"; then
    ok
  else
    bad "$1 lacks '$2'"
    sed 's/^/  /' "$1" >&2
  fi
}

# dev_keys KINDS — a trust root ($T/root), a developer key ($T/dev) and its
# certificate for bundle KINDS ("game,mod", ...) in $T/dev.cert. Needs GOSR.
dev_keys() {
  expect 0 "$GOSR" key new --out "$T/root"
  expect 0 "$GOSR" key new --out "$T/dev"
  expect 0 "$GOSR" cert issue --ca "$T/root" --key "$T/dev" --name dev \
    --kinds "$1" --out "$T/dev.cert"
}

# wait_node DIR ERRFILE — polls `gosr status --data DIR` for up to 10 s;
# on failure reports it and prints ERRFILE (the node's stderr). Needs GOSR.
wait_node() {
  for _ in $(seq 1 200); do
    if "$GOSR" status --data "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  bad "node did not come up"; cat "$2" >&2
  return 1
}
