#!/usr/bin/env bash
# Installs what building and testing Seintje needs on Debian 12 (bookworm):
# the compiler and build tools, the C libraries, the real services the
# integration tests start (redis-server, a JDK and Maven for Apache Kafka,
# kcat), clang-format, Python packages for the SMTP and statistics tests, the
# curl and openssl command lines the delivery peers (scripts/peers.sh) and
# their test use; then resolves the Kafka jars through Maven (scripts/kafka.sh
# classpath).
#
# Idempotent and quiet: checks with dpkg-query first and runs apt-get only
# when something is missing. Works as root, or through sudo when not root.
#
# usage: scripts/install-deps.sh [-v|--verbose] [--no-kafka] [-h|--help]
#   -v, --verbose  say what is already there
#   --no-kafka     skip resolving the Kafka jars (no Maven, no download)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

required=(
    build-essential cmake ninja-build pkg-config git
    librdkafka-dev libhiredis-dev libcurl4-openssl-dev libjansson-dev libssl-dev
    libcmocka-dev libmicrohttpd-dev
    redis-server kcat clang clang-format
    openjdk-17-jdk-headless maven
    python3 python3-aiosmtpd
    curl openssl
    # GNU time: CPU and peak RSS in bench/deliver_vs_curl.sh
    time
    # tests/segments/stats_check.py checks `seintje experiment stats` against them
    python3-scipy python3-statsmodels
)

verbose=0 kafka=1
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
while [ $# -gt 0 ]; do
    case $1 in
    -v | --verbose) verbose=1 ;;
    --no-kafka) kafka=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done

say() { echo "install-deps: $*"; }

installed() { # PACKAGE: installed and configured according to dpkg
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        say "not root and no sudo: install these as root: ${missing[*]}" >&2
        exit 1
    fi
}

apt_get() {
    local log
    log=$(mktemp)
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        -o DPkg::Lock::Timeout=300 "$@" > "$log" 2>&1; then
        tail -n 40 "$log" >&2
        rm -f "$log"
        say "apt-get $1 failed" >&2
        exit 1
    fi
    rm -f "$log"
}

command -v dpkg-query >/dev/null || { say "needs a Debian-based system (dpkg, apt-get)" >&2; exit 1; }

missing=()
for p in "${required[@]}"; do
    installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    t0=$SECONDS
    say "missing: ${missing[*]}"
    say "apt-get update"
    apt_get update
    say "apt-get install ${missing[*]}"
    apt_get install --no-install-recommends "${missing[@]}"
    for p in "${required[@]}"; do
        installed "$p" || { say "$p is still not installed" >&2; exit 1; }
    done
    say "packages installed in $((SECONDS - t0))s"
elif [ "$verbose" = 1 ]; then
    say "all ${#required[@]} packages are installed"
fi

# The Debian packages land in /usr/bin/python3; a python3 earlier on PATH
# (pyenv, venv) does not see them. Say so rather than let tests fail obscurely.
if ! python3 -c 'import aiosmtpd, scipy, statsmodels' 2>/dev/null; then
    say "warning: $(command -v python3) cannot import aiosmtpd, scipy or statsmodels" \
        "(installed for /usr/bin/python3); tests that need them must run /usr/bin/python3" >&2
fi

if [ "$kafka" = 1 ]; then
    t0=$SECONDS
    "$here/kafka.sh" classpath > /dev/null
    if [ "$verbose" = 1 ] || [ $((SECONDS - t0)) -gt 2 ]; then
        say "Kafka jars ready ($((SECONDS - t0))s)"
    fi
fi
