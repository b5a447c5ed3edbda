#!/usr/bin/env bash
# Installs what is missing, builds, and starts lode-server on 127.0.0.1:6379
# with its data in ./data. Extra arguments go to lode-server
# (./run.sh --port 7000 --durability everysec).
set -euo pipefail
cd "$(dirname "$0")"
tools/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/lode-server "$@"
