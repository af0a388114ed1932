#!/usr/bin/env bash
# install-deps.sh — installs every Debian package GOSR's build, tests, benches
# and demo need. Idempotent: runs `apt-get update` only when something is
# missing, and installs only what is missing. Design: docs/build.md.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake pkg-config clang libclang-rt-14-dev git
  # libraries (real parts, never vendored)
  libsodium-dev liblua5.4-dev lua5.4 libzstd-dev libbrotli-dev
  libsqlite3-dev libjansson-dev libssl-dev libuv1-dev
  libcurl4-openssl-dev libmicrohttpd-dev
  # reference tools used by tests and benches
  b3sum casync sqlite3 oathtool procps
  # mesh: OpenDHT C API, the reference DHT client, network namespaces
  libopendht-c-dev dhtnode iproute2
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
