#!/bin/sh
#-------------------------------------------------------------------------
# run_fuzz.sh SRCDIR BUILDDIR TARGET...
#    `make fuzz`: builds every fuzz target with clang, libFuzzer, ASan and
#    UBSan against the project's sources (compiled again here, not the
#    gcc-built libraries) and runs each for FUZZ_S seconds on its corpus.
#
# Environment (the make rule sets it): CC, FUZZ_S, FUZZ_CPPFLAGS,
# FUZZ_LDLIBS, FUZZ_SOURCES (the .c files of the libraries, relative to
# SRCDIR or, when generated, to the build directory).
#
# New inputs go to BUILDDIR/scratch/TARGET, not into the checked-in
# corpus; a crash is saved as BUILDDIR/crashes/TARGET/crash-<sha1> (copy
# it into tests/fuzz/corpus/TARGET/ to keep it). Exits 1 when a target
# crashed or failed to build.
#-------------------------------------------------------------------------
set -u
srcdir=$1
build=$2
shift 2
: "${CC:=clang}" "${FUZZ_S:=30}"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
cflags="-std=c11 -pthread $san $FUZZ_CPPFLAGS"

mkdir -p "$build/obj" || exit 1
objs=""
for src in $FUZZ_SOURCES; do
    path=$srcdir/$src
    [ -f "$path" ] || path=$src
    obj=$build/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')
    if [ ! -f "$obj" ] || [ "$path" -nt "$obj" ]; then
        $CC $cflags -fsanitize=fuzzer-no-link -c "$path" -o "$obj" || exit 1
    fi
    objs="$objs $obj"
done
rm -f "$build/libmzfuzz.a"
ar cr "$build/libmzfuzz.a" $objs || exit 1

status=0
summary=""
for t in "$@"; do
    bin=$build/fuzz_$t
    $CC $cflags -fsanitize=fuzzer "$srcdir/tests/fuzz/fuzz_$t.c" \
        "$build/libmzfuzz.a" $FUZZ_LDLIBS -o "$bin" || { status=1; continue; }
    mkdir -p "$build/scratch/$t" "$build/crashes/$t"
    log=$build/fuzz_$t.log
    echo "fuzz_$t: $FUZZ_S s"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$FUZZ_S" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/crashes/$t/" \
        "$build/scratch/$t" "$srcdir/tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -ne 0 ]; then
        status=1
        summary="$summary
fuzz_$t: CRASHED (exit $rc) after ${execs:-?} execs; see $log and $build/crashes/$t/"
    else
        summary="$summary
fuzz_$t: ${execs:-?} execs, no crash"
    fi
done
echo "$summary"
exit $status
