#!/usr/bin/env bash
# Installs the Debian packages Lodestore needs, if any are missing.
# Usage: tools/deps.sh build|test
set -euo pipefail
BUILD_PKGS="build-essential cmake pkg-config libev-dev liblmdb-dev liblz4-dev liblua5.4-dev
  lua-cjson-dev libcmocka-dev libjemalloc-dev"
TEST_PKGS="redis-tools redis-server python3 python3-redis python3-pytest"
want=$BUILD_PKGS
[ "${1:-build}" = test ] && want="$BUILD_PKGS $TEST_PKGS"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
# Keep package scripts from starting services (redis-server would take
# port 6379): the standard policy-rc.d switch, removed afterwards.
policy=/usr/sbin/policy-rc.d
created=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created=1
fi
cleanup() { [ $created -eq 1 ] && $SUDO rm -f "$policy"; }
trap cleanup EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
