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
