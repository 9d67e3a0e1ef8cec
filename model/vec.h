/*-------------------------------------------------------------------------
 * vec.h
 *    The two vector operations of item rows (dim floats, 64 by default):
 *    y += a x and a . b, inline.
 *
 * Rows are short, and a call of cblas_saxpy or cblas_sdot on 64 floats
 * costs about as much as its arithmetic (the checks, the dispatch to the
 * CPU's kernel, an unaligned head and tail): the learner makes a few
 * hundred of them per event, a recommendation one per candidate. The
 * compiler vectorises both loops below at -O2 (fixed blocks of 8).
 *
 * mz_vec_axpy rounds every element once after the product and once after
 * the sum, as OpenBLAS's SSE kernels do, and returns at once when a is 0,
 * as cblas_saxpy does, so it writes the bits they write on a CPU without
 * FMA kernels (learn_bench's state_fnv). mz_vec_dot sums
 * in 8 partial sums, added pairwise at the end; its rounding is its own,
 * the same on every CPU (OpenBLAS's order depends on the kernel it
 * picks). The learner's row arithmetic is these two only, so the same
 * log learns the same state on every x86-64 CPU
 * (tests/model/check_blas_kernels.sh).
 *
 * Interface routines:
 *    mz_vec_axpy - y[0..n-1] += a * x[0..n-1]
 *    mz_vec_dot  - sum of a[k] * b[k] over k < n
 *-------------------------------------------------------------------------
 */
#ifndef MZ_VEC_H
#define MZ_VEC_H

/* y[k] += a * x[k] for k < n. x and y (borrowed) must not overlap.
 * a == 0 leaves y as it is, as cblas_saxpy does (a -0.0 in y stays, and
 * an infinite x adds no NaN). */
static inline void mz_vec_axpy(int n, float a, const float *restrict x,
                               float *restrict y)
{
    int k = 0;

    if (a == 0.0f)
        return;
    for (; k + 8 <= n; k += 8)
        for (int i = 0; i < 8; i++)
            y[k + i] += a * x[k + i];
    for (; k < n; k++)
        y[k] += a * x[k];
}

/* a . b over n floats (borrowed), in 8 partial sums the compiler keeps
 * in vector registers. */
static inline float mz_vec_dot(const float *a, const float *b, int n)
{
    float part[8] = {0};
    int k = 0;

    for (; k + 8 <= n; k += 8)
        for (int i = 0; i < 8; i++)
            part[i] += a[k + i] * b[k + i];
    float sum = ((part[0] + part[4]) + (part[1] + part[5])) +
                ((part[2] + part[6]) + (part[3] + part[7]));
    for (; k < n; k++)
        sum += a[k] * b[k];
    return sum;
}

#endif /* MZ_VEC_H */
