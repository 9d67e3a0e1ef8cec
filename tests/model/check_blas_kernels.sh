#!/bin/sh
# check_blas_kernels.sh: the learned state must not depend on the kernels
# OpenBLAS picks for the CPU. learn_bench learns the same stream twice,
# once with OpenBLAS's SSE3 kernels (Prescott) and once with its AVX2/FMA
# ones (Haswell), and both must print the same state_fnv. Until 2026-12-04
# the learner's dot products went through cblas_sdot, whose summation
# order is the kernel's: the same log learned on two CPUs gave two states
# (docs/durability.md, item 20). Skips (77) where the CPU cannot run the
# Haswell kernels or OpenBLAS ignores OPENBLAS_CORETYPE (a build without
# DYNAMIC_ARCH), since the two runs would then use the same kernels.
set -eu

bench="${MZ_LEARN_BENCH:-./tests/bench/learn_bench}"

grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo || {
	echo "this CPU has no AVX2/FMA for OpenBLAS's Haswell kernels: skipped"
	exit 77
}

# learn CORE: learn_bench's line with OpenBLAS forced to CORE.
learn() {
	OPENBLAS_CORETYPE=$1 "$bench" --items 5000 --clients 1000 --events 40000
}
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

sse=$(learn Prescott)
avx=$(learn Haswell)
echo "$sse"
echo "$avx"
core_sse=$(field "$sse" blas_core)
core_avx=$(field "$avx" blas_core)
if [ "$core_sse" = "$core_avx" ]; then
	echo "OpenBLAS used $core_sse both times (OPENBLAS_CORETYPE ignored): skipped"
	exit 77
fi
fnv_sse=$(field "$sse" state_fnv)
fnv_avx=$(field "$avx" state_fnv)
[ -n "$fnv_sse" ] || { echo "no state_fnv in learn_bench's line"; exit 1; }
if [ "$fnv_sse" != "$fnv_avx" ]; then
	echo "FAIL: $core_sse learned state $fnv_sse, $core_avx learned $fnv_avx"
	exit 1
fi
echo "the same state ($fnv_sse) with OpenBLAS's $core_sse and $core_avx kernels"
