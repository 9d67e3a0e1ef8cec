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
 * (client, item, ts[, type]: the evaluator's format, types read as
 * maison-eval reads the usual ones) instead.
 *
 * The fingerprint is FNV-1a 64 of mz_model_save's bytes and then of every
 * client's mz_client_save bytes in client order: two builds that print
 * the same fingerprint learned bit for bit the same state, which is how
 * a change meant to make learning faster shows it changed nothing else.
 *
 * Prints one line:
 *    learn_bench: stream=.. items=.. clients=.. events=.. cpu_s=..
 *    events_per_s=.. us_per_event=.. state_fnv=..
 * where cpu_s is the CPU time of the learning loop alone (the thread's
 * clock) and the rates are per second of it.
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "model/hash.h"
#include "model/model.h"

struct stream {
    int32_t *client;
    int32_t *item;
    int64_t *ts;
    enum mz_event_type *type;
    size_t n;
    int32_t n_items;
    int32_t n_clients;
};

static void stream_free(struct stream *s)
{
    free(s->client);
    free(s->item);
    free(s->ts);
    free(s->type);
}

static bool stream_alloc(struct stream *s, size_t n)
{
    s->client = malloc(n * sizeof *s->client);
    s->item = malloc(n * sizeof *s->item);
    s->ts = malloc(n * sizeof *s->ts);
    s->type = malloc(n * sizeof *s->type);
    return s->client && s->item && s->ts && s->type;
}

/* The stream events.lua posts, from a fixed seed. */
static bool synthetic_stream(struct stream *s, int32_t n_items,
                             int32_t n_clients, size_t n_events)
{
    static const enum mz_event_type mix[] = {
        MZ_EV_VIEW,  MZ_EV_VIEW,  MZ_EV_VIEW,        MZ_EV_VIEW,
        MZ_EV_CLICK, MZ_EV_CLICK, MZ_EV_ADD_TO_CART, MZ_EV_WISHLIST};
    uint64_t state = 42;

    if (!stream_alloc(s, n_events))
        return false;
    for (size_t i = 0; i < n_events; i++) {
        uint64_t r = mz_hash_bytes(&state, sizeof state);
        state++;
        s->client[i] = (int32_t)(r % (uint64_t)n_clients);
        s->item[i] = (int32_t)((r >> 20) % (uint64_t)n_items);
        s->type[i] = mix[(r >> 40) % 8];
        s->ts[i] = 1790000000 + (int64_t)(i / 25000);
    }
    s->n = n_events;
    s->n_items = n_items;
    s->n_clients = n_clients;
    return true;
}

static enum mz_event_type type_of(const char *name)
{
    enum mz_event_type type;

    if (mz_event_type_parse(name, &type))
        return type;
    if (!strcasecmp(name, "addtocart") || !strcasecmp(name, "cart"))
        return MZ_EV_ADD_TO_CART;
    if (!strcasecmp(name, "transaction") || !strcasecmp(name, "buy"))
        return MZ_EV_PURCHASE;
    return MZ_EV_VIEW;
}

/* Returns key's dense index in table, adding it as *count when new; -1
 * when out of memory. */
static int32_t intern(struct mz_hash_table *table, const char *key,
                      int32_t *count)
{
    int32_t at = mz_hash_table_get_index(table, key);

    if (at >= 0)
        return at;
    if (!mz_hash_table_put(table, key, (union mz_hash_value){.index = *count}))
        return -1;
    return (*count)++;
}

/* Reads dir/train.tsv; false (with a message) on a bad file. */
static bool file_stream(struct stream *s, const char *dir)
{
    char path[4096];
    char line[4096];
    size_t cap = 1 << 20;
    struct mz_hash_table *clients = mz_hash_table_new();
    struct mz_hash_table *items = mz_hash_table_new();
    FILE *f = NULL;
    bool ok = false;

    snprintf(path, sizeof path, "%s/train.tsv", dir);
    if (!clients || !items || !stream_alloc(s, cap))
        goto cleanup;
    f = fopen(path, "r");
    if (!f) {
        perror(path);
        goto cleanup;
    }
    while (fgets(line, sizeof line, f)) {
        char *save = NULL;
        char *client = strtok_r(line, "\t\n", &save);
        char *item = strtok_r(NULL, "\t\n", &save);
        char *ts = strtok_r(NULL, "\t\n", &save);
        char *type = strtok_r(NULL, "\t\n", &save);
        if (!client || !item || !ts)
            continue;
        if (s->n == cap) {
            struct stream bigger = {0};
            if (!stream_alloc(&bigger, cap * 2)) {
                stream_free(&bigger);
                goto cleanup;
            }
            memcpy(bigger.client, s->client, cap * sizeof *s->client);
            memcpy(bigger.item, s->item, cap * sizeof *s->item);
            memcpy(bigger.ts, s->ts, cap * sizeof *s->ts);
            memcpy(bigger.type, s->type, cap * sizeof *s->type);
            stream_free(s);
            bigger.n = s->n;
            bigger.n_items = s->n_items;
            bigger.n_clients = s->n_clients;
            *s = bigger;
            cap *= 2;
        }
        s->client[s->n] = intern(clients, client, &s->n_clients);
        s->item[s->n] = intern(items, item, &s->n_items);
        if (s->client[s->n] < 0 || s->item[s->n] < 0)
            goto cleanup;
        s->ts[s->n] = strtoll(ts, NULL, 10);
        s->type[s->n] = type ? type_of(type) : MZ_EV_VIEW;
        s->n++;
    }
    ok = true;
cleanup:
    if (f)
        fclose(f);
    mz_hash_table_free(items);
    mz_hash_table_free(clients);
    return ok;
}

/* The learner's CPU time, not the wall clock: on a shared machine the
 * wall clock also counts the time other processes held the core. */
static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* FNV-1a 64 continued over bytes from hash h. */
static uint64_t fnv_more(uint64_t h, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;

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
    if (data ? !file_stream(&s, data)
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
        struct mz_event_obs ev = {
            .item = s.item[i], .type = s.type[i], .ts = s.ts[i], .quantity = 1};
        mz_model_observe(model, clients[s.client[i]], &ev, true);
    }
    double seconds = cpu_s() - start;

    size_t len = 0;
    void *bytes = mz_model_save(model, (const char *const *)ids, &len);
    if (!bytes)
        goto cleanup;
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
           "state_fnv=%016llx\n",
           data ? data : "uniform", (int)s.n_items, (int)s.n_clients, s.n,
           seconds, (double)s.n / seconds, seconds * 1e6 / (double)s.n,
           (unsigned long long)h);
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
