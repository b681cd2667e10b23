#!/usr/bin/env bash
# One command for a newcomer: installs the Debian packages
# (scripts/install-deps.sh), builds seintje in build/release, and runs
# `seintje demo`, which brings its own in-process Kafka, a private
# redis-server and an outbox on a synthetic population.
#
# usage: scripts/demo.sh [ARGS...]   ARGS go to `seintje demo` unchanged
#        scripts/demo.sh -h|--help   this text, then `seintje demo --help`
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
    usage
    for bin in build/release/seintje build/release/cli/seintje; do
        if [ -x "$bin" ]; then
            echo
            "$bin" demo --help
            break
        fi
    done
    exit 0
fi

# The demo needs no Kafka broker, so no Maven download either.
scripts/install-deps.sh --no-kafka
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    > /dev/null || { echo "demo.sh: cmake configure failed" >&2; exit 1; }
cmake --build build/release --parallel "$(nproc 2>/dev/null || echo 2)" --target seintje
# The binary sits where cli/CMakeLists.txt puts it (build/release/cli today).
for bin in build/release/seintje build/release/cli/seintje; do
    [ -x "$bin" ] && exec "$bin" demo "$@"
done
echo "demo.sh: the build produced no seintje binary under build/release" >&2
exit 1
