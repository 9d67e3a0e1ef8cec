#!/bin/sh
#-------------------------------------------------------------------------
# import_bench.sh [MAISOND]
#    Runs tests/bench/import_bench.py against a throw-away PostgreSQL
#    cluster (tests/harness/with_pg.sh): the rate of `maisond import
#    --events` and of POST /v1/events:import next to the live path's
#    (wrk, POST /v1/events in batches of 100), in the same run. `make
#    bench` runs it after run_bench.sh.
#
# Environment: MAISOND (default ./maisond); BENCH_IMPORT_EVENTS (200000),
# BENCH_ITEMS, BENCH_CLIENTS, BENCH_EVENTS_S, BENCH_THREADS as for
# run_bench.sh (README.md).
#-------------------------------------------------------------------------
set -u
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
MAISOND=${1:-${MAISOND:-./maisond}}
MAISOND=$(cd "$(dirname "$MAISOND")" && pwd)/$(basename "$MAISOND")
PYTHONPATH=$srcdir/tests/integration:$srcdir/tests/bench
PYTHONDONTWRITEBYTECODE=1
export MAISOND PYTHONPATH PYTHONDONTWRITEBYTECODE

for tool in wrk curl python3; do
    command -v "$tool" >/dev/null 2>&1 ||
        echo "import_bench.sh: warning: $tool not found" >&2
done
exec "$srcdir/tests/harness/with_pg.sh" python3 "$srcdir/tests/bench/import_bench.py"
