/*-------------------------------------------------------------------------
 * learn_bench.c
 *    The learner's cost alone: mz_model_observe over a stream of events,
 *    timed, and a fingerprint of the state it learned.
 *
 * Two streams. The default is the ingestion bench's (events.lua): items
 * and clients drawn uniformly (50,000 and 10,000), the same mix of event
 * types, about 25,000 events per second of event time, so every event
 * lands on rows and successor tables nothing else has just touched, as
 * on maisond's learner thread. With --data DIR it replays DIR/train.tsv
 * instead, read by the evaluator's own reader (tests/eval/data.c: its
 * items are those of items.tsv, train and test, in that order).
 *
 * The fingerprint is FNV-1a 64 of mz_model_save's bytes and then of every
 * client's mz_client_save bytes in client order, each without its
 * trailing checksum (which depends only on the bytes before it, and whose
 * algorithm changed once): two builds that print the same fingerprint
 * learned bit for bit the same state, which is how a change meant to
 * make learning faster shows it changed nothing else.
 *
 * Prints one line:
 *    learn_bench: stream=.. items=.. clients=.. events=.. cpu_s=..
 *    events_per_s=.. us_per_event=.. snapshot_mb=.. save_ms=.. load_ms=..
 *    state_fnv=.. blas_core=..
 * where cpu_s is the CPU time of the learning loop alone (the thread's
 * clock) and the rates are per second of it; save_ms and load_ms are the
 * CPU time of mz_model_save of the learned level (snapshot_mb of bytes)
 * and of mz_model_load of those bytes back into it; blas_core is the
 * kernel set OpenBLAS picked (OPENBLAS_CORETYPE chooses another), which
 * must not change state_fnv (tests/model/check_blas_kernels.sh).
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/hash.h"
#include "tests/eval/eval.h"
#include "model/model.h"

/* The events to learn, in order: the evaluator's event (its reader
 * gives the --data stream). */
struct stream {
    struct mz_eval_event *events; /* owned, or data->train */
    size_t n;
    int32_t n_items;
    int32_t n_clients;
    struct mz_eval_data *data; /* owned; NULL: the synthetic stream */
};

static void stream_free(struct stream *s)
{
    if (s->data)
        mz_eval_data_free(s->data);
    else
        free(s->events);
}

/* The stream events.lua posts, from a fixed seed. */
static bool synthetic_stream(struct stream *s, int32_t n_items,
                             int32_t n_clients, size_t n_events)
{
    static const enum mz_event_type mix[] = {
        MZ_EV_VIEW,  MZ_EV_VIEW,  MZ_EV_VIEW,        MZ_EV_VIEW,
        MZ_EV_CLICK, MZ_EV_CLICK, MZ_EV_ADD_TO_CART, MZ_EV_WISHLIST};
    uint64_t state = 42;

    s->events = malloc(n_events * sizeof *s->events);
    if (!s->events)
        return false;
    for (size_t i = 0; i < n_events; i++) {
        uint64_t r = mz_hash_bytes(&state, sizeof state);
        state++;
        s->events[i] = (struct mz_eval_event){
            .client = (int32_t)(r % (uint64_t)n_clients),
            .item = (int32_t)((r >> 20) % (uint64_t)n_items),
            .type = mix[(r >> 40) % 8],
            .ts = 1790000000 + (int64_t)(i / 25000)};
    }
    s->n = n_events;
    s->n_items = n_items;
    s->n_clients = n_clients;
    return true;
}

/* dir's train.tsv, read as maison-eval reads it (tests/eval/data.c);
 * false with the reason in err. */
static bool file_stream(struct stream *s, const char *dir, char *err,
                        size_t err_len)
{
    s->data = mz_eval_data_load(dir, err, err_len);
    if (!s->data)
        return false;
    s->events = s->data->train;
    s->n = s->data->n_train;
    s->n_items = mz_intern_count(s->data->items);
    s->n_clients = mz_intern_count(s->data->clients);
    return true;
}

/* The learner's CPU time, not the wall clock: on a shared machine the
 * wall clock also counts the time other processes held the core. */
static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Bytes of the checksum that ends a saved record (model/bytes.c). */
#define RECORD_CHECKSUM_BYTES 8

/* FNV-1a 64 continued from hash h over a saved record's fields, its
 * trailing checksum left out. */
static uint64_t fnv_more(uint64_t h, const void *record, size_t len)
{
    const unsigned char *p = record;

    len = len > RECORD_CHECKSUM_BYTES ? len - RECORD_CHECKSUM_BYTES : 0;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

int main(int argc, char **argv)
{
    const char *data = NULL;
    long n_items = 50000, n_clients = 10000, n_events = 1000000;
    struct stream s = {0};
    struct mz_model_config cfg;
    struct mz_model *model = NULL;
    struct mz_client **clients = NULL;
    char **ids = NULL;
    char err[256] = "out of memory";
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--items") && i + 1 < argc)
            n_items = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
            n_clients = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--events") && i + 1 < argc)
            n_events = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: %s [--data DIR | --items N --clients N "
                    "--events N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n_items < 1 || n_clients < 1 || n_events < 1) {
        fprintf(stderr, "learn_bench: counts must be positive\n");
        return 2;
    }
    if (data ? !file_stream(&s, data, err, sizeof err)
             : !synthetic_stream(&s, (int32_t)n_items, (int32_t)n_clients,
                                 (size_t)n_events))
        goto cleanup;

    mz_model_config_defaults(&cfg);
    model = mz_model_new(&cfg, err, sizeof err);
    clients = calloc((size_t)s.n_clients, sizeof *clients);
    ids = calloc((size_t)s.n_items, sizeof *ids);
    if (!model || !clients || !ids)
        goto cleanup;
    for (int32_t i = 0; i < s.n_items; i++) {
        char token[32];
        const char *tokens[] = {token};
        /* A few items per category, as a catalog has. */
        snprintf(token, sizeof token, "category=%d", (int)(i % 10));
        ids[i] = malloc(16);
        if (!ids[i] || mz_model_add_item(model, tokens, 1) != i)
            goto cleanup;
        snprintf(ids[i], 16, "i%d", (int)i);
    }
    for (int32_t c = 0; c < s.n_clients; c++)
        if (!(clients[c] = mz_client_new(model)))
            goto cleanup;

    double start = cpu_s();
    for (size_t i = 0; i < s.n; i++) {
        const struct mz_eval_event *e = &s.events[i];
        struct mz_event_obs ev = {
            .item = e->item, .type = e->type, .ts = e->ts, .quantity = 1};
        mz_model_observe(model, clients[e->client], &ev, true);
    }
    double seconds = cpu_s() - start;

    size_t len = 0;
    double save_start = cpu_s();
    void *bytes = mz_model_save(model, (const char *const *)ids, &len);
    double save_s = cpu_s() - save_start;
    if (!bytes)
        goto cleanup;
    /* The model loads its own snapshot: what a start does with one. */
    double load_start = cpu_s();
    if (mz_model_load(model, (const char *const *)ids, bytes, len, err,
                      sizeof err) != MZ_OK) {
        free(bytes);
        goto cleanup;
    }
    double load_s = cpu_s() - load_start;
    size_t snapshot_len = len;
    uint64_t h = fnv_more(0xcbf29ce484222325ULL, bytes, len);
    free(bytes);
    for (int32_t c = 0; c < s.n_clients; c++) {
        bytes = mz_client_save(clients[c], &len);
        if (!bytes)
            goto cleanup;
        h = fnv_more(h, bytes, len);
        free(bytes);
    }
    printf("learn_bench: stream=%s items=%d clients=%d events=%zu "
           "cpu_s=%.3f events_per_s=%.0f us_per_event=%.3f "
           "snapshot_mb=%.1f save_ms=%.1f load_ms=%.1f state_fnv=%016llx "
           "blas_core=%s\n",
           data ? data : "uniform", (int)s.n_items, (int)s.n_clients, s.n,
           seconds, (double)s.n / seconds, seconds * 1e6 / (double)s.n,
           (double)snapshot_len / 1e6, save_s * 1e3, load_s * 1e3,
           (unsigned long long)h, openblas_get_corename());
    rc = 0;
cleanup:
    if (rc)
        fprintf(stderr, "learn_bench: %s\n", err);
    for (int32_t c = 0; clients && c < s.n_clients; c++)
        mz_client_free(clients[c]);
    for (int32_t i = 0; ids && i < s.n_items; i++)
        free(ids[i]);
    free(ids);
    free(clients);
    mz_model_free(model);
    stream_free(&s);
    return rc;
}
