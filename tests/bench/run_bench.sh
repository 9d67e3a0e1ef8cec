#!/bin/sh
#-------------------------------------------------------------------------
# run_bench.sh [MAISOND]
#    Runs tests/bench/bench.py against a throw-away PostgreSQL cluster
#    (tests/harness/with_pg.sh): maisond on 127.0.0.1, wrk, loadgen,
#    pgbench, nginx and sgemv baselines; prints a summary table and writes
#    bench.json in the current directory. `make bench` calls it with the
#    build dir's maisond and loadgen.
#
# Environment: MAISOND (default ./maisond), LOADGEN (default
# tests/bench/loadgen next to MAISOND), SGEMV_BASELINE (default
# sgemv_baseline next to LOADGEN); BENCH_* knobs, see README.md.
#-------------------------------------------------------------------------
set -u
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
case "${1:-}" in -h|--help) MAISOND=./maisond ;; *) MAISOND=${1:-${MAISOND:-./maisond}} ;; esac
MAISOND=$(cd "$(dirname "$MAISOND")" && pwd)/$(basename "$MAISOND")
LOADGEN=${LOADGEN:-$(dirname "$MAISOND")/tests/bench/loadgen}
SGEMV_BASELINE=${SGEMV_BASELINE:-$(dirname "$LOADGEN")/sgemv_baseline}
PYTHONPATH=$srcdir/tests/integration
PYTHONDONTWRITEBYTECODE=1
export MAISOND LOADGEN SGEMV_BASELINE PYTHONPATH PYTHONDONTWRITEBYTECODE
case "${1:-}" in
-h|--help) exec python3 "$srcdir/tests/bench/bench.py" --help ;;
esac

for tool in wrk pgbench nginx python3; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ] &&
       [ ! -x "/usr/lib/postgresql/15/bin/$tool" ]; then
        echo "run_bench.sh: warning: $tool not found (the parts that use it" \
             "fail; sh deploy/install-deps.sh --bench installs it)" >&2
    fi
done
exec "$srcdir/tests/harness/with_pg.sh" python3 "$srcdir/tests/bench/bench.py"
