#!/usr/bin/env bash
# bundle-walkthrough.sh — installs Debian packages (idempotent), builds an
# optimized `gosr`, then walks the foundation end to end on the sample
# module in examples/hello: a root key certifies a
# developer key, the developer packs a signed .gmod, the bundle is verified
# against the root, inspected, unpacked, tampered with (and rejected), and
# its files are put into a content store. Design: docs/gmod.md.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target gosr_cli
GOSR="$PWD/build/release/gosr"
OUT="${1:-$PWD/out/walkthrough}"
rm -rf "$OUT" && mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. keys: a store root key and a developer key"
"$GOSR" key new --out "$OUT/root"
"$GOSR" key new --out "$OUT/dev"

step "2. the root certifies the developer for game and mod bundles"
"$GOSR" cert issue --ca "$OUT/root" --key "$OUT/dev" --name "hello-studio" \
    --kinds game,mod --out "$OUT/dev.cert"
"$GOSR" cert show "$OUT/dev.cert"

step "3. pack examples/hello into a signed bundle"
"$GOSR" pack examples/hello --key "$OUT/dev" --cert "$OUT/dev.cert" \
    --out "$OUT/hello.gmod"
ls -l "$OUT/hello.gmod"

step "4. verify against the root key"
"$GOSR" verify "$OUT/hello.gmod" --trust "$OUT/root/key.pub"

step "5. inspect"
"$GOSR" inspect "$OUT/hello.gmod"

step "6. unpack (verified) and compare with the source"
"$GOSR" unpack "$OUT/hello.gmod" --trust "$OUT/root/key.pub" --out "$OUT/unpacked"
diff -r examples/hello "$OUT/unpacked" && echo "unpacked tree identical to examples/hello"

step "7. a tampered bundle is rejected (exit 3, machine-readable reason)"
cp "$OUT/hello.gmod" "$OUT/tampered.gmod"
size=$(stat -c %s "$OUT/tampered.gmod")
printf '\xff' | dd of="$OUT/tampered.gmod" bs=1 seek=$((size - 3)) conv=notrunc status=none
set +e
"$GOSR" verify "$OUT/tampered.gmod" --trust "$OUT/root/key.pub" --json
rc=$?
set -e
echo "exit code: $rc"
[ "$rc" = 3 ]

step "8. content store: put the module tree, then stats and fsck"
"$GOSR" store put --store "$OUT/store" examples/hello
"$GOSR" store stat --store "$OUT/store"
"$GOSR" store fsck --store "$OUT/store"

step "9. hash a file as b3sum does"
"$GOSR" hash "$OUT/hello.gmod"

printf '\n\033[1mdemo finished: outputs in %s\033[0m\n' "$OUT"
