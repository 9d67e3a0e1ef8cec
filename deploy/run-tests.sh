#!/bin/sh
# One command from a fresh Debian 12 machine to the whole test suite:
# installs the packages, builds with warnings as errors, runs `make check`
# (unit tests, store tests and HTTP integration tests, each against its
# own temporary PostgreSQL cluster). Extra arguments go to ./configure.
set -eu
cd "$(dirname "$0")/.."
sh deploy/install-deps.sh
sh deploy/build.sh "$@"
make check -j2 || {
    for log in $(find tests -name '*.log' 2>/dev/null); do
        if grep -q '^FAIL\|^ERROR' "${log%.log}.trs" 2>/dev/null; then
            echo "===== $log"; tail -n 60 "$log"
        fi
    done
    exit 1
}
