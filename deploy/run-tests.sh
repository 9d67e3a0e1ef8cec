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
    # The log of each test that failed (automake's .trs beside it says
    # ":test-result: FAIL" or ERROR), so a CI run shows why.
    for trs in $(find tests -name '*.trs' 2>/dev/null); do
        if grep -q '^:test-result: \(FAIL\|ERROR\)' "$trs"; then
            echo "===== ${trs%.trs}.log"; tail -n 60 "${trs%.trs}.log"
        fi
    done
    exit 1
}
