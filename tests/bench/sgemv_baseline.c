/*-------------------------------------------------------------------------
 * sgemv_baseline.c
 *    The full-scan baseline of the recommendation benchmarks: the time of
 *    one cblas_sgemv over an item-embedding matrix of the catalog's shape.
 *
 * A recommendation that scores the whole catalog does at least this
 * product (model/score.c: scores = w * O q + scores, O row-major
 * n_items x dim), so cores / t_sgemv bounds the request rate of a
 * full-scan design; bench.py prints that limit next to maisond's rate.
 *
 *    sgemv_baseline [-n ITEMS] [-d DIM] [-r REPS] [-c COLD_REPS]
 *
 * Defaults: 50,000 items, dim 64 (maisond's default model, see
 * model/model_config.c), 1,000 timed repetitions after 20 untimed ones,
 * then 100 cold ones. Single-threaded, as maisond runs it:
 * openblas_set_num_threads(1) (the same call as server/main.c), whatever
 * OPENBLAS_NUM_THREADS says.
 *
 * Two conditions. Hot: the matrix and the vector are filled once and
 * reused back to back, so the matrix stays in the last-level cache when
 * it fits (50,000 x 64 floats is 12 MiB; this machine's L3 is 32 MiB):
 * the fastest a full scan can be, the strict baseline. Cold: before each
 * repetition 64 MiB of other memory is written, so the matrix comes from
 * DRAM, as when a request's other work has evicted it.
 * Prints two human lines and one machine line:
 *    sgemv_baseline: items=N dim=D threads=1 reps=R best_us=..
 *                    median_us=.. mean_us=.. cold_reps=R
 *                    cold_median_us=..
 * (cold_median_us=0 with -c 0). Exit status 0, 1 when out of memory, 2 on
 * a usage error. Bounded: at most 10,000,000 items, dim 4,096, 100,000
 * repetitions and a 2 GiB matrix.
 *
 * Interface: the command line above (no library routines).
 *-------------------------------------------------------------------------
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS        10000000L
#define MAX_DIM          4096L
#define MAX_REPS         100000L
#define MAX_MATRIX_BYTES (2L * 1024 * 1024 * 1024)
#define WARMUP_REPS      20
#define EVICT_BYTES      (64L * 1024 * 1024)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* parse_long: *out = the decimal integer text in [lo, hi]; returns 0, or
 * -1 (and *out unchanged) when text is not one. */
static int parse_long(const char *text, long lo, long hi, long *out)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct scan {
    const float *matrix; /* items x dim, row-major; borrowed */
    const float *query;  /* dim; borrowed */
    float *scores;       /* items; borrowed, overwritten */
    long items;
    long dim;
};

/* time_sgemv: runs reps timed products (after warmup untimed ones), each
 * after writing evict_bytes of evict (NULL: none); stores the times in
 * seconds, sorted, in times_s (reps entries) and returns their mean. */
static double time_sgemv(const struct scan *s, long warmup, long reps,
                         unsigned char *evict, size_t evict_bytes,
                         double *times_s)
{
    double total_s = 0.0;
    for (long r = -warmup; r < reps; r++) {
        if (evict)
            memset(evict, (int)(r & 0xff), evict_bytes);
        /* The server adds the dense term into scores that already hold
         * the other terms (beta 1), so the output is read and written. */
        memset(s->scores, 0, (size_t)s->items * sizeof(float));
        double t0 = now_s();
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)s->items, (int)s->dim,
                    0.5f, s->matrix, (int)s->dim, s->query, 1, 1.0f, s->scores,
                    1);
        double dt = now_s() - t0;
        if (r >= 0) {
            times_s[r] = dt;
            total_s += dt;
        }
    }
    qsort(times_s, (size_t)reps, sizeof(double), compare_double);
    return total_s / (double)reps;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: sgemv_baseline [-n ITEMS] [-d DIM] [-r REPS] [-c COLD_REPS]\n"
        "  times one single-threaded cblas_sgemv over an ITEMS x DIM\n"
        "  row-major float matrix (default 50000 x 64, 1000 reps hot,\n"
        "  100 cold after evicting the caches; -c 0: no cold reps)\n");
}

int main(int argc, char **argv)
{
    long items = 50000, dim = 64, reps = 1000, cold_reps = 100;
    int opt;
    while ((opt = getopt(argc, argv, "n:d:r:c:h")) != -1) {
        int bad = 0;
        switch (opt) {
        case 'n':
            bad = parse_long(optarg, 1, MAX_ITEMS, &items);
            break;
        case 'd':
            bad = parse_long(optarg, 1, MAX_DIM, &dim);
            break;
        case 'r':
            bad = parse_long(optarg, 1, MAX_REPS, &reps);
            break;
        case 'c':
            bad = parse_long(optarg, 0, MAX_REPS, &cold_reps);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            bad = -1;
        }
        if (bad) {
            usage(stderr);
            return 2;
        }
    }
    size_t matrix_bytes = (size_t)items * (size_t)dim * sizeof(float);
    if (optind != argc || matrix_bytes > MAX_MATRIX_BYTES) {
        usage(stderr);
        return 2;
    }

    openblas_set_num_threads(1);
    int status = 1;
    long max_reps = reps > cold_reps ? reps : cold_reps;
    float *matrix = malloc(matrix_bytes);
    float *query = malloc((size_t)dim * sizeof(float));
    float *scores = malloc((size_t)items * sizeof(float));
    double *times_s = malloc((size_t)max_reps * sizeof(double));
    unsigned char *evict = cold_reps > 0 ? malloc(EVICT_BYTES) : NULL;
    if (!matrix || !query || !scores || !times_s || (cold_reps > 0 && !evict)) {
        fprintf(stderr, "sgemv_baseline: out of memory\n");
        goto cleanup;
    }
    /* Small values of both signs, like trained embeddings; a fixed LCG so
     * every run multiplies the same numbers. */
    uint32_t x = 12345;
    for (size_t i = 0; i < (size_t)items * (size_t)dim; i++) {
        x = x * 1664525u + 1013904223u;
        matrix[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 0.2f;
    }
    for (long k = 0; k < dim; k++)
        query[k] = 0.1f * (float)((k % 7) - 3);
    struct scan s = {matrix, query, scores, items, dim};

    double mean_us = time_sgemv(&s, WARMUP_REPS, reps, NULL, 0, times_s) * 1e6;
    double best_us = times_s[0] * 1e6;
    double median_us = times_s[reps / 2] * 1e6;
    double cold_median_us = 0.0;
    if (cold_reps > 0) {
        time_sgemv(&s, 1, cold_reps, evict, EVICT_BYTES, times_s);
        cold_median_us = times_s[cold_reps / 2] * 1e6;
    }
    /* Keeps the products live whatever the optimiser sees. */
    volatile float sink = scores[items / 2];
    (void)sink;

    printf("one sgemv over %ld x %ld floats (%.1f MiB), 1 thread, hot, %ld "
           "reps: best %.1f us, median %.1f us, mean %.1f us\n",
           items, dim, (double)matrix_bytes / (1024.0 * 1024.0), reps, best_us,
           median_us, mean_us);
    if (cold_reps > 0)
        printf("cold (64 MiB written before each), %ld reps: median %.1f us\n",
               cold_reps, cold_median_us);
    printf("sgemv_baseline: items=%ld dim=%ld threads=1 reps=%ld best_us=%.2f "
           "median_us=%.2f mean_us=%.2f cold_reps=%ld cold_median_us=%.2f\n",
           items, dim, reps, best_us, median_us, mean_us, cold_reps,
           cold_median_us);
    status = 0;

cleanup:
    free(evict);
    free(times_s);
    free(scores);
    free(query);
    free(matrix);
    return status;
}
