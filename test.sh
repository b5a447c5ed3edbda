#!/usr/bin/env bash
# Installs what is missing, builds with ASan+UBSan, and runs every suite:
# cmocka unit tests, fuzz-corpus replays and table checks (ctest), then the
# integration and differential suites (pytest against real servers).
set -euo pipefail
cd "$(dirname "$0")"
tools/deps.sh test
jobs=$(nproc)
cmake -S . -B build-asan -DLODE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j"$jobs"
export LODE_SERVER="$PWD/build-asan/lode-server"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration tests/diff tests/crash
