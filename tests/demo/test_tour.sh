#!/usr/bin/env bash
# test_tour.sh — runs the five-minute tour of README.md word for word
# (the sh blocks between <!-- tour --> and <!-- /tour -->, then
# <!-- tour-mesh --> and <!-- /tour-mesh -->: two mesh nodes) in a scratch
# checkout view (build/release/gosr -> $GOSR, examples -> the source tree)
# and checks its outcome: hello swapped to 0.2.0, 0.1.0 retired, ledger
# intact; node b installed 0.2.0 from node a over the mesh. Env: GOSR, GOSR_SOURCE_DIR. Design under test: README.md.
set -u
GOSR=${GOSR:?set GOSR}
SRC=${GOSR_SOURCE_DIR:?set GOSR_SOURCE_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/build/release"
ln -s "$GOSR" "$T/build/release/gosr"
ln -s "$SRC/examples" "$T/examples"
# the tour, then its mesh part (two nodes), as one script
for b in tour tour-mesh; do
  sed -n "/<!-- $b -->/,/<!-- \/$b -->/p" "$SRC/README.md" |
    sed -e '/^<!--/d' -e '/^```/d'
done >"$T/tour.sh"
[ "$(wc -l <"$T/tour.sh")" -gt 10 ] || { echo "FAIL: no tour block"; exit 1; }
(cd "$T" && bash -e tour.sh) >"$T/out" 2>"$T/err"
rc=$?
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
[ $rc -eq 0 ] || { bad "tour exit $rc"; cat "$T/out" "$T/err" >&2; }
grep -q "hello  active 0.2.0" "$T/out" || bad "hello not active at 0.2.0"
grep -q "retire hello 0.1.0" "$T/out" || bad "0.1.0 not retired"
grep -q "activate hello 0.2.0" "$T/out" || bad "no activate row"
grep -q "installed hello@0.2.0 from the mesh" "$T/out" || bad "mesh install"
grep -q "2 of rf 3 live holders" "$T/out" || bad "replicas on the mesh"
[ "$(grep -c "hello  active 0.2.0" "$T/out")" -eq 2 ] || bad "node b not at 0.2.0"
[ "$fails" -eq 0 ] && echo "test_tour: the tour works word for word"
exit $((fails > 0))
